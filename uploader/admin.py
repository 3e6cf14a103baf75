"""Uploads in Django admin: read-only, for audit. Changes go through the services."""

from django.contrib import admin

from uploader.access.models import OidcIdentity
from uploader.audit.models import AuditEntry
from uploader.ingest.models import UploadEvent
from uploader.notify.models import WebhookDelivery
from uploader.portals.models import Portal
from uploader.processing.models import Derivative
from uploader.uploads.models import Upload

# Branded: people meet this page from the staff pages' "Admin" link.
admin.site.site_header = "Intake administration"
admin.site.site_title = "Intake administration"
admin.site.index_title = "Records (read-only: changes go through the staff pages)"
admin.site.site_url = "/"


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shown, never changed here: every change goes through a service that checks the
    role and writes the audit trail."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Upload)
class UploadAdmin(ReadOnlyAdmin):
    list_display = (
        "original_filename",
        "state",
        "owner",
        "portal",
        "uploader_name",
        "declared_size",
        "stored_size",
        "created_at",
    )
    list_filter = ("state", "scope", "portal", "is_multipart")
    search_fields = ("original_filename", "key", "id")
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in Upload._meta.fields]


@admin.register(UploadEvent)
class UploadEventAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "source", "event_name", "key", "outcome", "detail")
    list_filter = ("source", "outcome", "kind")
    search_fields = ("key", "sequencer")
    readonly_fields = [field.name for field in UploadEvent._meta.fields]


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    """The audit trail, for audit: nothing here can change it."""

    list_display = ("created_at", "actor_label", "action", "upload", "ip_address", "request_id")
    list_filter = ("action",)
    search_fields = ("actor_label", "action", "request_id", "upload__original_filename")
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in AuditEntry._meta.fields]


@admin.register(Portal)
class PortalAdmin(ReadOnlyAdmin):
    """Portals, read-only: staff manage them on the dashboard (audited, role-checked).
    The token nonce and digest and the password hash are not shown."""

    list_display = ("name", "slug", "is_active", "expires_at", "max_files", "max_total_bytes", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name", "slug", "title")
    exclude = ("token_nonce", "token_digest", "password_hash")
    readonly_fields = [
        field.name
        for field in Portal._meta.fields
        if field.name not in {"token_nonce", "token_digest", "password_hash"}
    ]


@admin.register(Derivative)
class DerivativeAdmin(ReadOnlyAdmin):
    list_display = ("upload", "kind", "key", "size", "created_at")
    list_filter = ("kind",)
    readonly_fields = [field.name for field in Derivative._meta.fields]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    """Deliveries to portals' webhooks; the body is what was signed and sent."""

    list_display = ("created_at", "portal", "state", "attempts", "last_status", "next_attempt_at")
    list_filter = ("state",)
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]



@admin.register(OidcIdentity)
class OidcIdentityAdmin(ReadOnlyAdmin):
    """People as Cognito knows them: read-only (sign-in keeps them)."""

    list_display = ("user", "email", "provider_username", "groups", "last_sign_in_at", "issuer")
    search_fields = ("email", "provider_username", "subject", "user__username")
    readonly_fields = [field.name for field in OidcIdentity._meta.fields]


# Request templates (editable by admins) and read-only requests live with their domain.
from uploader.requests import admin as request_admin  # noqa: E402, F401
