"""WSGI entry point for `run_all.py --experiments`: config.wsgi with candidate changes patched in.

Nothing here is used by the app. Each patch is a change to app code that the
benchmarks suggest; measuring it under the same gunicorn, interleaved with the real
app, is the evidence for it (docs/benchmarks.md). BENCH_EXPERIMENTS names the
patches, comma-separated, from PATCHES below.

No patch is pending. The earlier ones are in the app now:
- `no-unique-precheck` became `Upload.full_clean(validate_unique=False)` in
  `services._register`;
- `batch-template` became `QueryStringSigner.presign_parts` (uploader/signing.py),
  which prepares the canonical request's head once per batch and is tested byte for
  byte against botocore.
To try a new change, add a function that patches it in (and checks, at start-up,
that it still gives the same answers where it must) and name it in PATCHES.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from config.wsgi import application  # noqa: F401 - sets Django up first

PATCHES: dict[str, Callable[[], None]] = {}

EXPERIMENTS = frozenset(filter(None, os.environ.get("BENCH_EXPERIMENTS", "").split(",")))

unknown = EXPERIMENTS - PATCHES.keys()
if unknown:
    raise RuntimeError(f"unknown experiments: {', '.join(sorted(unknown))}")
for name in sorted(EXPERIMENTS):
    PATCHES[name]()
