"""The CORS check page (admins): `manage.py check_cors` from the dashboard. A GET only
explains; the POST runs the check (real HTTP to the bucket, the app's public address
and the CDN, and a probe object written and deleted), records that it ran, and shows
one row per check with the fix for each failure."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dashboard.access import page_requires
from uploader.access.roles import Permission
from uploader.audit.services import audit_record
from uploader.ops.cors_check import cors_chain_check_from_settings


@page_requires(Permission.MANAGE_EVENTS)
def cors_check_page(request: HttpRequest) -> HttpResponse:
    report = None
    if request.method == "POST":
        report = cors_chain_check_from_settings()
        summary = report.as_json()
        audit_record(
            action="cors.checked",
            detail={"ok": report.ok, "failed": summary["failed"], "checks": len(report.results)},
        )
    return render(
        request,
        "dashboard/cors_check.html",
        {
            "report": report,
            "browser_origins": settings.INTAKE_CORS_ALLOWED_ORIGINS,
            "api_origins": settings.INTAKE_API_CORS_ALLOWED_ORIGINS,
            "base_url": settings.INTAKE_PUBLIC_BASE_URL,
            "cdn_domain": settings.INTAKE_CLOUDFRONT_DOMAIN,
        },
    )
