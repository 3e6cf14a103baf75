"""What every page must be, checked in Chromium at desktop and phone width: no serious or
critical axe-core violation, nothing wider than the viewport, and a screenshot under
`var/screenshots/` for a person to review.

Use the `sized_page` fixture (parametrised over both widths) and call
`check_page(page, "name")` once the page shows what it should.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AXE_JS = next((ROOT / "static" / "vendor").glob("axe-core-*/axe.min.js"))
SCREENSHOTS = ROOT / "var" / "screenshots"

VIEWPORTS = {"desktop": (1366, 900), "phone": (390, 844)}
BLOCKING_IMPACTS = {"serious", "critical"}


@pytest.fixture(params=sorted(VIEWPORTS), ids=sorted(VIEWPORTS))
def sized_page(chromium, request) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """A page at one of the two widths; `page.viewport_name` says which."""
    width, height = VIEWPORTS[request.param]
    context = chromium.new_context(viewport={"width": width, "height": height}, is_mobile=request.param == "phone")
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.viewport_name = request.param  # type: ignore[attr-defined]
    yield page
    context.close()


def axe_violations(page) -> list[dict]:  # type: ignore[no-untyped-def]
    """Serious and critical axe-core violations of the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_JS))
    result = page.evaluate("async () => (await window.axe.run(document, {resultTypes: ['violations']})).violations")
    return [v for v in result if v.get("impact") in BLOCKING_IMPACTS]


def overflow(page) -> int:  # type: ignore[no-untyped-def]
    """How many CSS pixels the page is wider than its viewport (0 when it fits)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def screenshot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    viewport = getattr(page, "viewport_name", f"{page.viewport_size['width']}px")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}-{viewport}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        targets = [", ".join(n.get("target", [])) for n in v.get("nodes", [])[:5]]
        lines.append(f"{v['impact']}: {v['id']} ({v['help']}) at {json.dumps(targets)}")
    return "\n".join(lines)


def check_page(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """Screenshot the page, then fail on blocking axe violations or horizontal overflow."""
    screenshot(page, name)
    violations = axe_violations(page)
    assert not violations, f"{name}: axe-core found\n{describe(violations)}"
    too_wide = overflow(page)
    assert too_wide <= 0, f"{name} is {too_wide}px wider than its {page.viewport_size['width']}px viewport"
