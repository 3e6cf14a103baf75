#!/usr/bin/env bash
# Install the Debian packages the tests need when they are missing: Chromium for
# the browser tests, Ceph's RADOS Gateway for the strict-S3 suite, clamd for scanning. Quiet when
# everything is already there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/radosgw.sh install

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
# clamd and clamdscan: the malware scanner of make run, the tests and bench/scan.py.
[ -x /usr/sbin/clamd ] || missing+=(clamav-daemon)
[ -x /usr/bin/clamdscan ] || missing+=(clamdscan)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
  echo "ensure_system_packages: need root (or sudo) to install: ${missing[*]}" >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "==> installing Debian packages: ${missing[*]} (one time, about a minute)"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
