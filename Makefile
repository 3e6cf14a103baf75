# The two commands the README starts with. Both work on a fresh machine.
.PHONY: run test lint vendor bench setup test-fast fuzz soak image-smoke

setup:
	@bash scripts/bootstrap.sh

## make run: set up and run Intake on embedded defaults (S3 emulator, SQLite, filesystem broker)
run: setup
	@.venv/bin/python scripts/run.py

## make test: set up and run all tests (unit, integration, browser, strict S3) and the linters
test: setup
	@bash scripts/test.sh

lint: setup
	@.venv/bin/ruff check .
	@.venv/bin/ruff format --check .
	@.venv/bin/mypy .

## vendor: re-fetch the pinned third-party browser code into static/vendor/
vendor:
	@bash scripts/vendor.sh

bench: setup
	@.venv/bin/python bench/run_all.py

## fuzz: coverage-guided fuzzing of the parsers that face the outside world (not in CI; FUZZ_SECONDS per target, default 60)
fuzz: setup
	@.venv/bin/python -m tests.fuzz.run

## soak: make run's Intake under load and chaos for SOAK_MINUTES (default 10), then checks (not in CI)
soak: setup
	@.venv/bin/python bench/soak.py --minutes $(or $(SOAK_MINUTES),10)

## image-smoke: build the container image and run the production process test inside it (podman; installs what it needs)
image-smoke: setup
	@bash scripts/image_smoke.sh
