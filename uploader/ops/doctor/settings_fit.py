"""Settings that each load but do not fit together. Every value here was accepted at
start-up on its own; these are the combinations that break something later, far from
the setting (a browser's CORS error, an event that never arrives, a task run twice)."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings as django_settings

from uploader.ops.cors_check.results import SETUP_BUCKET, CheckResult, failed, passed

PART = "settings"
# Backends that send nothing anywhere: fine while developing, silent loss in production.
NON_SENDING_EMAIL = ("console.EmailBackend", "locmem.EmailBackend", "dummy.EmailBackend", "filebased.EmailBackend")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _site_origin(conf: Any) -> CheckResult:
    name = "the site's origin may upload to the bucket"
    site = _origin(conf.INTAKE_PUBLIC_BASE_URL)
    if site in conf.INTAKE_CORS_ALLOWED_ORIGINS:
        return passed(PART, name, f"{site} is in INTAKE_CORS_ALLOWED_ORIGINS")
    detail = (
        f"the upload pages are served from {site} (INTAKE_PUBLIC_BASE_URL), which INTAKE_CORS_ALLOWED_ORIGINS lacks"
    )
    return failed(PART, name, detail, f"add {site} to INTAKE_CORS_ALLOWED_ORIGINS and {SETUP_BUCKET}")


def _event_source(conf: Any) -> CheckResult:
    name = "S3 events reach the app"
    sources = [
        label
        for label, on in (
            ("SQS consumer", conf.INTAKE_S3_EVENTS_QUEUE_URL),
            ("SNS endpoint", conf.INTAKE_SNS_TOPIC_ARNS),
            ("push webhook", conf.INTAKE_EVENTS_WEBHOOK_TOKEN),
        )
        if on
    ]
    if sources:
        return passed(PART, name, ", ".join(sources))
    detail = "no event source is configured: files are seen only by the complete call and the periodic reconciliation"
    fix = "set INTAKE_S3_EVENTS_QUEUE_URL (and run manage.py consume_s3_events), INTAKE_SNS_TOPIC_ARNS or INTAKE_EVENTS_WEBHOOK_TOKEN"
    return failed(PART, name, detail, fix)


def _queue_pair(conf: Any) -> CheckResult:
    name = "the notified queue is the consumed queue"
    arn, url = conf.INTAKE_S3_EVENTS_QUEUE_ARN, conf.INTAKE_S3_EVENTS_QUEUE_URL
    if not (arn and url):
        return passed(PART, name, "only one of INTAKE_S3_EVENTS_QUEUE_ARN / _URL is set")
    notified, consumed = arn.rsplit(":", 1)[-1], url.rstrip("/").rsplit("/", 1)[-1]
    if notified == consumed:
        return passed(PART, name, f"both name {consumed}")
    detail = f"setup_bucket sends events to {notified} (INTAKE_S3_EVENTS_QUEUE_ARN) but the consumer reads {consumed}"
    return failed(
        PART, name, detail, "make INTAKE_S3_EVENTS_QUEUE_ARN and INTAKE_S3_EVENTS_QUEUE_URL name the same queue"
    )


def _task_limits(conf: Any) -> CheckResult:
    name = "task time limits fit the broker's redelivery"
    soft, hard = conf.CELERY_TASK_SOFT_TIME_LIMIT, conf.CELERY_TASK_TIME_LIMIT
    redelivery = int((conf.CELERY_BROKER_TRANSPORT_OPTIONS or {}).get("visibility_timeout", 3600))
    processing = conf.INTAKE_PROCESSING_TIME_LIMIT_SECONDS + 30  # its own hard limit
    if soft >= hard:
        detail = f"CELERY_TASK_SOFT_TIME_LIMIT ({soft}) is not below CELERY_TASK_TIME_LIMIT ({hard}): tasks are killed without a chance to clean up"
        return failed(PART, name, detail, "make the soft limit smaller than the hard one")
    longest = max(hard, processing)
    if longest >= redelivery:
        detail = f"a task may run {longest} s but the broker hands it to another worker after {redelivery} s (CELERY_VISIBILITY_TIMEOUT): it runs twice"
        return failed(PART, name, detail, f"raise CELERY_VISIBILITY_TIMEOUT above {longest}")
    return passed(PART, name, f"longest task {longest} s, redelivery after {redelivery} s")


def _email(conf: Any) -> CheckResult:
    name = "e-mail is sent"
    backend = str(conf.EMAIL_BACKEND)
    if not backend.endswith(NON_SENDING_EMAIL):
        return passed(PART, name, backend)
    if conf.DEBUG:
        return passed(PART, name, f"{backend}: kept here, not sent (fine while DEBUG is on)")
    detail = f"DJANGO_EMAIL_BACKEND is {backend}: digests and receipts go nowhere"
    return failed(
        PART,
        name,
        detail,
        "set DJANGO_EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend and the DJANGO_EMAIL_* settings",
    )


def _metrics_directory(conf: Any) -> CheckResult:
    name = "metrics directory"
    directory = conf.PROMETHEUS_MULTIPROC_DIR
    if not directory:
        return passed(PART, name, "single-process metrics (PROMETHEUS_MULTIPROC_DIR is not set)")
    if not os.path.isdir(directory) or not os.access(directory, os.W_OK):
        detail = f"PROMETHEUS_MULTIPROC_DIR={directory} is not a writable directory: every process that counts something fails"
        return failed(PART, name, detail, "create it (empty, writable by the app) before the processes start")
    return passed(PART, name, f"processes share {directory}")


def settings_checks(conf: Any = None) -> list[CheckResult]:
    conf = conf or django_settings
    if not conf.INTAKE_CORS_ALLOWED_ORIGINS:
        fix = f"set INTAKE_CORS_ALLOWED_ORIGINS to the site's origin and {SETUP_BUCKET}"
        first = failed(PART, "browser origins", "none: no browser can upload to the bucket", fix)
    else:
        first = _site_origin(conf)
    return [first, _event_source(conf), _queue_pair(conf), _task_limits(conf), _email(conf), _metrics_directory(conf)]
