"""The app's own surface: health checks, the OpenAPI document, Redis where configured."""

from __future__ import annotations

import os

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import URLPattern, get_resolver

from uploader import s3

pytestmark = pytest.mark.integration


def test_liveness_is_a_bare_json_answer(client: Client) -> None:
    response = client.get("/healthz/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readiness_checks_database_cache_and_bucket(client: Client, s3_bucket: str, db: None) -> None:
    response = client.get("/healthz/ready")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "cache": "ok", "storage": "ok"}


def test_readiness_reports_background_processes_without_failing_the_web_process(client: Client, s3_bucket: str, db: None) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from uploader.ops.heartbeats import heartbeat_record

    response = client.get("/healthz/ready")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["background"] == {"worker": "never seen"}

    heartbeat_record(name="worker")
    heartbeat_record(name="consumer:intake-events", now=timezone.now() - timedelta(minutes=10))
    answer = client.get("/healthz/ready").json()
    assert answer["status"] == "degraded"
    assert answer["background"]["worker"] == "ok"
    assert answer["background"]["consumer:intake-events"].startswith("stale: last seen 6")

    heartbeat_record(name="consumer:intake-events")
    assert client.get("/healthz/ready").json() == {
        "status": "ok",
        "checks": {"database": "ok", "cache": "ok", "storage": "ok"},
        "background": {"consumer:intake-events": "ok", "worker": "ok"},
    }


def test_readiness_fails_when_the_bucket_is_unreachable(client: Client, s3_bucket: str, settings, db: None) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_S3_BUCKET = "no-such-bucket-here"
    s3.reset_clients()
    response = client.get("/healthz/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["storage"].startswith("error")


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL not set; CI sets it (.ci/run) and refuses to run without Redis")
def test_cache_is_the_shared_redis_when_configured() -> None:
    import redis
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    assert isinstance(caches["default"], RedisCache)
    cache.set("intake:test:shared", "seen-by-other-processes", 30)
    raw = redis.Redis.from_url(os.environ["REDIS_URL"])
    matches = list(raw.scan_iter(match="*intake:test:shared"))
    assert matches, "the value is in the Redis server, so other processes share it"
    cache.delete("intake:test:shared")


def test_openapi_document_is_valid_and_covers_every_route(client: Client) -> None:
    from openapi_spec_validator import validate

    document = client.get("/api/openapi.json").json()
    validate(document)
    resolver = get_resolver()
    # The upload API and the document requests API are both mounted at api/.
    api_mounts = [p for p in resolver.url_patterns if str(p.pattern) == "api/"]
    assert len(api_mounts) == 2
    documented = set(document["paths"])
    routes = set()
    for pattern in (p for mount in api_mounts for p in mount.url_patterns):  # type: ignore[attr-defined]
        assert isinstance(pattern, URLPattern)
        route = "/" + str(pattern.pattern)
        for converter, name in PATH_PARAMETERS.items():
            route = route.replace(converter, name)
        if route == "/openapi.json" or pattern.name == "no-such-call":  # the JSON 404 for any other path
            continue
        assert route in documented, f"{route} is not in the OpenAPI document"
        routes.add(route)
    assert documented <= routes, "the document describes a path nothing serves"


PATH_PARAMETERS = {
    "<str:upload_id>": "{uploadId}",
    "<int:part_number>": "{partNumber}",
    "<uuid:upload_id>": "{id}",
    "<int:request_id>": "{requestId}",
    "<int:item_id>": "{itemId}",
}
