"""The database (reachable, migrations applied) and the Celery broker (reachable,
how many tasks wait)."""

from __future__ import annotations

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor

from uploader.ops import backlog
from uploader.ops.cors_check.results import CheckResult, failed, passed, skipped


def database_checks() -> list[CheckResult]:
    vendor = connection.vendor
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        # The driver's first line says where it failed; it never holds the password.
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return [
            failed("database", "connect", f"{vendor}: {reason}", "check DATABASE_URL and that the database server runs")
        ]
    results = [passed("database", "connect", f"{vendor} answers")]
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        names = ", ".join(f"{migration.app_label}.{migration.name}" for migration, _ in plan[:3])
        more = f" and {len(plan) - 3} more" if len(plan) > 3 else ""
        results.append(
            failed("database", "migrations", f"{len(plan)} not applied ({names}{more})", "run manage.py migrate")
        )
    else:
        results.append(passed("database", "migrations", "all applied"))
    return results


def broker_checks() -> list[CheckResult]:
    url = settings.CELERY_BROKER_URL
    scheme = url.split("://", 1)[0] if "://" in url else url
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return [skipped("broker", "connect", "tasks run in the calling process (CELERY_TASK_ALWAYS_EAGER)")]
    try:
        waiting = backlog.celery_backlog()
    except Exception as exc:  # noqa: BLE001 - kombu and the transports raise many kinds; reported by type
        return [
            failed(
                "broker",
                "connect",
                f"{scheme} broker does not answer ({type(exc).__name__})",
                "check CELERY_BROKER_URL / REDIS_URL and that the broker runs",
            )
        ]
    return [passed("broker", "connect", f"{scheme} broker answers; {waiting} task(s) waiting")]
