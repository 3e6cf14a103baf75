"""The monthly breakdown (the stats page's long periods), filled from the daily
breakdown that is already kept; and a partial index of the files on hold (a portal's
page counts them)."""

from django.db import migrations, models

from uploader.uploads.recount import recount_months


def fill_months(apps, schema_editor):  # type: ignore[no-untyped-def]
    recount_months(
        breakdown_model=apps.get_model("uploader", "UploadDailyBreakdown"),
        month_model=apps.get_model("uploader", "UploadMonthlyBreakdown"),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("uploader", "0027_request_access_codes"),
    ]

    operations = [
        migrations.CreateModel(
            name="UploadMonthlyBreakdown",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("month", models.DateField()),
                ("dimension", models.CharField(max_length=8)),
                ("value", models.CharField(max_length=200)),
                ("started_files", models.BigIntegerField(default=0)),
                ("started_bytes", models.BigIntegerField(default=0)),
                ("stored_files", models.BigIntegerField(default=0)),
                ("stored_bytes", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.AddIndex(
            model_name="upload",
            index=models.Index(condition=models.Q(("legal_hold", True)), fields=["portal"], name="upload_portal_held"),
        ),
        migrations.AddConstraint(
            model_name="uploadmonthlybreakdown",
            constraint=models.UniqueConstraint(
                fields=("dimension", "month", "value"), name="upload_monthly_one_per_key"
            ),
        ),
        migrations.RunPython(fill_months, migrations.RunPython.noop),
    ]
