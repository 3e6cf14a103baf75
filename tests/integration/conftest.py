import uuid
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.webhook_receiver import WebhookReceiver
from tests.unit.test_cloudfront import DOMAIN, KEY_ID
from uploader import s3
from uploader.ingest import sqs_consumer as sqs
from uploader.ops.bucket_setup import bucket_configure
from uploader.s3 import cloudfront

pytestmark = pytest.mark.integration


@pytest.fixture
def api(staff_client, s3_bucket):  # type: ignore[no-untyped-def]
    """A staff session against a fresh bucket on the emulator."""
    return staff_client


@pytest.fixture
def queue(s3_bucket: str, settings, transactional_db) -> str:  # type: ignore[no-untyped-def]
    """A fresh queue receiving the test bucket's object events; returns its URL.
    Transactional: the consumer commits and manages its connections like in production."""
    settings.INTAKE_SQS_VISIBILITY_SECONDS = 1  # redeliveries come back quickly
    name = f"events-{uuid.uuid4().hex[:10]}"
    bucket_configure(create=False, origins=["http://127.0.0.1:8000"], queue_arn=s3.ensure_queue(name), abort_after_days=2)
    url = sqs.queue_url_for(name)
    s3.sqs_client().purge_queue(QueueUrl=url)  # the configuration's s3:TestEvent
    return url


@pytest.fixture
def generous_rates(settings) -> None:  # type: ignore[no-untyped-def]
    """Portal tests other than the rate-limit ones do not trip the limits; those set
    their own."""
    settings.INTAKE_PORTAL_RATE_PAGE = (100_000, 60)
    settings.INTAKE_PORTAL_RATE_PASSWORD = (100_000, 60)
    settings.INTAKE_PORTAL_RATE_API = (100_000, 60)
    settings.INTAKE_REQUEST_RATE_CODE_EMAIL = (100_000, 60)
    settings.INTAKE_REQUEST_RATE_CODE_ADDRESS = (100_000, 60)
    settings.INTAKE_REQUEST_RATE_CODE_CHECK = (100_000, 60)


@pytest.fixture
def make_portal(staff_user, s3_bucket):  # type: ignore[no-untyped-def]
    """Create a portal as a staff member; returns it with its link token."""
    from uploader.portals import tokens as portal_tokens
    from uploader.portals.services import portal_create

    def make(name: str = "Acme accounts", **options: object):  # type: ignore[no-untyped-def]
        portal = portal_create(actor=staff_user, name=name, **options)
        return portal, portal_tokens.token_for(portal.token_nonce)

    return make


# --- CloudFront (nothing emulates it: URLs are verified with the public key made here) ---


@pytest.fixture(scope="session")
def key_pair() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def with_cloudfront(settings, key_pair: rsa.RSAPrivateKey):  # type: ignore[no-untyped-def]
    settings.INTAKE_CLOUDFRONT_DOMAIN = DOMAIN
    settings.INTAKE_CLOUDFRONT_KEY_ID = KEY_ID
    settings.INTAKE_CLOUDFRONT_PRIVATE_KEY = key_pair.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    settings.INTAKE_CLOUDFRONT_PRIVATE_KEY_FILE = ""
    cloudfront.forget_signer()
    yield key_pair.public_key()
    cloudfront.forget_signer()


@pytest.fixture
def digest(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """Run the notification beat task and what it enqueues on commit (the webhook
    deliveries, eagerly)."""
    from uploader.notify import tasks as notify_tasks

    def run() -> dict[str, int]:
        with django_capture_on_commit_callbacks(execute=True):
            return notify_tasks.notify_portal_uploads()

    return run


# --- the CORS chain: the emulator's bucket and the app on a live server ---

CORS_BROWSER_ORIGIN = "http://127.0.0.1:8000"  # what the s3_bucket fixture allows
CORS_APP_ORIGIN = "https://app.example.test"

@pytest.fixture
def chain(s3_bucket: str, live_server, settings) -> str:  # type: ignore[no-untyped-def]
    settings.INTAKE_CORS_ALLOWED_ORIGINS = [CORS_BROWSER_ORIGIN]
    settings.INTAKE_API_CORS_ALLOWED_ORIGINS = [CORS_APP_ORIGIN]
    settings.CORS_ALLOWED_ORIGINS = [CORS_APP_ORIGIN]
    settings.INTAKE_PUBLIC_BASE_URL = live_server.url
    settings.INTAKE_CLOUDFRONT_DOMAIN = ""
    return s3_bucket


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """A real HTTP server on 127.0.0.1 that records what webhooks POST to it."""
    with WebhookReceiver() as running:
        yield running


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """A redis-server of the session's own on a free port (broker and cache tests
    flush it at will); yields its URL."""
    from tests.support.processes import RedisServer

    server = RedisServer().start()
    yield server.url
    server.stop()
