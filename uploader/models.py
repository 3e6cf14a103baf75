"""Every model of the uploader app, imported so Django registers them.

Intake is one Django app with one migration history; each domain package keeps
its own models.py, and code imports a model from its domain, not from here."""

from uploader.access.models import OidcIdentity
from uploader.audit.models import AuditEntry
from uploader.bundles.models import Bundle, BundleState
from uploader.ingest.models import EventOutcome, EventSource, UploadEvent
from uploader.notify.models import WebhookDelivery, WebhookDeliveryState
from uploader.ops.models import Heartbeat
from uploader.portals.models import Portal, ProcessingOption, validate_processing_options
from uploader.processing.models import Derivative, DerivativeKind
from uploader.requests.models import (
    DocumentRequest,
    RequestItem,
    RequestReminder,
    RequestTemplate,
    TemplateItem,
    UploadDigest,
)
from uploader.uploads.models import ALLOWED_TRANSITIONS, Upload, UploadState

__all__ = [
    "ALLOWED_TRANSITIONS",
    "AuditEntry",
    "Bundle",
    "BundleState",
    "Derivative",
    "DerivativeKind",
    "DocumentRequest",
    "EventOutcome",
    "EventSource",
    "Heartbeat",
    "OidcIdentity",
    "Portal",
    "ProcessingOption",
    "RequestItem",
    "RequestReminder",
    "RequestTemplate",
    "TemplateItem",
    "Upload",
    "UploadDigest",
    "UploadEvent",
    "UploadState",
    "WebhookDelivery",
    "WebhookDeliveryState",
    "validate_processing_options",
]
