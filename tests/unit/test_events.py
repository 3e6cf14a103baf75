"""Parsing S3 event messages exactly as S3, MinIO and Ceph send them."""

from __future__ import annotations

import json

import pytest

from uploader.ingest.events import parse_s3_message, sequencer_is_newer

# The example of AWS's "Event message structure" page (ObjectCreated:Put).
AWS_PUT_EXAMPLE = {
    "Records": [
        {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "us-east-1",
            "eventTime": "1970-01-01T00:00:00.000Z",
            "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "AIDAJDPLRKLG7UEXAMPLE"},
            "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "testConfigRule",
                "bucket": {"name": "mybucket", "ownerIdentity": {"principalId": "A3NL1KOZZKExample"}, "arn": "arn:aws:s3:::mybucket"},
                "object": {"key": "HappyFace.jpg", "size": 1024, "eTag": "d41d8cd98f00b204e9800998ecf8427e", "versionId": "096fKKXTRTtl3on89fVO.nfljtsv6qko", "sequencer": "0055AED6DCD90281E5"},
            },
        }
    ]
}
AWS_TEST_EVENT = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2014-10-13T15:57:02.089Z", "Bucket": "bucketname", "RequestId": "5582815E1AEA5ADF", "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"}


def _record(**changes: object) -> dict:
    record = json.loads(json.dumps(AWS_PUT_EXAMPLE["Records"][0]))
    for path, value in changes.items():
        target = record
        *parents, leaf = path.split("__")
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    return record


def test_parses_awss_documented_example() -> None:
    parsed = parse_s3_message(json.dumps(AWS_PUT_EXAMPLE))
    assert parsed.skipped == ()
    (event,) = parsed.events
    assert (event.bucket, event.key, event.kind, event.size) == ("mybucket", "HappyFace.jpg", "created", 1024)
    assert event.sequencer == "0055AED6DCD90281E5"
    assert event.etag == "d41d8cd98f00b204e9800998ecf8427e"
    assert event.event_time is not None
    assert event.event_time.year == 1970


def test_test_event_is_recognised_and_has_no_records() -> None:
    parsed = parse_s3_message(json.dumps(AWS_TEST_EVENT))
    assert parsed.is_test_event
    assert parsed.events == ()
    assert parsed.skipped == ()


@pytest.mark.parametrize(
    ("source", "raw_key", "key"),
    [
        ("aws:s3", "uploads/staff/red+flower%281%29.jpg", "uploads/staff/red flower(1).jpg"),
        ("minio:s3", "uploads/a%2Bb.txt", "uploads/a+b.txt"),
        ("ceph:s3", "uploads/a+b %41.txt", "uploads/a+b %41.txt"),  # Ceph sends keys as they are
    ],
)
def test_keys_are_decoded_only_where_the_server_encodes_them(source: str, raw_key: str, key: str) -> None:
    message = {"Records": [_record(eventSource=source, s3__object__key=raw_key)]}
    (event,) = parse_s3_message(json.dumps(message)).events
    assert event.key == key


def test_several_records_and_removals() -> None:
    message = {"Records": [_record(), _record(eventName="ObjectRemoved:Delete", s3__object__key="gone.txt")]}
    events = parse_s3_message(json.dumps(message)).events
    assert [(e.kind, e.key) for e in events] == [("created", "HappyFace.jpg"), ("removed", "gone.txt")]


