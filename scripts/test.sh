#!/usr/bin/env bash
# `make test`: install what the tests need, lint, then run every test layer
# (unit, integration over HTTP, browser). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The Debian packages and the linters do not depend on each other: they run at once
# (the installs wait on the network, the linters on one core each), each into its own
# log, printed in this order when all are done. pytest starts only if every one passed.
checks=(packages ruff mypy hadolint import-contracts cfn-lint checkov)
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
start() {
  local name=$1
  shift
  ( "$@" > "$logs/$name" 2>&1; echo $? > "$logs/$name.rc" ) &
}
echo "==> installing what is missing and linting, at once: ${checks[*]}"
start packages bash scripts/ensure_system_packages.sh
start ruff .venv/bin/ruff check .
start mypy .venv/bin/mypy .
start hadolint .venv/bin/hadolint "$PWD/Dockerfile"
start import-contracts .venv/bin/lint-imports --no-cache  # docs/architecture.md
start cfn-lint .venv/bin/cfn-lint deploy/intake.yaml
start checkov bash scripts/checkov.sh  # the template, offline; its own virtualenv
wait
failed=()
for name in "${checks[@]}"; do
  rc=$(cat "$logs/$name.rc")
  echo "==> $name (exit $rc)"
  cat "$logs/$name"
  [ "$rc" -eq 0 ] || failed+=("$name")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "make test: failed before pytest: ${failed[*]}" >&2
  exit 1
fi
echo "==> pytest on ${DATABASE_URL:-SQLite (embedded default)}${REDIS_URL:+ with Redis at $REDIS_URL}"
exec bash scripts/pytest.sh "$@"
