# OidcIdentity moved to uploader.access (the uploader app): the table stays where it
# is, only Django's idea of which app owns the model changes.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0001_oidc_identity"),
        ("uploader", "0014_oidc_identity_from_dashboard"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="OidcIdentity")]),
    ]
