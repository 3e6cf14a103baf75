"""The database and Redis given in parts, as the AWS stack's tasks get them
(deploy/intake.yaml: RDS's user and password from its secret, the cache's AUTH token
as REDIS_PASSWORD, Redis over TLS with its certificate verified), and the probes
answering a health checker that calls by IP. Production settings load in a subprocess
(like tests/unit/test_settings.py); the connections are real: the machine's PostgreSQL,
and a redis-server started here speaking only TLS and asking for a password."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from tests.unit.test_settings import MINIMAL_PRODUCTION_ENV

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
# A password with every character a URL would have to quote.
AWKWARD = "p@ss:w/rd#?%&+ x"
PARTS = {
    "DATABASE_HOST": "intake.abc123.eu-west-1.rds.amazonaws.com",
    "DATABASE_PORT": "5432",
    "DATABASE_NAME": "intake",
    "DATABASE_USER": "intake",
    "DATABASE_PASSWORD": AWKWARD,
    "DATABASE_SSLMODE": "require",
}


def _production(env: dict[str, str], code: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in MINIMAL_PRODUCTION_ENV.items() if k != "DATABASE_URL"}
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "INTAKE_", "DATABASE_", "REDIS_", "CELERY_"))
    }
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); " + code],
        cwd=ROOT,
        env={**clean, **base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_database_is_made_from_parts_with_the_password_as_given() -> None:
    result = _production(
        PARTS,
        "import json; from django.conf import settings as s; print(json.dumps(s.DATABASES['default'], default=str))",
    )
    assert result.returncode == 0, result.stderr
    database = json.loads(result.stdout)
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["HOST"], database["PORT"], database["NAME"], database["USER"]) == (
        PARTS["DATABASE_HOST"],
        5432,
        "intake",
        "intake",
    )
    assert database["PASSWORD"] == AWKWARD
    assert database["OPTIONS"] == {"sslmode": "require"}
    assert database["CONN_MAX_AGE"] == 60  # the usual settings still apply on top


def test_production_names_the_database_when_neither_url_nor_parts_are_given() -> None:
    result = _production({**PARTS, "DATABASE_HOST": ""}, "pass")
    assert result.returncode != 0
    assert "DATABASE_URL (or DATABASE_HOST" in result.stderr


def test_the_redis_password_goes_into_the_cache_and_broker_urls_quoted() -> None:
    result = _production(
        {
            **PARTS,
            "REDIS_URL": "rediss://cache.abc.euw1.cache.amazonaws.com:6379/0?ssl_cert_reqs=required",
            "REDIS_PASSWORD": AWKWARD,
        },
        "from django.conf import settings as s; print(s.CACHES['default']['LOCATION']); print(s.CELERY_BROKER_URL)",
    )
    assert result.returncode == 0, result.stderr
    location, broker = result.stdout.split()
    assert location == broker
    parts = urlsplit(location)
    assert (parts.scheme, parts.hostname, parts.port, parts.path, parts.query) == (
        "rediss",
        "cache.abc.euw1.cache.amazonaws.com",
        6379,
        "/0",
        "ssl_cert_reqs=required",
    )
    assert parts.password is not None
    assert unquote(parts.password) == AWKWARD


def test_production_refuses_a_rediss_url_that_would_accept_any_certificate() -> None:
    result = _production({**PARTS, "REDIS_URL": "rediss://cache.example.test:6379/0"}, "pass")
    assert result.returncode != 0
    assert "needs ?ssl_cert_reqs=required" in result.stderr


def _self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture
def redis_over_tls_with_password(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A redis-server speaking only TLS and asking for AUTH, like the stack's ElastiCache:
    its rediss:// URL (as the template writes it) and the certificate to trust."""
    from emulator import die_with_parent, free_port

    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed (scripts/bootstrap.sh installs it)"
    cert, key = _self_signed(tmp_path, "cache")
    port = free_port()
    tls = ["--tls-port", str(port), "--tls-cert-file", str(cert), "--tls-key-file", str(key)]
    tls += ["--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no"]
    process = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", "0", *tls, "--save", "", "--requirepass", AWKWARD],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=die_with_parent,
    )
    import redis

    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis(host="127.0.0.1", port=port, password=AWKWARD, ssl=True, ssl_ca_certs=str(cert)).ping()
            break
        except redis.RedisError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    try:
        yield f"rediss://127.0.0.1:{port}/0?ssl_cert_reqs=required", cert
    finally:
        process.terminate()
        process.wait(timeout=10)


