"""The audit trail's rows (append-only)."""

from django.conf import settings
from django.db import models

from uploader.uploads.models import Upload


class AuditEntry(models.Model):
    """Append-only trail of state changes and staff actions.

    Rows are only ever inserted (`save` refuses updates, `delete` refuses); on
    PostgreSQL a trigger refuses UPDATE and DELETE as well, so not even a bug or
    an admin action can rewrite history.
    """

    created_at = models.DateTimeField(auto_now_add=True)
    action = models.CharField(max_length=64, db_index=True)
    # Who: a user, or a system actor such as "s3-event" when no person acted. No
    # database constraint and no cascade: history outlives the rows it names, and
    # the label keeps the name.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_label = models.CharField(max_length=150)
    upload = models.ForeignKey(
        Upload, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="audit_entries"
    )
    request_id = models.CharField(max_length=64, blank=True, default="")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"
        # The audit page and a file's trail read newest first by (created_at, id), a
        # page at a time from a cursor (dashboard.audit.selectors): one index per filter
        # that narrows a lot.
        indexes = [
            models.Index(fields=["created_at", "id"], name="audit_created_id"),
            models.Index(fields=["action", "created_at", "id"], name="audit_action_created_id"),
            models.Index(fields=["upload", "created_at", "id"], name="audit_upload_created_id"),
            models.Index(fields=["request_id"], name="audit_request_id", condition=~models.Q(request_id="")),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise PermissionError("audit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise PermissionError("audit entries are append-only")
