"""How `check_cors` and `doctor` print a CheckReport: one line per check (or one JSON
document), a summary, and exit status 1 when anything failed."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from uploader.ops.cors_check.results import CheckReport, Status, format_result


def write_check_report(command: BaseCommand, report: CheckReport, *, as_json: bool, all_good: str) -> None:
    if as_json:
        command.stdout.write(json.dumps(report.as_json(), indent=2, ensure_ascii=False))
    else:
        styles = {
            Status.PASSED: command.style.SUCCESS,
            Status.FAILED: command.style.ERROR,
            Status.SKIPPED: command.style.WARNING,
        }
        for result in report.results:
            command.stdout.write(styles[result.status](format_result(result)))
        failed = report.as_json()["failed"]
        summary = all_good if report.ok else f"{failed} check(s) failed"
        command.stdout.write(command.style.SUCCESS(summary) if report.ok else command.style.ERROR(summary))
    if not report.ok:
        # SystemExit rather than CommandError: the lines above already say what failed.
        raise SystemExit(report.exit_status)
