"""Staff pages. Thin: read through selectors, render."""

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from dashboard import selectors


@staff_member_required(login_url="login")
def home(request: HttpRequest) -> HttpResponse:
    """The upload page: Uppy talks to the upload API mounted at /api/."""
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
        {"upload_config": upload_config, "recent_uploads": selectors.recent_uploads_for(user=request.user)},
    )


@staff_member_required(login_url="login")
def recent_uploads(request: HttpRequest) -> HttpResponse:
    """The list under the uploader, re-fetched by htmx after each upload."""
    return render(
        request, "dashboard/_recent_uploads.html", {"recent_uploads": selectors.recent_uploads_for(user=request.user)}
    )
