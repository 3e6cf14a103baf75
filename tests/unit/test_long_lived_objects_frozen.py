"""The web process keeps what it builds once out of the cyclic garbage collector's
reach (config.wsgi, gunicorn.conf.py): at start-up, and once after a worker's first
requests."""

from __future__ import annotations

import gc
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest

import config.wsgi

ROOT = Path(__file__).resolve().parents[2]


def test_start_up_froze_what_it_made() -> None:
    assert gc.get_freeze_count() > 0  # importing config.wsgi did


def test_a_worker_freezes_once_after_its_first_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    worker = SimpleNamespace(nr=0)
    frozen: list[int] = []
    monkeypatch.setattr(config.wsgi, "freeze_long_lived_objects", lambda: frozen.append(worker.nr))
    post_request = runpy.run_path(str(ROOT / "gunicorn.conf.py"))["post_request"]
    for number in range(1, 3 * config.wsgi.FREEZE_AFTER_REQUESTS):
        worker.nr = number
        post_request(worker, None, {}, None)
    assert frozen == [config.wsgi.FREEZE_AFTER_REQUESTS]
