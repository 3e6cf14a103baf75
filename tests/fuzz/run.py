"""`make fuzz`: run each fuzz target under atheris for a bounded time.

    python -m tests.fuzz.run [TARGET ...] [--seconds N]

Each target runs in its own process (libFuzzer owns the process) for N seconds
(default 60, or FUZZ_SECONDS), with its corpus and any crashing input under
var/fuzz/<target>/. Exits non-zero if any target crashed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def fuzz_one(name: str) -> None:
    """Inside the child process: set Django up, instrument our code, fuzz."""
    import atheris
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    django.setup()
    from tests.fuzz.targets import TARGETS

    # Django's start-up imported most of our modules already: instrument every
    # function now loaded rather than only later imports.
    atheris.instrument_all()
    target = TARGETS[name]
    atheris.Setup([sys.argv[0], *sys.argv[3:]], target)
    atheris.Fuzz()


def main() -> int:
    from tests.fuzz.targets import TARGETS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("targets", nargs="*", choices=[*TARGETS, []], help="default: all")
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("FUZZ_SECONDS", "60")))
    args = parser.parse_args()
    failed: list[str] = []
    for name in args.targets or list(TARGETS):
        folder = ROOT / "var" / "fuzz" / name
        corpus = folder / "corpus"
        corpus.mkdir(parents=True, exist_ok=True)
        print(f"==> fuzzing {name} for {args.seconds} s (corpus {corpus.relative_to(ROOT)})", flush=True)
        result = subprocess.run(
            [sys.executable, "-m", "tests.fuzz.run", "--child", name,
             f"-max_total_time={args.seconds}", f"-artifact_prefix={folder}/", "-print_final_stats=1", str(corpus)],
            cwd=ROOT, check=False,
        )
        if result.returncode != 0:
            failed.append(name)
            print(f"==> {name}: crashed; the input is under {folder.relative_to(ROOT)}/", flush=True)
    print(f"==> fuzzing done: {len(failed)} target(s) crashed{': ' + ', '.join(failed) if failed else ''}")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        fuzz_one(sys.argv[2])
    else:
        sys.exit(main())
