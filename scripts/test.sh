#!/usr/bin/env bash
# `make test`: install what the tests need, lint, then run every test layer
# (unit, integration over HTTP, browser). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/ensure_system_packages.sh

echo "==> ruff"
.venv/bin/ruff check .
echo "==> mypy"
.venv/bin/mypy .
echo "==> hadolint (Dockerfile)"
.venv/bin/hadolint "$PWD/Dockerfile"
echo "==> import contracts (docs/architecture.md)"
.venv/bin/lint-imports --no-cache
echo "==> cfn-lint (deploy/intake.yaml)"
.venv/bin/cfn-lint deploy/intake.yaml
echo "==> checkov (the template, offline; its own virtualenv)"
bash scripts/checkov.sh
echo "==> pytest on ${DATABASE_URL:-SQLite (embedded default)}${REDIS_URL:+ with Redis at $REDIS_URL}"
# Two processes (PYTEST_WORKERS to change; 0 runs in this one), each file's tests in one
# of them so a module's servers start once; each worker has its own database and Redis
# database (pytest-django, config/settings/test.py).
exec .venv/bin/pytest -n "${PYTEST_WORKERS:-2}" --dist loadfile "$@"
