"""Staff pages. Thin: check the role, read through selectors, render."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from dashboard.access import page_requires
from dashboard.home import selectors
from uploader.access.roles import Permission, has_permission, role_of


@page_requires(Permission.BROWSE)
def home(request: HttpRequest) -> HttpResponse:
    """The upload page (Uppy talks to the upload API at /api/) for roles that may
    upload; the latest files for every role."""
    can_upload = has_permission(request.user, Permission.UPLOAD)
    upload_config = {
        "endpoint": request.build_absolute_uri(reverse("uploader:s3-params")).removesuffix("/s3/params"),
        "maxFileSize": settings.INTAKE_MAX_UPLOAD_BYTES,
        "allowedTypes": settings.INTAKE_ALLOWED_CONTENT_TYPES or None,
        "multipartThreshold": settings.INTAKE_MULTIPART_THRESHOLD_BYTES,
        "partSize": settings.INTAKE_PART_SIZE_BYTES,
        "recentUrl": reverse("dashboard:recent-uploads"),
    }
    return render(
        request,
        "dashboard/home.html",
        {
            "upload_config": upload_config,
            "can_upload": can_upload,
            "can_download": has_permission(request.user, Permission.DOWNLOAD),
            "role": role_of(request.user),
            "recent_uploads": selectors.recent_uploads_for(user=request.user),
        },
    )


@page_requires(Permission.BROWSE)
def recent_uploads(request: HttpRequest) -> HttpResponse:
    """The list under the uploader, re-fetched by htmx after each upload."""
    return render(
        request,
        "dashboard/_recent_uploads.html",
        {
            "recent_uploads": selectors.recent_uploads_for(user=request.user),
            "can_download": has_permission(request.user, Permission.DOWNLOAD),
        },
    )