def test_sns_envelope_is_unwrapped() -> None:
    envelope = {"Type": "Notification", "MessageId": "x", "TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": json.dumps(AWS_PUT_EXAMPLE)}
    (event,) = parse_s3_message(json.dumps(envelope)).events
    assert event.key == "HappyFace.jpg"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        ("{}", "no Records"),
        (json.dumps({"Records": []}), "no Records"),
        (json.dumps({"Records": [_record(eventVersion="3.0")]}), "unsupported eventVersion"),
        (json.dumps({"Records": [_record(eventName="ObjectRestore:Completed")]}), "not an object create/remove"),
        (json.dumps({"Records": [_record(s3__object__key="")]}), "no bucket name or object key"),
        (json.dumps({"Records": ["oops"]}), "not an object"),
        ("x" * (70 * 1024 * 4), "exceeds"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_hostile_messages_become_reasons_not_exceptions(body: str | bytes, reason: str) -> None:
    parsed = parse_s3_message(body)
    assert parsed.events == ()
    assert any(reason in skipped for skipped in parsed.skipped), parsed.skipped


def test_a_70_kb_message_of_valid_records_is_parsed() -> None:
    records = [_record(s3__object__key=f"uploads/k{i}", s3__object__sequencer=f"{i:018X}") for i in range(110)]
    body = json.dumps({"Records": records})
    assert 64 * 1024 < len(body) < 256 * 1024
    assert len(parse_s3_message(body).events) == 110


def test_one_bad_record_does_not_hide_the_good_ones() -> None:
    parsed = parse_s3_message(json.dumps({"Records": [_record(eventVersion="1.0"), _record()]}))
    assert len(parsed.events) == 1
    assert len(parsed.skipped) == 1


@pytest.mark.parametrize(
    ("candidate", "applied", "newer"),
    [
        ("0055AED6DCD90281E6", "0055AED6DCD90281E5", True),
        ("0055AED6DCD90281E5", "0055AED6DCD90281E6", False),
        ("0055AED6DCD90281E5", "0055AED6DCD90281E5", False),
        ("0055AED6DCD90281E5A0", "0055AED6DCD90281E5", True),  # longer: right-padded comparison
        ("0055AED6DCD90281E4FF", "0055AED6DCD90281E5", False),
        ("0055aed6dcd90281e6", "0055AED6DCD90281E5", True),  # case does not matter
        ("", "0055AED6DCD90281E5", False),
        ("01", "", True),
    ],
)
def test_sequencer_ordering_follows_s3s_rule(candidate: str, applied: str, newer: bool) -> None:
    assert sequencer_is_newer(candidate, applied) is newer


def test_ceph_sequencers_are_made_sortable() -> None:
    # Seen from Ceph 16 for one key: the create, then the delete 64 ms later. As
    # sent they sort the wrong way round; rewritten they follow S3's rule.
    create, delete = "C1370B6BBB43D414", "C1370B6B15F9A618"
    assert not sequencer_is_newer(delete, create)
    events = [
        parse_s3_message(json.dumps({"Records": [_record(eventSource="ceph:s3", s3__object__sequencer=s)]})).events[0]
        for s in (create, delete)
    ]
    assert events[0].sequencer == "6B0B37C114D443BB"
    assert sequencer_is_newer(events[1].sequencer, events[0].sequencer)


def test_aws_sequencers_are_kept_as_sent() -> None:
    (event,) = parse_s3_message(json.dumps({"Records": [_record(s3__object__sequencer="C1370B6BBB43D414")]})).events
    assert event.sequencer == "C1370B6BBB43D414"



def test_the_ledger_keeps_every_field_of_an_event_with_its_time_in_iso_format() -> None:
    import dataclasses

    from uploader.ingest.ledger import _raw

    (event,) = parse_s3_message(json.dumps(AWS_PUT_EXAMPLE)).events
    raw = _raw(event)
    assert raw == {**dataclasses.asdict(event), "event_time": "1970-01-01T00:00:00+00:00"}
    assert json.loads(json.dumps(raw)) == raw
    assert _raw(dataclasses.replace(event, event_time=None))["event_time"] is None


# The "Object Created" example of AWS's "EventBridge event message structure" page,
# with a key a notification would URL-encode.
EVENTBRIDGE_CREATED = {
    "version": "0",
    "id": "17793124-05d4-b198-2fde-7ededc63b103",
    "detail-type": "Object Created",
    "source": "aws.s3",
    "account": "111122223333",
    "time": "2021-11-12T00:00:00Z",
    "region": "ca-central-1",
    "resources": ["arn:aws:s3:::amzn-s3-demo-bucket1"],
    "detail": {
        "version": "0",
        "bucket": {"name": "amzn-s3-demo-bucket1"},
        "object": {
            "key": "uploads/staff/2021/11/report 2021:Q4+final.pdf",
            "size": 5,
            "etag": "b1946ac92492d2347c6235b4d2611184",
            "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
            "sequencer": "00617F08299329D189",
        },
        "request-id": "N4N7GDK58NMKJ12R",
        "requester": "123456789012",
        "source-ip-address": "1.2.3.4",
        "reason": "PutObject",
    },
}


def test_eventbridge_object_created_is_parsed_with_its_key_as_sent() -> None:
    parsed = parse_s3_message(json.dumps(EVENTBRIDGE_CREATED))
    assert parsed.skipped == ()
    [event] = parsed.events
    assert (event.bucket, event.key, event.kind) == (
        "amzn-s3-demo-bucket1", "uploads/staff/2021/11/report 2021:Q4+final.pdf", "created"
    )
    assert (event.size, event.etag, event.sequencer, event.version_id) == (
        5, "b1946ac92492d2347c6235b4d2611184", "00617F08299329D189", "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e"
    )
    assert event.event_name == "ObjectCreated:PutObject"
    assert event.source == "aws.s3"
    assert event.event_time is not None
    assert event.event_time.isoformat() == "2021-11-12T00:00:00+00:00"


def test_eventbridge_object_deleted_and_other_types() -> None:
    deleted = json.loads(json.dumps(EVENTBRIDGE_CREATED))
    deleted["detail-type"] = "Object Deleted"
    del deleted["detail"]["object"]["size"]
    deleted["detail"]["deletion-type"] = "Permanently Deleted"
    [event] = parse_s3_message(json.dumps(deleted)).events
    assert event.kind == "removed"
    assert event.size is None
    assert event.event_name == "ObjectRemoved:Permanently Deleted"
    tagged = {**EVENTBRIDGE_CREATED, "detail-type": "Object Tags Added"}
    assert parse_s3_message(json.dumps(tagged)).skipped == ("EventBridge event 'Object Tags Added' is not an object create/delete",)
    broken = {**EVENTBRIDGE_CREATED, "detail": {"bucket": {}, "object": "nope"}}
    assert parse_s3_message(json.dumps(broken)).skipped == ("EventBridge event: no bucket name or object key",)


def test_the_same_object_event_from_eventbridge_and_a_notification_dedupes() -> None:
    from uploader.ingest.ledger import dedupe_key

    notification = _record(
        s3__bucket__name="amzn-s3-demo-bucket1",
        s3__object__key="uploads/staff/2021/11/report+2021%3AQ4%2Bfinal.pdf",
        s3__object__sequencer="00617F08299329D189",
    )
    [from_notification] = parse_s3_message(json.dumps({"Records": [notification]})).events
    [from_eventbridge] = parse_s3_message(json.dumps(EVENTBRIDGE_CREATED)).events
    assert from_notification.key == from_eventbridge.key
    assert dedupe_key(from_notification) == dedupe_key(from_eventbridge)
