#!/usr/bin/env bash
# Vendor pinned third-party browser code into static/vendor/.
#
# Source: the npm registry only (`npm pack <name>@<version>`); no CDN.
# For each package the built browser bundles plus the package's LICENSE are
# copied to static/vendor/<name>-<version>/, and static/vendor/MANIFEST.txt
# records name, version and sha256 of every copied file.
#
# Re-runnable: same pins -> byte-identical tree. Other versions of the packages
# managed here (static/vendor/<name>-<other version>/) are removed.
#
# Usage:
#   scripts/vendor.sh            fetch + (re)write static/vendor/
#   scripts/vendor.sh --verify   offline: check static/vendor/ against MANIFEST.txt
set -euo pipefail

# ---- pinned versions -------------------------------------------------------
UPPY_VERSION="5.2.4"      # all-in-one bundle: window.Uppy (uppy.min.js). v5, not v6, on our pages: see docs/adr/0002-uppy-v5.md
UPPY6_VERSION="6.0.1"     # the current v6 bundle (@uppy/aws-s3 6.1.0): only tests/browser/test_uppy6.py loads it (ADR 0002)
HTMX_VERSION="2.0.11"     # htmx.org v2
CHARTJS_VERSION="4.6.1"   # chart.js v4 (UMD: window.Chart)
HASHWASM_VERSION="4.13.0" # hash-wasm: incremental MD5 of files and parts in the browser (UMD: window.hashwasm)
AXE_VERSION="4.14.1"      # axe-core: accessibility checks of every page; only the browser tests load it (tests/support/page_quality.py)
# ----------------------------------------------------------------------------

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENDOR_DIR="$ROOT/static/vendor"
MANIFEST="$VENDOR_DIR/MANIFEST.txt"

# name|version|space-separated list of files, relative to the package root.
# Every file listed must exist in the tarball (the script fails otherwise).
# Source maps are kept next to bundles that reference them via
# `sourceMappingURL`, so Django's ManifestStaticFilesStorage can resolve them.
PACKAGES=(
  "uppy|$UPPY_VERSION|dist/uppy.min.js dist/uppy.min.js.map dist/uppy.min.mjs dist/uppy.min.mjs.map dist/uppy.min.css LICENSE"
  "uppy|$UPPY6_VERSION|dist/uppy.min.js dist/uppy.min.js.map dist/uppy.min.css LICENSE"
  "htmx.org|$HTMX_VERSION|dist/htmx.min.js LICENSE"
  "chart.js|$CHARTJS_VERSION|dist/chart.umd.min.js dist/chart.umd.min.js.map LICENSE.md"
  "hash-wasm|$HASHWASM_VERSION|dist/md5.umd.min.js LICENSE"
  "axe-core|$AXE_VERSION|axe.min.js LICENSE LICENSE-3RD-PARTY.txt"
)

log() { printf 'vendor.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

verify() {
  [[ -f "$MANIFEST" ]] || die "missing $MANIFEST"
  # Manifest lines: <name> <version> <relative path> <sha256>; '#' = comment.
  local status=0 name version path sum actual
  while read -r name version path sum; do
    [[ -z "$name" || "$name" == \#* ]] && continue
    if [[ ! -f "$VENDOR_DIR/$path" ]]; then
      log "MISSING $path"; status=1; continue
    fi
    actual="$(sha256sum "$VENDOR_DIR/$path" | cut -d' ' -f1)"
    if [[ "$actual" != "$sum" ]]; then
      log "CHANGED $path"; status=1
    fi
  done <"$MANIFEST"
  if [[ $status -eq 0 ]]; then log "ok: static/vendor matches MANIFEST.txt"; fi
  return $status
}

if [[ "${1:-}" == "--verify" ]]; then
  verify
  exit $?
elif [[ $# -gt 0 ]]; then
  die "unknown argument: $1 (usage: $0 [--verify])"
fi

command -v npm >/dev/null || die "npm is required"
command -v sha256sum >/dev/null || die "sha256sum is required"

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
STAGE="$TMP/stage"
mkdir -p "$STAGE"
MANIFEST_BODY="$TMP/manifest.body"
: >"$MANIFEST_BODY"

for spec in "${PACKAGES[@]}"; do
  IFS='|' read -r name version files <<<"$spec"
  dest_name="$name-$version"
  work="$TMP/pack/$dest_name"
  mkdir -p "$work"

  log "fetching $name@$version"
  tarball="$(cd "$work" && npm pack --silent --ignore-scripts \
    --pack-destination "$work" "$name@$version" | tail -n 1)"
  [[ -f "$work/$tarball" ]] || die "npm pack $name@$version produced no tarball"
  tar -xzf "$work/$tarball" -C "$work"
  pkg="$work/package"
  got_version="$(node -p "require(process.argv[1]).version" "$pkg/package.json")"
  [[ "$got_version" == "$version" ]] || die "$name: expected $version, got $got_version"

  printf '# %s %s tarball-sha256 %s\n' "$name" "$version" \
    "$(sha256sum "$work/$tarball" | cut -d' ' -f1)" >>"$MANIFEST_BODY"

  mkdir -p "$STAGE/$dest_name"
  for f in $files; do
    [[ -f "$pkg/$f" ]] || die "$name@$version: $f not found in package"
    base="$(basename "$f")"
    install -m 0644 "$pkg/$f" "$STAGE/$dest_name/$base"
    printf '%s %s %s %s\n' "$name" "$version" "$dest_name/$base" \
      "$(sha256sum "$STAGE/$dest_name/$base" | cut -d' ' -f1)" >>"$MANIFEST_BODY"
  done
done

# Everything fetched and checked: now replace the managed dirs. A package may be
# pinned at more than one version (uppy 5 and 6), so every version of every
# managed package is removed first (stale ones, and the pinned ones, which are
# re-created from the stage so no extra files linger), then the stage moves in.
mkdir -p "$VENDOR_DIR"
pinned=" "
for spec in "${PACKAGES[@]}"; do
  IFS='|' read -r name version _ <<<"$spec"
  pinned+="$name-$version "
done
shopt -s nullglob
for spec in "${PACKAGES[@]}"; do
  IFS='|' read -r name _ _ <<<"$spec"
  for old in "$VENDOR_DIR/$name"-[0-9]*; do
    [[ -d "$old" ]] || continue
    [[ "$pinned" == *" $(basename "$old") "* ]] || log "removing stale $(basename "$old")"
    rm -rf -- "$old"
  done
done
shopt -u nullglob
for spec in "${PACKAGES[@]}"; do
  IFS='|' read -r name version _ <<<"$spec"
  mv -- "$STAGE/$name-$version" "$VENDOR_DIR/$name-$version"
  chmod 0755 "$VENDOR_DIR/$name-$version"
done

{
  echo "# Generated by scripts/vendor.sh -- do not edit; re-run the script."
  echo "# Source: npm registry (npm pack). Columns: name version path sha256"
  cat "$MANIFEST_BODY"
} >"$MANIFEST"
chmod 0644 "$MANIFEST"

log "wrote $(grep -vc '^#' "$MANIFEST") files + MANIFEST.txt"
verify
