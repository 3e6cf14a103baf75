"""On PostgreSQL, refuse UPDATE and DELETE of audit entries in the database itself."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION intake_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit entries are append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER intake_audit_append_only
    BEFORE UPDATE OR DELETE ON uploader_auditentry
    FOR EACH ROW EXECUTE FUNCTION intake_audit_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS intake_audit_append_only ON uploader_auditentry;
DROP FUNCTION IF EXISTS intake_audit_append_only();
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("uploader", "0003_audit_trail")]
    operations = [migrations.RunPython(create_trigger, drop_trigger)]
