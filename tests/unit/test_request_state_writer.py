"""A document request's and its items' states have one writer, uploader/requests/state.py
(as an upload's has uploader/uploads/state.py; tests/unit/test_floor_plan.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WRITER = ROOT / "uploader" / "requests" / "state.py"
MODELS = ("RequestItem.objects", "DocumentRequest.objects")


def _writes(tree: ast.AST) -> list[int]:
    """`item.state = …` / `request.state = …` (any name but an upload's), and
    `.update(state=…)` on request or item rows."""
    found: list[int] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            targets = [
                t for target in node.targets for t in (target.elts if isinstance(target, ast.Tuple) else [target])
            ]
            for target in targets:
                if (
                    isinstance(target, ast.Attribute)
                    and target.attr == "state"
                    and isinstance(target.value, ast.Name)
                    and any(word in target.value.id.lower() for word in ("item", "request"))
                ):
                    found.append(node.lineno)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in {"update", "bulk_update"}
        ):
            source = ast.unparse(node.func.value)
            if any(model in source for model in MODELS) and any(k.arg == "state" for k in node.keywords):
                found.append(node.lineno)
    return found


def _modules() -> list[Path]:
    return sorted(
        path
        for package in (ROOT / "uploader", ROOT / "dashboard")
        for path in package.rglob("*.py")
        if "migrations" not in path.parts
    )


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_requests_state_module_writes_a_requests_or_items_state(path: Path) -> None:
    if path == WRITER:
        return
    assert not _writes(ast.parse(path.read_text())), f"{path.relative_to(ROOT)} writes a request's or item's state"


def test_the_check_finds_each_kind_of_write() -> None:
    for sample in (
        "item.state = 'accepted'",
        "request.state, request.closed_at = 'closed', now",
        "RequestItem.objects.filter(pk=1).update(state='accepted')",
        "DocumentRequest.objects.filter(pk=1).update(state='closed')",
    ):
        assert _writes(ast.parse(sample)), sample
    assert _writes(ast.parse(WRITER.read_text())), "the writer itself writes states"
