"""config.settings.environment's database_from_parts and redis_url_with_password,
called in this process with the environment set for each case (the production
settings that use them load in tests/integration/test_settings_parts.py)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.settings.environment import database_from_parts, redis_url_with_password

PARTS = {
    "DATABASE_HOST": "intake.abc123.eu-west-1.rds.amazonaws.com",
    "DATABASE_PORT": "5432",
    "DATABASE_NAME": "intake",
    "DATABASE_USER": "intake",
    "DATABASE_PASSWORD": "p@ss:w/rd#?%&+ x",
    "DATABASE_SSLMODE": "require",
}


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    for name in [*PARTS, "DATABASE_URL", "REDIS_PASSWORD"]:
        monkeypatch.delenv(name, raising=False)

    def given(values: dict[str, str]) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return given


def test_no_host_means_no_parts(environment) -> None:  # type: ignore[no-untyped-def]
    environment({"DATABASE_NAME": "intake"})
    assert database_from_parts() is None


def test_the_parts_make_a_postgresql_database(environment) -> None:  # type: ignore[no-untyped-def]
    environment(PARTS)
    assert database_from_parts() == {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": PARTS["DATABASE_HOST"],
        "PORT": 5432,
        "NAME": "intake",
        "USER": "intake",
        "PASSWORD": PARTS["DATABASE_PASSWORD"],
        "OPTIONS": {"sslmode": "require"},
    }
    environment({"DATABASE_SSLMODE": ""})
    assert database_from_parts()["OPTIONS"] == {"sslmode": "prefer"}  # type: ignore[index]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"DATABASE_PASSWORD": ""}, "DATABASE_PASSWORD must be set too"),
        ({"DATABASE_USER": "", "DATABASE_NAME": ""}, "DATABASE_NAME, DATABASE_USER must be set too"),
        ({"DATABASE_URL": "postgres://intake@db.example.test/intake"}, "not both"),
        ({"DATABASE_SSLMODE": "yes-please"}, "DATABASE_SSLMODE"),
        ({"DATABASE_PORT": "fivefourthreetwo"}, "DATABASE_PORT"),
    ],
)
def test_incomplete_or_conflicting_parts_are_refused_naming_the_variable(
    environment,  # type: ignore[no-untyped-def]
    change: dict[str, str],
    message: str,
) -> None:
    environment({**PARTS, **change})
    with pytest.raises(ImproperlyConfigured, match=message.replace("?", r"\?")):
        database_from_parts()


def test_without_a_password_the_redis_url_stays_as_it_is(environment) -> None:  # type: ignore[no-untyped-def]
    assert redis_url_with_password("redis://cache.example.test:6379/0") == "redis://cache.example.test:6379/0"
    assert redis_url_with_password("") == ""


def test_the_redis_password_is_quoted_into_the_url_keeping_user_and_query(environment) -> None:  # type: ignore[no-untyped-def]
    environment({"REDIS_PASSWORD": "a@b/c:d"})
    assert (
        redis_url_with_password("rediss://cache.example.test:6379/0?ssl_cert_reqs=required")
        == "rediss://:a%40b%2Fc%3Ad@cache.example.test:6379/0?ssl_cert_reqs=required"
    )
    assert (
        redis_url_with_password("redis://app@cache.example.test/1") == "redis://app:a%40b%2Fc%3Ad@cache.example.test/1"
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis://:already@cache.example.test:6379/0", "not both"),
        ("", "REDIS_PASSWORD is set but REDIS_URL is not"),
    ],
)
def test_a_redis_password_that_cannot_be_placed_is_refused(environment, url: str, message: str) -> None:  # type: ignore[no-untyped-def]
    environment({"REDIS_PASSWORD": "x"})
    with pytest.raises(ImproperlyConfigured, match=message):
        redis_url_with_password(url)
