"""Uploads in Django admin: read-only, for audit. Changes go through the services."""

from django.contrib import admin

from uploader.models import AuditEntry, Upload, UploadEvent


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin):
    list_display = ("original_filename", "state", "owner", "scope", "declared_size", "stored_size", "created_at")
    list_filter = ("state", "scope", "is_multipart")
    search_fields = ("original_filename", "key", "id")
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in Upload._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(UploadEvent)
class UploadEventAdmin(admin.ModelAdmin):
    list_display = ("received_at", "source", "event_name", "key", "outcome", "detail")
    list_filter = ("source", "outcome", "kind")
    search_fields = ("key", "sequencer")
    readonly_fields = [field.name for field in UploadEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The audit trail, for audit: nothing here can change it."""

    list_display = ("created_at", "actor_label", "action", "upload", "ip_address", "request_id")
    list_filter = ("action",)
    search_fields = ("actor_label", "action", "request_id", "upload__original_filename")
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in AuditEntry._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
