"""Fill the new columns and tables for rows that exist, and on PostgreSQL index the
search text with trigrams (pg_trgm), which the file list's search needs to be fast.

The extension is created where the database user may (a superuser, or a trusted
extension on PostgreSQL 13+ for the database's owner); otherwise the migration stops
and says what to run. SQLite keeps a plain LIKE over the same normalized column."""

from django.db import migrations

from uploader.ops.database import require_extension
from uploader.uploads.recount import rollup_recount
from uploader.uploads.search import search_text_of

BATCH = 2000
TRIGRAM_INDEX = "upload_search_trgm"


def fill_search_text(apps, schema_editor):  # type: ignore[no-untyped-def]
    upload_model = apps.get_model("uploader", "Upload")
    rows = upload_model.objects.order_by("pk").values_list("pk", "original_filename", "uploader_name", "uploader_email")
    batch = []
    for pk, filename, name, email in rows.iterator(chunk_size=BATCH):
        batch.append(upload_model(pk=pk, search_text=search_text_of(filename, name, email)))
        if len(batch) == BATCH:
            upload_model.objects.bulk_update(batch, ["search_text"])
            batch = []
    upload_model.objects.bulk_update(batch, ["search_text"])


def recount(apps, schema_editor):  # type: ignore[no-untyped-def]
    rollup_recount(
        upload_model=apps.get_model("uploader", "Upload"),
        day_model=apps.get_model("uploader", "UploadDailyRollup"),
        breakdown_model=apps.get_model("uploader", "UploadDailyBreakdown"),
        total_model=apps.get_model("uploader", "UploadTotal"),
        month_model=None,  # made by 0027, which counts it
    )


def create_trigram_index(apps, schema_editor):  # type: ignore[no-untyped-def]
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    require_extension(connection, "pg_trgm", needed_for="The file list's search")
    with connection.cursor() as cursor:
        table = schema_editor.quote_name(apps.get_model("uploader", "Upload")._meta.db_table)
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {TRIGRAM_INDEX} ON {table} USING gin (search_text gin_trgm_ops)")


def drop_trigram_index(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")


class Migration(migrations.Migration):
    dependencies = [("uploader", "0017_search_keyset_rollup")]

    operations = [
        migrations.RunPython(fill_search_text, migrations.RunPython.noop),
        migrations.RunPython(recount, migrations.RunPython.noop),
        migrations.RunPython(create_trigram_index, drop_trigram_index),
    ]
