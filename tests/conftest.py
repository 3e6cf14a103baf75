"""Fixtures shared by every test layer.

AWS configuration is isolated first thing, before boto3 can read anything: no
developer credentials or config file leak into tests (as django-storages does).
"""

from __future__ import annotations

import os
import signal
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
os.environ["AWS_ACCESS_KEY_ID"] = "intake-test-access"
os.environ["AWS_SECRET_ACCESS_KEY"] = "intake-test-secret"
os.environ.pop("AWS_SESSION_TOKEN", None)
os.environ.pop("AWS_PROFILE", None)
# Malware scanning is off unless a test turns it on (config/settings/test.py says why);
# set here too, so the processes tests start (worker, consumer, make run) inherit it.
os.environ.setdefault("INTAKE_SCANNER", "none")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from emulator import S3Emulator  # noqa: E402

pytest_plugins = ["tests.support.browser", "tests.support.page_quality"]


def pytest_configure(config: pytest.Config) -> None:
    # A SIGTERM (CI time-out, Ctrl-C from a supervisor) unwinds like Ctrl-C, so the
    # fixtures stop the servers they started (emulator, gateway) instead of leaking them.
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Files marked `slow` first (the sort is stable; each file keeps its order). Under
    pytest-xdist with `--dist loadfile` the workers take whole files in collection
    order: a slow file collected last keeps one worker busy while the others stand idle."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: object, ids: list[str]) -> None:
    """Under pytest-xdist, refuse tests that share a node id: the workers find tests by
    id, so all but one of them would silently not run. Such tests are marked
    `one_process` and run without xdist (scripts/pytest.sh)."""
    shared = sorted(nodeid for nodeid, count in Counter(ids).items() if count > 1)
    if shared:
        raise pytest.UsageError(
            "these tests share a node id, so pytest-xdist would run only one of each; "
            f"mark them one_process (scripts/pytest.sh runs those in one process): {', '.join(shared)}"
        )


@pytest.fixture(autouse=True)
def _celery_join_allowed() -> None:
    """Every test starts outside a task, as far as Celery knows. Its "inside a task"
    flag (which makes result.get() refuse) is one per process, saved and restored by
    each eager task: two threads running eager tasks at once (a concurrency test, a
    live server's threads) can restore it in the wrong order and leave it set for every
    later test in the process."""
    from celery.result import _set_task_join_will_block

    _set_task_join_will_block(False)


TEST_PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(scope="session")
def s3_emulator() -> Iterator[S3Emulator]:
    """One moto server for the session, over real HTTP on 127.0.0.1."""
    with S3Emulator() as emulator:
        yield emulator


@pytest.fixture
def s3_bucket(s3_emulator: S3Emulator, settings: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, configured bucket per test, with the app pointed at it."""
    from tests.support.app_storage import point_app_storage
    from uploader import s3
    from uploader.ops.bucket_setup import bucket_configure

    settings.INTAKE_S3_ENDPOINT_URL = s3_emulator.endpoint_url
    settings.INTAKE_S3_ADDRESSING_STYLE = "path"
    settings.INTAKE_S3_BUCKET = f"intake-test-{uuid.uuid4().hex[:12]}"
    settings.INTAKE_S3_REGION = "us-east-1"
    point_app_storage(settings)  # and drops the cached clients
    bucket_configure(create=True, origins=["http://127.0.0.1:8000"], queue_arn=None, abort_after_days=2)
    yield settings.INTAKE_S3_BUCKET
    s3.reset_clients()


def make_staff_user(username: str, *, is_staff: bool = True):  # type: ignore[no-untyped-def]
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(
        username=username, password=TEST_PASSWORD, is_staff=is_staff, email=f"{username}@example.test"
    )


@pytest.fixture
def staff_user(db):  # type: ignore[no-untyped-def]
    return make_staff_user("alice")


@pytest.fixture
def staff_client(client, staff_user):  # type: ignore[no-untyped-def]
    client.force_login(staff_user)
    return client
