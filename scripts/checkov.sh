#!/usr/bin/env bash
# Scan the deployment template with checkov, offline, as make test does.
# checkov lives in its own virtualenv (.venv-checkov, from requirements-checkov.txt):
# its pins (boto3 1.35, networkx 2.6, packaging 23) conflict with the app's.
# The template is scanned twice: as given (RunTheApp=no) and with the app switched on
# (checkov skips resources whose condition is false with the parameters' defaults).
# Each suppression sits beside its resource in deploy/intake.yaml with its reason.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV=.venv-checkov
REQUIREMENTS=requirements-checkov.txt
STAMP="$VENV/.requirements.sha256"
wanted=$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)
if [[ ! -x "$VENV/bin/checkov" || "$(cat "$STAMP" 2>/dev/null)" != "$wanted" ]]; then
    echo "==> installing checkov into $VENV"
    # uv (from .venv, scripts/bootstrap.sh) makes the venv and installs the set in seconds.
    UV_LINK_MODE=copy .venv/bin/uv venv --quiet --clear --python python3.11 "$VENV"
    UV_LINK_MODE=copy .venv/bin/uv pip install --quiet --compile-bytecode --python "$VENV/bin/python" --no-deps -r "$REQUIREMENTS"
    echo "$wanted" > "$STAMP"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
.venv/bin/python -m deploy.template variants "$work"

# --skip-download: no policies or guidelines fetched from a platform; nothing leaves the machine.
run() { "$VENV/bin/checkov" --quiet --compact --skip-download "$@"; }
for template in deploy/intake.yaml "$work"/*.yaml; do
    echo "==> checkov $template"
    run --framework cloudformation -f "$template"
done
if [[ -f Dockerfile ]]; then
    echo "==> checkov Dockerfile"
    # CKV_DOCKER_7 (base image without a pinned tag): the image is FROM ${BASE_IMAGE}, and
    # checkov does not read the ARG's default, which pins the base image by digest.
    run --framework dockerfile -f Dockerfile --skip-check CKV_DOCKER_7
fi
