"""The image's `migrate` command, run by several replicas of a new release at once:
they wait for each other on a PostgreSQL advisory lock, one applies the migrations
and the others find nothing to do."""

from __future__ import annotations

import os
import subprocess
import time

import psycopg
import pytest

from tests.support.processes import ROOT
from tests.support.production import entrypoint, fresh_database
from uploader.management.commands.migrate_locked import MIGRATION_LOCK_KEY

pytestmark = pytest.mark.integration


def _waiting_for_the_lock(conn: psycopg.Connection) -> int:
    row = conn.execute(
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
        "WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database()"
    ).fetchone()
    return int(row[0]) if row else 0


def test_two_replicas_migrating_at_once_wait_and_apply_each_migration_once() -> None:
    with fresh_database("migrate") as database_url:
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DJANGO_", "INTAKE_", "DATABASE_", "REDIS_", "CELERY_"))
        }
        env = {**base, "DJANGO_SETTINGS_MODULE": "config.settings.local", "DATABASE_URL": database_url}
        with psycopg.connect(database_url.replace("postgres://", "postgresql://", 1), autocommit=True) as holder:
            # The test holds the lock, as a replica already migrating would, so both
            # runs are certain to meet it.
            holder.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
            runs = [
                subprocess.Popen(
                    entrypoint("migrate"),
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
                for _ in range(2)
            ]
            try:
                deadline = time.monotonic() + 60
                while _waiting_for_the_lock(holder) < 2 and time.monotonic() < deadline:
                    assert all(run.poll() is None for run in runs), [run.communicate()[0] for run in runs]
                    time.sleep(0.2)
                assert _waiting_for_the_lock(holder) == 2
                holder.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_KEY])
                outputs = [run.communicate(timeout=120)[0] for run in runs]
            finally:
                for run in runs:
                    if run.poll() is None:
                        run.kill()
                        run.wait()
            assert [run.returncode for run in runs] == [0, 0], outputs
            assert all("another process is migrating; waiting for it to finish" in output for output in outputs)
            applied = [output for output in outputs if "Applying uploader.0001_initial... OK" in output]
            assert len(applied) == 1, outputs
            assert any("No migrations to apply." in output for output in outputs), outputs
            rows = holder.execute("SELECT count(*), count(DISTINCT (app, name)) FROM django_migrations").fetchone()
            assert rows is not None
            assert rows[0] == rows[1] > 20
