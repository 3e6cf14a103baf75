#!/usr/bin/env bash
# Create .venv (Python 3.11) and install the pinned requirements; re-runs install
# only when a requirements file changed. Used by `make run` and `make test`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON="${PYTHON:-python3.11}"
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "bootstrap: $PYTHON not found; install Python 3.11 (apt-get install python3.11 python3.11-venv)" >&2
  exit 1
fi
# `make run` in one terminal and `make test` in another may both get here first on a
# new machine: one installs, the other waits for it instead of racing into the same venv.
exec 9>.bootstrap.lock
flock 9
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.requirements.sha256
wanted=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "bootstrap: installing pinned requirements"
  # This machine's pip configuration names local mirrors that may be absent; pip
  # warns about each for every package, which buries real errors.
  quiet_pip() { .venv/bin/python -m pip "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
  # uv (pinned in requirements-dev.txt) installs the set in seconds where pip takes a
  # minute or two; pip stays the fallback, for a machine whose only index is pip's mirror.
  if ! { quiet_pip install --quiet --disable-pip-version-check "$(grep -E '^uv==' requirements-dev.txt)" \
         && UV_LINK_MODE=copy .venv/bin/uv pip install --quiet --compile-bytecode --python .venv/bin/python -r requirements-dev.txt; }; then
    echo "bootstrap: uv could not install the requirements; installing with pip"
    quiet_pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  fi
  echo "$wanted" > "$stamp"
fi
