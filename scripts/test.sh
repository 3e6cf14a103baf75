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
exec bash scripts/pytest.sh "$@"
