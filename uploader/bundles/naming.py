"""Names inside the zip: the files' display names, made safe as zip paths (no
folders of the client's making, no `..`), and unique ("a.pdf", "a (2).pdf")."""

from __future__ import annotations

from pathlib import PurePosixPath

from uploader.uploads.keys import display_filename

MAX_SEGMENT = 150


def zip_segment(name: str) -> str:
    """One path segment: the display name with separators turned into '-', leading
    dots dropped (no hidden files, no '..'), shortened keeping the extension."""
    cleaned = display_filename(name).replace("/", "-").replace("\\", "-").lstrip(". ") or "file"
    if len(cleaned) > MAX_SEGMENT:
        suffix = PurePosixPath(cleaned).suffix[:20]
        cleaned = cleaned[: MAX_SEGMENT - len(suffix)] + suffix
    return cleaned


class UniqueNames:
    """Hands out each path once; a repeat (compared without case, as Windows and macOS
    do) gets ' (2)', ' (3)' before its extension."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def take(self, name: str, folder: str = "") -> str:
        segment = zip_segment(name)
        prefix = f"{zip_segment(folder)}/" if folder else ""
        path = PurePosixPath(segment)
        stem, suffix = (path.stem, path.suffix) if path.stem else (segment, "")
        candidate, number = f"{prefix}{segment}", 1
        while candidate.casefold() in self._taken:
            number += 1
            candidate = f"{prefix}{stem} ({number}){suffix}"
        self._taken.add(candidate.casefold())
        return candidate
