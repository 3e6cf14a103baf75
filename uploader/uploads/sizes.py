"""The one way Intake shows a number of bytes, on every page, e-mail and message.

Binary units with their IEC names, because limits are set in MiB and a "20.0 MB" label for
20 MiB confused people: "1 byte", "900 bytes", "1 KiB", "12.5 MiB", "2 GiB". One decimal
at most, none when it is zero. `static/intake/sizes.js` is the same rule for the browser;
`tests/unit/test_sizes.py` runs both over the same numbers.
"""

from __future__ import annotations

import math

UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB")


def format_bytes(size: int | float | None) -> str:
    if size is None:
        return ""
    size = max(0, int(size))
    if size < 1024:
        return "1 byte" if size == 1 else f"{size} bytes"
    value = float(size)
    unit = ""
    for unit in UNITS:
        value /= 1024
        # Round half up to one decimal the way the browser's Math.round does, so both agree.
        rounded = math.floor(value * 10 + 0.5) / 10
        if rounded < 1024 or unit == UNITS[-1]:
            value = rounded
            break
    text = f"{value:.1f}".removesuffix(".0")
    return f"{text} {unit}"
