"""What a check found, and the few names every part of the check shares."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from typing import Any

# A name that can never be registered (RFC 2606 .invalid): whatever answers it with
# Access-Control-Allow-Origin allows every origin.
REFUSED_ORIGIN = "https://intake-cors-check.invalid"
# (connect, read) seconds: every server asked here should answer at once.
DEFAULT_TIMEOUT = (3.0, 10.0)

SETUP_BUCKET = "run manage.py setup_bucket"
CHECK_ADDRESS = "check the address and that it is reachable from here"
CHECK_S3 = "check the S3 settings and credentials"

Timeout = tuple[float, float]


class Status(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    # Not configured: a reported state (the line says so), never a silent gap.
    SKIPPED = "skipped"


@dataclass(frozen=True)
class CheckResult:
    part: str  # bucket | rules | api | cdn (the CORS chain); doctor's parts (uploader.ops.doctor)
    name: str
    status: Status
    detail: str
    fix: str = ""


def passed(part: str, name: str, detail: str) -> CheckResult:
    return CheckResult(part, name, Status.PASSED, detail)


def failed(part: str, name: str, detail: str, fix: str) -> CheckResult:
    return CheckResult(part, name, Status.FAILED, detail, fix)


def skipped(part: str, name: str, detail: str) -> CheckResult:
    return CheckResult(part, name, Status.SKIPPED, detail)


MARKS = {Status.PASSED: "✓", Status.FAILED: "✗", Status.SKIPPED: "-"}


def format_result(result: CheckResult) -> str:
    """One line: mark, part, what was checked, what was seen, and the fix if it failed."""
    line = f"{MARKS[result.status]} {result.part:<6} {result.name}: {result.detail}"
    if result.status is Status.FAILED and result.fix:
        line += f" — fix: {result.fix}"
    return line


@dataclass(frozen=True)
class CheckReport:
    """Results in the order they were checked (the CORS chain's, and `manage.py doctor`'s)."""

    results: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        return all(result.status is not Status.FAILED for result in self.results)

    @property
    def exit_status(self) -> int:
        return 0 if self.ok else 1

    def lines(self) -> list[str]:
        return [format_result(result) for result in self.results]

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "failed": sum(result.status is Status.FAILED for result in self.results),
            "checks": [{**asdict(result), "status": str(result.status)} for result in self.results],
        }


CorsReport = CheckReport
