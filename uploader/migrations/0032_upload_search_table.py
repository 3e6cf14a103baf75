"""The search table (uploader.uploads.search_table, ADR 0014): on PostgreSQL each
upload's search text, time, portal and owner, partitioned by quarter, kept by triggers
on the uploads table and filled here from the uploads there are, in time order. A
partition is made for each quarter from the oldest upload's through a year ahead.

At 10,000,000 uploads this takes a few minutes (a copy of five columns, then each
quarter's trigram and time indexes) in one transaction, which holds writes to the
uploads table from its start (the triggers are made first, so no upload written
meanwhile is missed). SQLite gets a plain, empty table."""

from django.db import migrations, models

from uploader.uploads import search_table


def create_search_table(apps, schema_editor):  # type: ignore[no-untyped-def]
    connection = schema_editor.connection
    row_model = apps.get_model("uploader", "UploadSearchRow")
    if connection.vendor != "postgresql":
        schema_editor.create_model(row_model)
        return
    upload_table = schema_editor.quote_name(apps.get_model("uploader", "Upload")._meta.db_table)
    with connection.cursor() as cursor:
        search_table.create(cursor, upload_table=upload_table)
        cursor.execute(f"SELECT min(created_at) FROM {upload_table}")  # noqa: S608 - a model's table
        oldest = cursor.fetchone()[0]
    search_table.ensure_partitions(since=search_table.quarter_of(oldest) if oldest is not None else None)
    with connection.cursor() as cursor:
        search_table.fill(cursor, upload_table=upload_table)
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")  # each index one sort
        search_table.create_indexes(cursor)
        cursor.execute(f"ANALYZE {search_table.TABLE}")


def drop_search_table(apps, schema_editor):  # type: ignore[no-untyped-def]
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        schema_editor.delete_model(apps.get_model("uploader", "UploadSearchRow"))
        return
    upload_table = schema_editor.quote_name(apps.get_model("uploader", "Upload")._meta.db_table)
    with connection.cursor() as cursor:
        search_table.drop(cursor, upload_table=upload_table)


class Migration(migrations.Migration):
    dependencies = [
        ("uploader", "0031_upload_in_flight_usage_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="UploadSearchRow",
                    fields=[
                        ("id", models.UUIDField(primary_key=True, serialize=False)),
                        ("created_at", models.DateTimeField()),
                        ("search_text", models.TextField()),
                        ("portal_id", models.BigIntegerField(null=True)),
                        ("owner_id", models.IntegerField(null=True)),
                    ],
                    options={"db_table": "uploader_uploadsearch"},
                ),
            ],
            database_operations=[],
        ),
        # The table itself, made here rather than by CreateModel (PostgreSQL's is
        # partitioned); after the state above so the model is known.
        migrations.RunPython(create_search_table, drop_search_table),
    ]