CACHE_AND_BROKER = (
    "from django.core.cache import cache; cache.set('intake:parts', 'ok', 30); print(cache.get('intake:parts')); "
    "from config.celery_app import app; "
    "connection = app.connection_for_write(); connection.ensure_connection(max_retries=0); "
    "print('broker', connection.default_channel.client.ping())"
)


def test_the_cache_and_the_broker_connect_over_verified_tls_with_the_password(
    redis_over_tls_with_password: tuple[str, Path], tmp_path: Path
) -> None:
    url, certificate = redis_over_tls_with_password
    # The certificate is trusted the way the image trusts Amazon's: OpenSSL's default store.
    trusted = {**PARTS, "REDIS_URL": url, "REDIS_PASSWORD": AWKWARD, "SSL_CERT_FILE": str(certificate)}
    result = _production(trusted, CACHE_AND_BROKER)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["ok", "broker True"]

    wrong = _production({**trusted, "REDIS_PASSWORD": "not-it"}, CACHE_AND_BROKER)
    assert wrong.returncode != 0
    assert "AuthenticationError" in wrong.stderr or "WRONGPASS" in wrong.stderr

    # A server whose certificate nobody vouches for is refused, by the cache and the broker.
    other, _ = _self_signed(tmp_path, "someone-else")
    untrusted = {**trusted, "SSL_CERT_FILE": str(other)}
    both = (
        "from django.core.cache import cache; from config.celery_app import app\n"
        "for name, connect in (('cache', lambda: cache.set('intake:parts', 'ok', 30)),\n"
        "                      ('broker', lambda: app.connection_for_write().ensure_connection(max_retries=0))):\n"
        "    try:\n        connect()\n        print(name, 'connected')\n"
        "    except Exception as exc:\n        print(name, 'refused', 'CERTIFICATE_VERIFY_FAILED' in repr(exc) + str(exc))\n"
    )
    refused = _production(untrusted, both)
    assert refused.returncode == 0, refused.stderr
    assert refused.stdout.split("\n")[:2] == ["cache refused True", "broker refused True"]


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="needs the machine's PostgreSQL (DATABASE_URL); CI's first pass sets it (.ci/run)",
)
def test_the_database_parts_connect_to_postgresql() -> None:
    url = urlsplit(os.environ["DATABASE_URL"])
    parts = {
        "DATABASE_HOST": url.hostname or "127.0.0.1",
        "DATABASE_PORT": str(url.port or 5432),
        "DATABASE_NAME": "postgres",
        "DATABASE_USER": url.username or "postgres",
        "DATABASE_PASSWORD": url.password or AWKWARD,  # trust authentication ignores it
        "DATABASE_SSLMODE": "prefer",
    }
    result = _production(
        parts,
        "from django.db import connection; cursor = connection.cursor(); cursor.execute('SELECT current_user'); "
        "print(cursor.fetchone()[0])",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == parts["DATABASE_USER"]


def test_a_health_checker_calling_by_ip_over_http_gets_the_probe_not_a_refusal() -> None:
    code = (
        "from django.test import Client; c = Client(); "
        "probe = c.get('/healthz/live', HTTP_HOST='10.40.10.7:8000'); "
        "other = c.get('/accounts/login/', HTTP_HOST='10.40.10.7:8000'); "
        "site = c.get('/accounts/login/', HTTP_HOST='files.example.test'); "
        "print(probe.status_code, other.status_code, site.status_code, site.get('Location', ''))"
    )
    result = _production(PARTS, code)
    assert result.returncode == 0, result.stderr
    # Production logs JSON lines on stdout too (a Bad Request warning): the answer is the last line.
    probe, other, site, location = result.stdout.strip().splitlines()[-1].split()
    assert probe == "200"  # neither refused (Host) nor redirected to https
    assert other == "400"  # every other path keeps Django's Host check
    assert (site, location) == ("301", "https://files.example.test/accounts/login/")
