"""What follows an upload's state change beyond its row: processing a stored file,
discarding what was made from a file that is gone.

Processing builds on uploads (it reads Upload rows and signs through the uploads
package), so uploads cannot import it without a cycle. Instead the uploads services
announce here, and `uploader.apps` installs processing's answer once at start-up.
Until then (and in a process that never installs one) nothing follows, which only
delays work: the processing catch-up task finds stored files still waiting.
"""

from __future__ import annotations

from typing import Protocol

from uploader.uploads.models import Upload


class Followups(Protocol):
    def stored(self, upload: Upload) -> None:
        """`upload` just became stored (called inside the transaction that stored it)."""

    def gone(self, upload: Upload) -> None:
        """`upload` was rejected after storing, deleted or aborted (inside its transaction)."""


class _Nothing:
    def stored(self, upload: Upload) -> None:
        pass

    def gone(self, upload: Upload) -> None:
        pass


_installed: Followups = _Nothing()


def install(followups: Followups) -> None:
    global _installed
    _installed = followups


def after_stored(upload: Upload) -> None:
    _installed.stored(upload)


def after_gone(upload: Upload) -> None:
    _installed.gone(upload)
