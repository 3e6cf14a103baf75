"""What follows an upload's state change beyond its row: processing a stored file,
discarding what was made from a file that is gone, moving a document request's item.

Processing and document requests build on uploads (they read Upload rows and sign
through the uploads package), so uploads cannot import them without a cycle. Instead
the uploads services announce here, and `uploader.apps` installs their answers once
at start-up, each told in turn.
Until then (and in a process that never installs one) nothing follows: processing
only waits (its catch-up task finds stored files still waiting), but a request item
stays as it was, so every process that stores uploads (web, worker, consumer) runs
`uploader.apps`, as Django does for each.
"""

from __future__ import annotations

from typing import Protocol

from uploader.uploads.models import Upload


class Followups(Protocol):
    def stored(self, upload: Upload) -> None:
        """`upload` just became stored (called inside the transaction that stored it)."""

    def gone(self, upload: Upload) -> None:
        """`upload` was rejected after storing, deleted or aborted (inside its transaction)."""


_installed: tuple[Followups, ...] = ()


def install(*followups: Followups) -> None:
    global _installed
    _installed = followups


def after_stored(upload: Upload) -> None:
    for followup in _installed:
        followup.stored(upload)


def after_gone(upload: Upload) -> None:
    for followup in _installed:
        followup.gone(upload)
