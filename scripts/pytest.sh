#!/usr/bin/env bash
# Every test: most on two processes (pytest-xdist; PYTEST_WORKERS to change), each
# file's tests in one of them so a module's servers start once; then, in one process,
# the tests marked one_process (schemathesis gives an operation's tests one node id,
# which xdist would run once). Each xdist worker has its own test database and Redis
# database (pytest-django; config/settings/test.py). Extra arguments go to both runs.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

.venv/bin/pytest -n "${PYTEST_WORKERS:-2}" --dist loadfile -m "not one_process" "$@"
spread=$?
.venv/bin/pytest -m one_process "$@"
alone=$?
[ "$alone" -eq 5 ] && alone=0  # 5: the arguments selected no such test
[ "$spread" -eq 5 ] && [ "$alone" -eq 0 ] && spread=0
if [ "$spread" -ne 0 ]; then exit "$spread"; fi
exit "$alone"
