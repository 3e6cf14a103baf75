"""People as the identity provider knows them."""

from django.conf import settings
from django.db import models


class OidcIdentity(models.Model):
    """Links a Django user to a Cognito user by the token's issuer and `sub`.

    Users are found by this pair, never by e-mail: an e-mail address can change or be
    reused, and matching on it would let whoever holds an address take over the account
    that had it.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oidc_identity")
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    # What the provider said last time, for people reading the admin.
    email = models.EmailField(blank=True, default="")
    provider_username = models.CharField(max_length=255, blank=True, default="")
    groups = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_sign_in_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "dashboard_oidcidentity"  # created by the dashboard app, which owned it first
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="oidc_identity_issuer_subject")]
        verbose_name = "OIDC identity"
        verbose_name_plural = "OIDC identities"

    def __str__(self) -> str:
        return f"{self.email or self.provider_username or self.subject} ({self.issuer})"
