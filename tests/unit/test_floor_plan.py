"""The floor plan's rules that import-linter cannot see (docs/architecture.md):
no product module over 400 lines, and one writer of an Upload's state."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = [ROOT / "uploader", ROOT / "dashboard", ROOT / "config"]
MAX_LINES = 400
STATE_WRITER = ROOT / "uploader" / "uploads" / "state.py"


def _product_modules() -> list[Path]:
    return sorted(
        path for package in PRODUCT for path in package.rglob("*.py") if "migrations" not in path.relative_to(ROOT).parts
    )


def test_the_product_has_modules_to_check() -> None:
    assert len(_product_modules()) > 100


@pytest.mark.parametrize("path", _product_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_product_module_is_over_400_lines(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines: make it a package"


def _state_writes(tree: ast.AST) -> list[int]:
    """Lines that write a `state` of an upload: `x.state = ...` where x names an
    upload, or `.update(state=...)` / `.create(..., state=...)` on Upload rows, or a
    raw SQL string that sets `state =` on the uploads table."""
    found: list[int] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if (
                    isinstance(target, ast.Attribute)
                    and target.attr == "state"
                    and isinstance(target.value, ast.Name)
                    and "upload" in target.value.id.lower()
                ):
                    found.append(node.lineno)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in {"update", "bulk_update"}:
            source = ast.unparse(node.func.value)
            if ("Upload.objects" in source or "Upload._" in source) and any(k.arg == "state" for k in node.keywords):
                found.append(node.lineno)
        elif isinstance(node, ast.JoinedStr | ast.Constant) and (isinstance(node, ast.JoinedStr) or isinstance(node.value, str)):
            text = " ".join(ast.unparse(node).lower().split())
            if "update" in text and "set state" in text:
                found.append(node.lineno)
    return found


@pytest.mark.parametrize("path", _product_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_state_module_writes_an_uploads_state(path: Path) -> None:
    if path == STATE_WRITER:
        return
    writes = _state_writes(ast.parse(path.read_text()))
    assert not writes, f"{path.relative_to(ROOT)} writes an upload's state at lines {writes}: call the uploads services"


def test_the_state_check_finds_each_kind_of_write() -> None:
    """The check above can fail: each shape of write it looks for is found."""
    samples = [
        "upload.state = 'stored'",
        "Upload.objects.filter(pk=1).update(state='stored')",
        "cursor.execute('UPDATE uploader_upload AS u SET state = %s')",
        "cursor.execute(f'UPDATE {table} AS u SET state = %s, updated_at = %s')",
    ]
    for sample in samples:
        assert _state_writes(ast.parse(sample)), sample
    assert _state_writes(ast.parse(STATE_WRITER.read_text())), "the writer itself writes states"
