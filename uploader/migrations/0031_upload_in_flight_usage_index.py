"""The index of a portal's files in flight also holds every column its usage count
reads, so the count (at each portal registration and on the portal's page) reads the
index alone: at 10,000,000 uploads the busiest portal's 24,000 rows in flight cost 90
ms of heap reads (benchmark 7, run 5). PostgreSQL only; SQLite ignores `include`.
About 10 s at 10,000,000 uploads (one pass over the table)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("uploader", "0030_upload_size_in_list_indexes"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="upload", name="upload_portal_in_flight"),
        migrations.AddIndex(
            model_name="upload",
            index=models.Index(
                fields=["portal"],
                include=["id", "state", "created_at", "is_multipart", "stored_size", "declared_size"],
                condition=models.Q(state__in=["registered", "uploading"]),
                name="upload_portal_in_flight_usage",
            ),
        ),
    ]
