"""Uploads in Django admin: read-only, for audit. Changes go through the services."""

from django.contrib import admin

from uploader.models import Upload


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
