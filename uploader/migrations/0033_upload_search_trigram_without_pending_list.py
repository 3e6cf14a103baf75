"""The uploads table's trigram index merges each new entry at once (`fastupdate = off`),
as the search table's does (uploader.uploads.search_table.create_indexes): with a
pending list, every search also read the entries not yet merged, up to 4 MB. The list
there is now is merged here. PostgreSQL only."""

from django.db import migrations

TRIGRAM_INDEX = "upload_search_trgm"


def merge_at_once(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"ALTER INDEX {TRIGRAM_INDEX} SET (fastupdate = off)")
        cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [TRIGRAM_INDEX])


def keep_a_pending_list(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"ALTER INDEX {TRIGRAM_INDEX} RESET (fastupdate)")


class Migration(migrations.Migration):
    dependencies = [
        ("uploader", "0032_upload_search_table"),
    ]

    operations = [migrations.RunPython(merge_at_once, keep_a_pending_list)]
