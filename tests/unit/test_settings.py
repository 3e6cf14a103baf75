"""Production settings load from a minimal environment and name what is missing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.settings_process import settings_in_new_process

ROOT = Path(__file__).resolve().parents[2]
MINIMAL_PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "x" * 64,
    "DJANGO_ALLOWED_HOSTS": "files.example.test",
    "DATABASE_URL": "postgres://intake@db.example.test:5432/intake",
    "REDIS_URL": "redis://cache.example.test:6379/0",
    "INTAKE_S3_BUCKET": "acme-intake",
    "INTAKE_CORS_ALLOWED_ORIGINS": "https://files.example.test",
    "INTAKE_COGNITO_REGION": "eu-west-1",
    "INTAKE_COGNITO_USER_POOL_ID": "eu-west-1_AbCdEf123",
    "INTAKE_COGNITO_CLIENT_ID": "4s1mpl3cl13nt1d0000000000",
    "INTAKE_COGNITO_CLIENT_SECRET": "s" * 51,
    "INTAKE_COGNITO_DOMAIN": "auth.files.example.test",
    "INTAKE_PUBLIC_BASE_URL": "https://files.example.test",
    "INTAKE_WEBHOOK_SIGNING_KEY": "w" * 40,
}


def _load(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = "import django; django.setup(); from django.conf import settings; print(settings.INTAKE_S3_BUCKET, settings.DEBUG)"
    return settings_in_new_process(code, env)


def test_production_settings_load_from_a_minimal_environment() -> None:
    result = _load(MINIMAL_PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["acme-intake", "False"]


def test_a_cloudfront_domain_without_its_key_stops_start_up_naming_the_variable() -> None:
    result = _load({**MINIMAL_PRODUCTION_ENV, "INTAKE_CLOUDFRONT_DOMAIN": "files-cdn.example.test"})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "INTAKE_CLOUDFRONT_KEY_ID" in result.stderr


@pytest.mark.parametrize(
    "missing",
    [
        "DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL", "INTAKE_S3_BUCKET", "INTAKE_CORS_ALLOWED_ORIGINS",
        "REDIS_URL", "INTAKE_PUBLIC_BASE_URL",
    ],
)
def test_production_settings_name_the_missing_variable(missing: str) -> None:
    env = {k: v for k, v in MINIMAL_PRODUCTION_ENV.items() if k != missing}
    result = _load(env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert (missing if missing != "REDIS_URL" else "CELERY_BROKER_URL or REDIS_URL") in result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [("INTAKE_MAX_UPLOAD_BYTES", "lots"), ("INTAKE_MULTIPART_THRESHOLD_BYTES", "1024"), ("INTAKE_S3_ADDRESSING_STYLE", "sideways")],
)
def test_bad_values_stop_start_up_naming_the_variable(name: str, value: str) -> None:
    result = _load({**MINIMAL_PRODUCTION_ENV, name: value})
    assert result.returncode != 0
    assert name in result.stderr


def test_the_webhook_signing_key_is_required_and_must_be_long() -> None:
    missing = _load({k: v for k, v in MINIMAL_PRODUCTION_ENV.items() if k != "INTAKE_WEBHOOK_SIGNING_KEY"})
    assert missing.returncode != 0
    assert "INTAKE_WEBHOOK_SIGNING_KEY is required in production" in missing.stderr
    short = _load({**MINIMAL_PRODUCTION_ENV, "INTAKE_WEBHOOK_SIGNING_KEY": "short"})
    assert short.returncode != 0
    assert "INTAKE_WEBHOOK_SIGNING_KEY must be a random value of at least 32 characters" in short.stderr


def test_a_short_secret_key_is_refused() -> None:
    result = _load({**MINIMAL_PRODUCTION_ENV, "DJANGO_SECRET_KEY": "short"})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_production_refuses_to_start_without_cognito_unless_password_sign_in_is_allowed() -> None:
    without_cognito = {k: v for k, v in MINIMAL_PRODUCTION_ENV.items() if not k.startswith("INTAKE_COGNITO_")}
    refused = _load(without_cognito)
    assert refused.returncode != 0
    assert "INTAKE_ALLOW_PASSWORD_SIGN_IN" in refused.stderr
    allowed = _load({**without_cognito, "INTAKE_ALLOW_PASSWORD_SIGN_IN": "true"})
    assert allowed.returncode == 0, allowed.stderr


def test_cognito_needs_all_of_its_values() -> None:
    result = _load({k: v for k, v in MINIMAL_PRODUCTION_ENV.items() if k != "INTAKE_COGNITO_CLIENT_SECRET"})
    assert result.returncode != 0
    assert "INTAKE_COGNITO_CLIENT_SECRET" in result.stderr


def test_with_cognito_and_no_password_sign_in_only_the_cognito_backend_is_active() -> None:
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.AUTHENTICATION_BACKENDS, settings.OIDC_OP_AUTHORIZATION_ENDPOINT, settings.OIDC_OP_JWKS_ENDPOINT)"
    )
    result = settings_in_new_process(code, MINIMAL_PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "['dashboard.signin.oidc.CognitoBackend']",
        "https://auth.files.example.test/oauth2/authorize",
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123/.well-known/jwks.json",
    ]


@pytest.mark.parametrize(
    ("meta", "trusted", "expected"),
    [
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "6.6.6.6"}, 0, "10.0.0.1"),
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.7"}, 1, "203.0.113.7"),
        # The client wrote the left entry itself; one proxy appended the right one.
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.7"}, 1, "203.0.113.7"),
        ({"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.7, 10.0.0.1"}, 2, "203.0.113.7"),
        # Fewer hops than proxies: the header is not what the proxies would write.
        ({"REMOTE_ADDR": "10.0.0.1"}, 1, "10.0.0.1"),
    ],
)
def test_client_ip_counts_trusted_proxies_from_the_right(meta: dict[str, str], trusted: int, expected: str) -> None:
    from config.request_context import client_ip

    assert client_ip(meta, trusted_proxies=trusted) == expected


def test_production_needs_a_shared_cache_even_with_another_broker() -> None:
    env = {k: v for k, v in MINIMAL_PRODUCTION_ENV.items() if k != "REDIS_URL"}
    result = _load({**env, "CELERY_BROKER_URL": "sqs://"})
    assert result.returncode != 0
    assert "REDIS_URL is required in production: rate limits" in result.stderr


def test_a_mistyped_cognito_setting_stops_start_up() -> None:
    result = _load({**MINIMAL_PRODUCTION_ENV, "INTAKE_COGNITO_REGION": "eu-west-2"})
    assert result.returncode != 0
    assert "does not belong to region" in result.stderr


def test_the_app_files_storage_is_made_from_the_s3_settings_without_app_code() -> None:
    """STORAGES["intake"] names the app's S3Storage without importing it (loading the
    settings imports nothing of the app); made, it has the bucket, endpoint, region,
    keys, addressing and timeouts of the same INTAKE_S3_* variables as uploader.s3's
    client."""
    code = (
        "import json, sys; from django.conf import settings; settings.INTAKE_S3_BUCKET; "
        "app_modules = sorted(m for m in sys.modules if m.split('.')[0] in {'uploader', 'dashboard'}); "
        "backend = settings.STORAGES['intake']['BACKEND']; "
        "import django; django.setup(); from django.core.files.storage import storages; s = storages['intake']; "
        "c = s.client_config; "
        "print(json.dumps({'backend': backend, 'bucket': s.bucket_name, 'endpoint': s.endpoint_url, "
        "'region': s.region_name, 'keys': [s.access_key, s.secret_key, s.security_token], "
        "'addressing': c.s3['addressing_style'], 'timeouts': [c.connect_timeout, c.read_timeout], "
        "'overwrite': s.file_overwrite, 'acl': s.default_acl, 'signed_urls': s.querystring_auth, "
        "'app_modules': app_modules}))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "INTAKE_", "DATABASE_", "REDIS_", "CELERY_"))}
    env = {
        **clean,
        **MINIMAL_PRODUCTION_ENV,
        "INTAKE_S3_ENDPOINT_URL": "https://s3.example.test",
        "INTAKE_S3_REGION": "eu-central-1",
        "INTAKE_S3_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "INTAKE_S3_SECRET_ACCESS_KEY": "wJalrXUtnFEMI",
        "INTAKE_S3_CONNECT_TIMEOUT": "2.5",
        "INTAKE_S3_READ_TIMEOUT": "7",
    }
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "backend": "uploader.s3.app_files.AppFileStorage",
        "bucket": "acme-intake",
        "endpoint": "https://s3.example.test",
        "region": "eu-central-1",
        "keys": ["AKIDEXAMPLE", "wJalrXUtnFEMI", None],
        "addressing": "path",
        "timeouts": [2.5, 7.0],
        "overwrite": True,
        "acl": None,
        "signed_urls": True,
        "app_modules": [],
    }
