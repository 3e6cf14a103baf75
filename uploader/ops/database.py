"""PostgreSQL extensions the schema needs, created where the database user may."""

from __future__ import annotations

from typing import Any

from django.db import transaction


class ExtensionMissing(RuntimeError):
    """An extension is not installed and this database user may not install it."""


def require_extension(connection: Any, name: str, *, needed_for: str) -> None:
    """Create the extension `name` unless it exists (a superuser may; on PostgreSQL 13+
    so may a user with CREATE on the database, for a trusted extension such as pg_trgm).
    When that is refused, ExtensionMissing says what a superuser must run."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = %s", [name])
        if cursor.fetchone() is not None:
            return
        try:
            with transaction.atomic(using=connection.alias):
                cursor.execute(f"CREATE EXTENSION IF NOT EXISTS {connection.ops.quote_name(name)}")
        except Exception as exc:
            database = connection.settings_dict["NAME"]
            raise ExtensionMissing(
                f"{needed_for} needs PostgreSQL's {name} extension, and this database user may not create it "
                f"({str(exc).strip()}). Ask a superuser to run "
                f'"CREATE EXTENSION {name};" in database {database!r}, then run the migrations again.'
            ) from exc
