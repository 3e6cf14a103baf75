"""What the events page shows of a dead letter, for bodies nobody should trust."""

from __future__ import annotations

import json

from uploader.ingest.dead_letters import KEY_CHARS, PREVIEW_CHARS, body_preview, message_summarize


def _record(key: str, name: str = "ObjectCreated:Put") -> dict[str, object]:
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventName": name,
        "eventTime": "2026-01-01T00:00:00.000Z",
        "s3": {"bucket": {"name": "b"}, "object": {"key": key, "size": 3, "eTag": "e", "sequencer": "01"}},
    }


def test_an_s3_notification_is_summarized_by_bucket_key_and_event() -> None:
    summary = message_summarize(json.dumps({"Records": [_record("uploads/a+b%3C.txt")]}))
    assert summary.events == (("b", "uploads/a b<.txt", "ObjectCreated:Put"),)
    assert summary.keys == ["uploads/a b<.txt"]
    assert summary.reasons == ()


def test_unusable_bodies_give_the_consumers_reason() -> None:
    assert message_summarize("{not json").reasons == ("message is not valid JSON",)
    assert message_summarize("[1, 2]").reasons == ("message is not a JSON object",)
    assert message_summarize(json.dumps({"Records": "nope"})).reasons == ("message has no Records",)
    assert message_summarize("").reasons == ("message is not valid JSON",)
    assert message_summarize("x" * 300_000).reasons[0].startswith("message of 300000 bytes exceeds")


def test_a_deeply_nested_body_does_not_raise() -> None:
    summary = message_summarize("[" * 200_000 + "]" * 200_000)
    assert summary.events == ()
    assert len(summary.reasons) == 1


def test_the_s3_test_event_is_named() -> None:
    summary = message_summarize(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"}))
    assert summary.is_test_event
    assert summary.events == ()


def test_long_keys_and_reasons_are_clipped() -> None:
    summary = message_summarize(json.dumps({"Records": [_record("k" * 1000), {"eventName": "x" * 5000}]}))
    ((_, key, _),) = summary.events
    assert len(key) == KEY_CHARS + 1
    assert key.endswith("…")
    assert all(len(reason) <= KEY_CHARS + 1 for reason in summary.reasons)
    assert summary.reasons


def test_an_sns_envelope_is_opened_like_the_consumer_does() -> None:
    inner = json.dumps({"Records": [_record("uploads/x.txt", "ObjectRemoved:Delete")]})
    summary = message_summarize(json.dumps({"Type": "Notification", "Message": inner}))
    assert summary.events == (("b", "uploads/x.txt", "ObjectRemoved:Delete"),)


def test_the_preview_is_capped_and_shows_control_characters_as_escapes() -> None:
    preview, cut = body_preview("a\x00b\x1b[31mc\u202ed\nline\t<script>")
    assert preview == "a\\x00b\\x1b[31mc\\u202ed\nline\t<script>"
    assert not cut
    long_preview, long_cut = body_preview("é" * (PREVIEW_CHARS * 3))
    assert long_preview == "é" * PREVIEW_CHARS
    assert long_cut
