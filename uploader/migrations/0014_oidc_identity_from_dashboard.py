# OidcIdentity moved here from the dashboard app (uploader.access.models); its table
# keeps the name it was created with, so nothing in the database changes.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("uploader", "0013_upload_processing_lease"),
        ("dashboard", "0001_oidc_identity"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="OidcIdentity",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("issuer", models.CharField(max_length=255)),
                        ("subject", models.CharField(max_length=255)),
                        ("email", models.EmailField(blank=True, default="", max_length=254)),
                        ("provider_username", models.CharField(blank=True, default="", max_length=255)),
                        ("groups", models.JSONField(blank=True, default=list)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("last_sign_in_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "user",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="oidc_identity",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "OIDC identity",
                        "verbose_name_plural": "OIDC identities",
                        "db_table": "dashboard_oidcidentity",
                        "constraints": [
                            models.UniqueConstraint(fields=("issuer", "subject"), name="oidc_identity_issuer_subject")
                        ],
                    },
                ),
            ]
        ),
    ]
