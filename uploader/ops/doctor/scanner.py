"""The malware scanner (docs/scanning.md): with INTAKE_SCANNER=clamd, clamd must answer
PING and scan the EICAR test string as infected; otherwise every stored file waits as
"pending" (fail closed). GuardDuty's results come as events (the queue part checks the
queue); with "none" files are served unscanned, which is said as a warning-free skip."""

from __future__ import annotations

from django.conf import settings

from uploader.ops.cors_check.results import CheckResult, failed, passed, skipped
from uploader.scanning.scanners import ClamdScanner, ScannerUnavailable

PART = "scanner"
# The EICAR anti-virus test file, in two halves so this file is not itself flagged.
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def scanner_checks() -> list[CheckResult]:
    if settings.INTAKE_SCANNER == "none":
        return [skipped(PART, "malware scanner", "INTAKE_SCANNER=none: files are served without a scan")]
    if settings.INTAKE_SCANNER == "guardduty":
        return [skipped(PART, "malware scanner", "GuardDuty scans the bucket; its results arrive on the events queue")]
    scanner = ClamdScanner(settings.INTAKE_CLAMD_ADDRESS, timeout=10)
    fix = "start clamd (Debian's clamav-daemon) and point INTAKE_CLAMD_ADDRESS at its socket"
    if not scanner.ping():
        return [failed(PART, "clamd answers", f"no PONG from {settings.INTAKE_CLAMD_ADDRESS}: files stay pending", fix)]
    results = [passed(PART, "clamd answers", settings.INTAKE_CLAMD_ADDRESS)]
    try:
        verdict = scanner.scan([EICAR])
    except ScannerUnavailable as exc:
        return [*results, failed(PART, "clamd detects the EICAR test file", str(exc), fix)]
    if verdict.outcome != "infected":
        detail = f"clamd called the EICAR test file {verdict.outcome}: its signature databases are missing or empty"
        return [*results, failed(PART, "clamd detects the EICAR test file", detail, "run freshclam (docs/scanning.md)")]
    return [*results, passed(PART, "clamd detects the EICAR test file", verdict.detail)]
