"""People as Cognito knows them, in Django admin: read-only (sign-in keeps them)."""

from django.contrib import admin

from dashboard.models import OidcIdentity
from uploader.admin import ReadOnlyAdmin


@admin.register(OidcIdentity)
class OidcIdentityAdmin(ReadOnlyAdmin):
    list_display = ("user", "email", "provider_username", "groups", "last_sign_in_at", "issuer")
    search_fields = ("email", "provider_username", "subject", "user__username")
    readonly_fields = [field.name for field in OidcIdentity._meta.fields]
