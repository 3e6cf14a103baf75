"""The doctor page (admins): `manage.py doctor` from the dashboard. A GET only
explains; the POST runs every check (real calls to the database, the broker, S3, SQS,
the app's public address, Cognito, the mail server and CloudFront, and a probe object
written and deleted), records that it ran, and shows one row per check with the fix
for each failure."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dashboard.access import page_requires
from uploader.access.roles import Permission
from uploader.audit.services import audit_record
from uploader.ops.doctor import PARTS, doctor_run


@page_requires(Permission.MANAGE_EVENTS)
def doctor_page(request: HttpRequest) -> HttpResponse:
    report = None
    if request.method == "POST":
        report = doctor_run()
        summary = report.as_json()
        audit_record(
            action="doctor.ran",
            detail={"ok": report.ok, "failed": summary["failed"], "checks": len(report.results)},
        )
    return render(request, "dashboard/doctor.html", {"report": report, "parts": list(PARTS)})
