"""The production environment file, read strictly: `NAME=value` lines, comments and
blank lines, nothing else.

deploy/render_env.py writes it; the image's entrypoint reads it (INTAKE_ENV_FILE).
Docker's and compose's own readers guess at lines they do not understand (quotes
kept or dropped, a stray word ignored), so a typo would start the app with a wrong
value; this reader refuses the file instead, naming the line. Standard library only.
"""

from __future__ import annotations

import re
from pathlib import Path

_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")


class EnvFileError(Exception):
    """The file cannot be used; the message names the file and the line."""


def parse_env_file(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EnvFileError(f"cannot read {path}: {exc}") from exc
    values: dict[str, str] = {}
    seen_at: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"{path}, line {number}"
        name, equals, value = line.partition("=")
        if not equals:
            # Not shown: a line without `=` may be a pasted secret.
            raise EnvFileError(f"{where}: expected NAME=value (no `=` on the line)")
        if not _NAME.fullmatch(name):
            raise EnvFileError(
                f"{where}: {_shown(name)} is not a variable name (capital letters, digits and _, "
                "no spaces around =, no `export`)"
            )
        if value != value.strip():
            raise EnvFileError(f"{where}: {name}'s value starts or ends with a space; remove it")
        if value[:1] in {'"', "'"}:
            raise EnvFileError(f"{where}: {name}'s value is quoted; write it bare (quotes would become part of it)")
        if name in seen_at:
            raise EnvFileError(f"{where}: {name} is set again (first on line {seen_at[name]}); keep one")
        seen_at[name] = number
        values[name] = value
    return values


def _shown(name: str) -> str:
    return repr(name if len(name) <= 40 else name[:40] + "…")
