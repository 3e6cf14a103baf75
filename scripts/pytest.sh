#!/usr/bin/env bash
# Every test, in two pytest runs at once:
# - most tests on PYTEST_WORKERS processes (pytest-xdist, default 3; 0 runs them in
#   this process), each file's tests in one of them so a module's servers start once;
# - beside them, in one process, the tests marked one_process (schemathesis gives an
#   operation's tests one node id, which xdist would run once).
# Each xdist worker has its own test database and Redis database (pytest-django;
# config/settings/test.py); the one-process run has its own test database (no worker
# suffix) and the Redis database after the workers' (INTAKE_TEST_REDIS_SLOT). Its
# output is printed when both are done. Extra arguments go to both runs.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

workers="${PYTEST_WORKERS:-3}"
alone_log=$(mktemp)
trap 'rm -f "$alone_log"' EXIT
# Both runs in the background, so that an interrupt reaches this script at once (bash
# waits for a foreground command before it runs a trap) and stops both: SIGTERM unwinds
# their fixtures (tests/conftest.py), which stop the servers they started.
INTAKE_TEST_REDIS_SLOT=$(( workers > 0 ? workers : 1 )) .venv/bin/pytest -m one_process "$@" > "$alone_log" 2>&1 &
alone_pid=$!
.venv/bin/pytest -n "$workers" --dist loadfile -m "not one_process" "$@" &
spread_pid=$!
trap 'kill -TERM "$spread_pid" "$alone_pid" 2>/dev/null; wait; exit 130' INT TERM
wait "$spread_pid"
spread=$?
wait "$alone_pid"
alone=$?
echo "==> the tests marked one_process (run beside the others)"
cat "$alone_log"
[ "$alone" -eq 5 ] && alone=0  # 5: the arguments selected no such test
[ "$spread" -eq 5 ] && [ "$alone" -eq 0 ] && spread=0
if [ "$spread" -ne 0 ]; then exit "$spread"; fi
exit "$alone"
