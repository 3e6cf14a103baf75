"""The OpenAPI document is the upload API's plus the sections packages above it install
(uploader.apps): the requests API's paths are in it, the base document is never
changed by serving it, and a path described twice stops the document instead of one
description silently winning."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.exceptions import ImproperlyConfigured

from uploader.api import openapi
from uploader.requests.api.openapi import SECTION as REQUESTS_API


@pytest.fixture
def restored() -> Iterator[None]:
    yield
    openapi.install(REQUESTS_API)


def test_the_document_has_the_requests_api_and_serving_it_changes_nothing() -> None:
    first = openapi.document()
    assert {"/requests", "/requests/{requestId}", "/requests/{requestId}/close"} <= set(first["paths"])
    assert {"Request", "RequestSummary", "ReviewResult", "Upload"} <= set(first["components"]["schemas"])
    assert "/requests" not in openapi.DOCUMENT["paths"]
    assert openapi.document() == first


def test_a_path_described_twice_is_refused(restored: None) -> None:
    openapi.install(REQUESTS_API, openapi.Section(paths={"/uploads": {}}, schemas={}))
    with pytest.raises(ImproperlyConfigured, match="/uploads"):
        openapi.document()
    openapi.install(REQUESTS_API, REQUESTS_API)
    with pytest.raises(ImproperlyConfigured, match="described twice"):
        openapi.document()
