#!/usr/bin/env bash
# `make image-smoke`: build Intake's image and run the production process test
# (tests/integration/test_production_processes.py) with every process in a container
# of it: migrate, web, worker, beat, consumer, all from the one image, against this
# machine's PostgreSQL, a private Redis and the S3 emulator.
#
# Installs what it needs (podman, runc, debootstrap) and, where no image registry
# can be reached, makes the base image from Debian's own packages (bookworm's python3
# is 3.11): BASE_IMAGE=python:3.11-slim-bookworm@sha256:... uses the pinned one instead.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

IMAGE="${IMAGE:-localhost/intake:smoke}"
BASE_IMAGE="${BASE_IMAGE:-localhost/intake-base:bookworm}"
WORK="${INTAKE_VAR_DIR:-var}/image"
mkdir -p "$WORK"

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
missing=()
for tool in podman runc debootstrap; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing ${missing[*]} (one time)"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" uidmap fuse-overlayfs >/dev/null
fi

# Container limits no higher than this machine allows: without the privilege to raise
# them (CAP_SYS_RESOURCE), podman's defaults (more open files and processes than the
# host gives) make the runtime fail with "setrlimit: Operation not permitted". runc,
# not crun: crun refuses cgroups in hybrid (v1 + v2) mode.
nofile="$(ulimit -Hn)"; [ "$nofile" = unlimited ] && nofile=1048576
nproc="$(ulimit -Hu)"; { [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; } && nproc=32768
cat > "$WORK/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
runtime = "runc"
CONF
export CONTAINERS_CONF="$PWD/$WORK/containers.conf"

if ! podman image exists "$BASE_IMAGE"; then
  if [ "$BASE_IMAGE" = localhost/intake-base:bookworm ]; then
    echo "==> making the base image from Debian bookworm's packages (debootstrap, a few minutes once)"
    rootfs="$WORK/rootfs"
    $SUDO rm -rf "$rootfs"
    $SUDO debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$rootfs" \
      http://deb.debian.org/debian >"$WORK/debootstrap.log"
    $SUDO tar -C "$rootfs" -c . | podman import - "$BASE_IMAGE" >/dev/null
    $SUDO rm -rf "$rootfs"
  else
    podman pull "$BASE_IMAGE"
  fi
fi

echo "==> building $IMAGE on $BASE_IMAGE"
# Docker's image format: the OCI format has no place for HEALTHCHECK.
build=(podman build --format docker --network host --ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc"
  --build-arg "BASE_IMAGE=$BASE_IMAGE" --tag "$IMAGE")
# A proxy that re-signs TLS needs its CA to reach PyPI: given as a build secret,
# never stored in a layer.
ca="${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}"
[ -s "$ca" ] && build+=(--secret "id=ca,src=$ca")
"${build[@]}" . >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log"; exit 1; }
podman image inspect --format '{{.Config.User}} {{.Size}} bytes' "$IMAGE"

echo "==> the production process test, every process in a container of $IMAGE"
INTAKE_TEST_IMAGE="$IMAGE" exec .venv/bin/pytest tests/integration/test_production_processes.py -p no:cacheprovider "$@"
