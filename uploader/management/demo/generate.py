"""Realistic rows for a business that has kept a few years of files: uploads over two
years (more lately), 80% through portals (some portals much busier than others),
states, kinds and sizes in plausible proportions, names with accents, and for each
upload its ledger events, audit entries and derivatives.

Rows are plain tuples in the column order of `COLUMNS`, made without the ORM (the
loader writes them with COPY or multi-row INSERTs). This is fixture data, not a state
change: it writes `state` directly, as a restored backup would, and the rollup is
recounted after the load.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import math
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from uploader.uploads.search import search_text_of

SPAN_DAYS = 730

COLUMNS: dict[str, tuple[str, ...]] = {
    "upload": (
        "id", "owner_id", "scope", "original_filename", "key", "declared_size", "declared_content_type",
        "is_multipart", "multipart_upload_id", "part_size", "content_md5", "state", "stored_size", "etag",
        "rejection_reason", "created_at", "updated_at", "stored_at", "notified_at", "last_sequencer", "portal_id",
        "portal_visitor", "uploader_name", "uploader_email", "search_text", "scan_state", "scan_detail",
        "quarantine_key",
    ),
    "audit": ("created_at", "action", "actor_id", "actor_label", "upload_id", "request_id", "ip_address", "detail"),
    "event": (
        "source", "dedupe_key", "bucket", "key", "kind", "event_name", "sequencer", "etag", "size", "event_time",
        "raw", "upload_id", "received_at", "applied_at", "outcome", "detail",
    ),
    "derivative": ("upload_id", "kind", "key", "size", "content_type", "detail", "created_at"),
}  # fmt: skip

# (state, weight): most files arrive; a few are refused, abandoned, removed or in flight
# (in flight only within IN_FLIGHT_AT_MOST of now, else abandoned: aborted).
STATES = (
    ("stored", 85.0),
    ("rejected", 4.0),
    ("deleted", 5.0),
    ("aborted", 3.0),
    ("registered", 1.5),
    ("uploading", 1.5),
)
# Reconcile (uploader.ingest.reconcile) closes uploads in flight after a day, by
# default (INTAKE_RECONCILE_AFTER_HOURS): older ones would be no business's data.
IN_FLIGHT_AT_MOST = dt.timedelta(hours=24)
# (content type, extension, weight, median size in bytes)
TYPES = (
    ("application/pdf", "pdf", 33.0, 400_000),
    ("image/jpeg", "jpg", 20.0, 2_500_000),
    ("image/png", "png", 6.0, 800_000),
    ("image/heic", "heic", 4.0, 1_800_000),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx", 8.0, 120_000),
    ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx", 6.0, 90_000),
    ("text/csv", "csv", 3.0, 40_000),
    ("video/mp4", "mp4", 5.0, 60_000_000),
    ("audio/mpeg", "mp3", 3.0, 5_000_000),
    ("application/zip", "zip", 7.0, 20_000_000),
    ("application/octet-stream", "bin", 5.0, 1_000_000),
)
DOCUMENT_WORDS = (
    "invoice", "passport", "contract", "payslip", "tax return", "bank statement", "receipt", "id card",
    "lease", "quote", "report", "photo", "scan", "résumé", "déclaration", "Überweisung", "certificate",
    "insurance", "mortgage", "utility bill", "medical record", "drawing", "plan", "minutes", "agenda",
)  # fmt: skip
FIRST_NAMES = (
    "Anna", "José", "Zoë", "Jürgen", "Chloé", "Mohammed", "Siobhán", "Łukasz", "Ana", "Björn", "Renée", "Ines",
    "Noah", "Emma", "Liam", "Olivia", "Sofía", "François", "Ayşe", "Nikolaj", "Hélène", "Ömer", "Maria", "Tom",
)  # fmt: skip
LAST_NAMES = (
    "Müller", "García", "Smith", "Nguyen", "O'Brien", "Kowalski", "Søndergaard", "Dubois", "Rossi", "Yilmaz",
    "Johnson", "Fernández", "Novák", "Schmidt", "Brown", "Łęcka", "Martin", "Öztürk", "Jensen", "Costa",
)  # fmt: skip
REJECTIONS = (
    "stored object is {n} bytes, over the {m} byte limit",
    "the file was replaced after it arrived",
    "stored type application/x-msdownload is not allowed",
)
MULTIPART_OVER = 100 * 1024**2


@dataclass
class Cast:
    """Who the uploads belong to: staff user ids and names, portals (id, slug)."""

    staff: Sequence[tuple[int, str]]
    portals: Sequence[tuple[int, str]]
    portal_weights: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        # A few portals are busy, most are quiet (a Zipf-like spread).
        self.portal_weights = _cumulative([1.0 / (rank + 1) ** 0.8 for rank in range(len(self.portals))])


@dataclass
class Batch:
    rows: dict[str, list[tuple[Any, ...]]]


def _cumulative(weights: Sequence[float]) -> list[float]:
    out, total = [], 0.0
    for weight in weights:
        total += weight
        out.append(total)
    return out


_STATE_CUM = _cumulative([w for _, w in STATES])
_TYPE_CUM = _cumulative([t[2] for t in TYPES])


def _filename(rng: random.Random, extension: str, when: dt.datetime) -> str:
    pattern = rng.random()
    if extension in ("jpg", "heic", "png") and pattern < 0.5:
        return f"IMG_{rng.randrange(10000):04}.{extension}"
    word = rng.choice(DOCUMENT_WORDS)
    if pattern < 0.7:
        return f"{word} {when:%Y-%m}.{extension}"
    if pattern < 0.9:
        return f"{word.title()} {rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}.{extension}"
    return f"{word.replace(' ', '_')}_{rng.randrange(100000)}.{extension}"


def make_batch(rng: random.Random, cast: Cast, count: int, *, now: dt.datetime, bucket: str) -> Batch:
    """`count` uploads with their events, audit entries and derivatives."""
    rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in COLUMNS}
    span = SPAN_DAYS * 86400.0
    for _ in range(count):
        upload_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        # More files lately: the age's density falls off linearly over the span.
        created = now - dt.timedelta(seconds=span * (1 - math.sqrt(rng.random())))
        state = STATES[bisect.bisect_left(_STATE_CUM, rng.random() * _STATE_CUM[-1])][0]
        if state in ("registered", "uploading") and created < now - IN_FLIGHT_AT_MOST:
            state = "aborted"  # what reconcile makes of an upload in flight past its cut-off
        content_type, extension, _, median = TYPES[bisect.bisect_left(_TYPE_CUM, rng.random() * _TYPE_CUM[-1])]
        size = max(1, int(rng.lognormvariate(math.log(median), 1.0)))
        filename = _filename(rng, extension, created)
        if rng.random() < 0.8 and cast.portals:
            portal_id, scope = cast.portals[
                bisect.bisect_left(cast.portal_weights, rng.random() * cast.portal_weights[-1])
            ]
            owner_id, actor = None, f"portal:{scope}"
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            sender_name = f"{first} {last}"
            sender_email = f"{normalize_local(first)}.{normalize_local(last)}{rng.randrange(100)}@example.com"
            visitor = uuid.UUID(int=rng.getrandbits(128)).hex
        else:
            owner_id, actor = rng.choice(cast.staff)
            portal_id, scope, sender_name, sender_email, visitor = None, "staff", "", "", ""
        key = f"uploads/{scope}/{created:%Y/%m}/{upload_id}/{filename.replace(' ', '_')}"
        arrived = state in ("stored", "deleted") or (state == "rejected" and rng.random() < 0.5)
        stored_at = created + dt.timedelta(seconds=2 + size / 5_000_000) if arrived else None
        etag = hashlib.md5(upload_id.bytes, usedforsecurity=False).hexdigest() if arrived else ""
        reason = ""
        if state == "rejected":
            reason = rng.choice(REJECTIONS).format(n=size, m=size // 2)
        multipart = size > MULTIPART_OVER
        updated = stored_at or created
        rows["upload"].append(
            (
                upload_id, owner_id, scope, filename, key, size, content_type, multipart,
                f"mp-{upload_id.hex}" if multipart else "", 16 * 1024**2 if multipart else None, "", state,
                size if arrived else None, etag, reason, created, updated, stored_at,
                stored_at if portal_id and state == "stored" else None, "", portal_id, visitor, sender_name,
                sender_email, search_text_of(filename, sender_name, sender_email),
                "clean" if arrived else "pending", "", "",
            )
        )  # fmt: skip
        request_id = uuid.UUID(int=rng.getrandbits(128)).hex
        audit = rows["audit"]
        audit.append(
            (created, "upload.registered", owner_id, actor, upload_id, request_id, "192.0.2.10", '{"method": "PUT"}')
        )
        if stored_at is not None:
            audit.append((stored_at, "upload.stored", None, "s3-event", upload_id, "", None, f'{{"size": {size}}}'))
            rows["event"].append(
                (
                    "sqs", uuid.UUID(int=rng.getrandbits(128)).hex, bucket, key, "created", "ObjectCreated:Put",
                    f"{int(stored_at.timestamp() * 1000):016X}", etag, size, stored_at, "{}", upload_id, stored_at,
                    stored_at, "applied", "",
                )
            )  # fmt: skip
        if state in ("rejected", "deleted", "aborted"):
            ended = (stored_at or created) + dt.timedelta(days=rng.random() * 30)
            ended = min(ended, now)
            audit.append((ended, f"upload.{state}", None, "s3-event", upload_id, "", None, "{}"))
        if state == "stored" and rng.random() < 0.3 and cast.staff:
            reader_id, reader = rng.choice(cast.staff)
            when = min(now, (stored_at or created) + dt.timedelta(days=rng.random() * 60))
            audit.append((when, "upload.downloaded", reader_id, reader, upload_id, request_id, "192.0.2.20", "{}"))
        if state == "stored" and stored_at is not None and rng.random() < 0.4:
            if content_type.startswith("image/"):
                rows["derivative"].append(
                    (upload_id, "thumbnail", f"derived/{upload_id}/thumbnail.webp", 12_000, "image/webp",
                     '{"width": 320, "height": 240}', stored_at)
                )  # fmt: skip
            elif content_type == "application/pdf":
                rows["derivative"].append(
                    (upload_id, "text", f"derived/{upload_id}/text.txt", 4_000, "text/plain; charset=utf-8",
                     '{"pages": 2}', stored_at)
                )  # fmt: skip
    return Batch(rows)


def normalize_local(name: str) -> str:
    """An e-mail local part from a name: ASCII letters only."""
    return "".join(char for char in search_text_of(name) if char.isascii() and char.isalpha()) or "x"
