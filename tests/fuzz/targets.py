"""One function per fuzz target: bytes in, and only documented refusals out."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Callable
from typing import Any


def events(data: bytes) -> None:
    from uploader.ingest.events import parse_s3_message

    parse_s3_message(data)


def filenames(data: bytes) -> None:
    from uploader.uploads.keys import display_filename, safe_filename

    name = data.decode("utf-8", errors="replace")
    assert safe_filename(name)
    assert display_filename(name)


def _json_or_none(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None


def sns_messages(data: bytes) -> None:
    from uploader.ingest import sns

    def no_certificate(url: str, *, max_bytes: int) -> bytes:
        raise sns.SnsUnavailable("no network while fuzzing")

    with contextlib.suppress(sns.SnsMessageRejected, sns.SnsUnavailable):
        sns.message_verify(_json_or_none(data), fetch=no_certificate, now=dt.datetime(2026, 12, 3, tzinfo=dt.UTC))


def tokens(data: bytes) -> None:
    from tests.unit.test_properties import verify_as_id_and_access_token

    verify_as_id_and_access_token(data.decode("utf-8", errors="replace"))


TARGETS: dict[str, Callable[[bytes], None]] = {
    "events": events,
    "filenames": filenames,
    "sns": sns_messages,
    "tokens": tokens,
}
