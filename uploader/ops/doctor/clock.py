"""This machine's clock against S3's: signed URLs carry the time they were made, so a
clock off by a minute makes every link live a minute less (or more) than meant, and at
15 minutes S3 refuses every request."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

from uploader import s3
from uploader.ops.cors_check.results import CheckResult, failed, passed

MAX_SKEW_SECONDS = 30.0
PART = "clock"
FIX = "synchronise this machine's clock (NTP: `timedatectl set-ntp true`, chrony or the host's time service)"


class UnreadableDate(ValueError):
    pass


def clock_skew(server_date: str, *, local_before: float, local_after: float) -> tuple[float, float]:
    """(skew, uncertainty) in seconds; skew > 0: S3's clock is ahead of ours.

    S3 stamped `Date` somewhere between our two readings, in whole seconds (truncated),
    so its true time then was in [Date, Date + 1): the middle of each range is
    compared, and the uncertainty is half of both ranges."""
    try:
        server = parsedate_to_datetime(server_date)
    except (TypeError, ValueError, IndexError):
        raise UnreadableDate(f"S3's Date header is not an HTTP date: {server_date[:40]!r}") from None
    if server.tzinfo is None:
        raise UnreadableDate(f"S3's Date header has no time zone: {server_date[:40]!r}")
    local_middle = (local_before + local_after) / 2
    skew = server.timestamp() + 0.5 - local_middle
    return skew, 0.5 + (local_after - local_before) / 2


def skew_result(server_date: str, *, local_before: float, local_after: float) -> CheckResult:
    name = "clock against S3's Date header"
    try:
        skew, uncertainty = clock_skew(server_date, local_before=local_before, local_after=local_after)
    except UnreadableDate as exc:
        return failed(PART, name, str(exc), "check INTAKE_S3_ENDPOINT_URL: a proxy in between may rewrite headers")
    if abs(skew) - uncertainty > MAX_SKEW_SECONDS:
        side = "behind" if skew > 0 else "ahead of"
        detail = (
            f"this machine is {abs(skew):.0f} s {side} S3 (more than {MAX_SKEW_SECONDS:.0f} s): signed URLs expire "
            "early or late, and at 15 minutes S3 refuses every request"
        )
        return failed(PART, name, detail, FIX)
    return passed(PART, name, f"within {abs(skew) + uncertainty:.1f} s of S3")


def clock_checks() -> list[CheckResult]:
    name = "clock against S3's Date header"
    try:
        answer = s3.s3_server_clock()
    except s3.StorageError as exc:
        return [failed(PART, name, f"S3 did not answer ({exc})", "see the s3 lines above")]
    if not answer.server_date:
        return [failed(PART, name, "S3's answer has no Date header", "check INTAKE_S3_ENDPOINT_URL")]
    return [skew_result(answer.server_date, local_before=answer.local_before, local_after=answer.local_after)]
