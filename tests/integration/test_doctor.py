"""`manage.py doctor` against deliberately broken set-ups on the emulator: each break is
caught with the right fix, a good set-up passes, and no secret is ever printed."""

from __future__ import annotations

import io
import json
import re
import uuid
from typing import Any

import boto3
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.management import call_command
from emulator import free_port

from tests.integration.conftest import CORS_BROWSER_ORIGIN as BROWSER_ORIGIN
from tests.support.date_proxy import DateShiftingProxy
from tests.support.smtp import SmtpSink
from uploader import s3
from uploader.ops.bucket_setup import bucket_configure, desired_cors_rule, event_queue_configure
from uploader.ops.doctor import doctor_run
from uploader.ops.doctor.mail import ses_identity_check
from uploader.s3 import cloudfront

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def run_doctor(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("doctor", *args, stdout=out)
        status = 0
    except SystemExit as exc:
        status = int(exc.code or 0)
    return status, out.getvalue()


def checks(*only: str) -> dict[str, dict[str, Any]]:
    report = doctor_run(only=only)
    return {
        result.name: {"status": str(result.status), "detail": result.detail, "fix": result.fix}
        for result in report.results
    }


def failures(*only: str) -> dict[str, dict[str, Any]]:
    return {name: check for name, check in checks(*only).items() if check["status"] == "failed"}


@pytest.fixture
def events(s3_bucket: str, settings) -> str:  # type: ignore[no-untyped-def]
    """The bucket's object events go to a fresh queue with a dead-letter queue, and the
    consumer is configured to read it (as setup_bucket --create-queue leaves things)."""
    name = f"events-{uuid.uuid4().hex[:10]}"
    arn, _ = event_queue_configure(name=name, max_receives=5)
    bucket_configure(create=False, origins=[BROWSER_ORIGIN], queue_arn=arn, abort_after_days=2)
    settings.INTAKE_S3_EVENTS_QUEUE_URL = s3.queue_url(name)
    settings.INTAKE_S3_EVENTS_QUEUE_ARN = arn
    settings.INTAKE_CORS_ALLOWED_ORIGINS = [BROWSER_ORIGIN]
    return str(settings.INTAKE_S3_EVENTS_QUEUE_URL)


# --- the bucket ------------------------------------------------------------------------


def test_a_configured_bucket_passes(events: str) -> None:
    found = checks("s3", "queue")
    assert {check["status"] for check in found.values()} == {"passed"}, found
    assert "created and removed objects are sent to" in found["object events go to the consumer's queue"]["detail"]


def test_no_lifecycle_rule_is_caught(events: str, s3_bucket: str) -> None:
    s3.boto3_client().delete_bucket_lifecycle(Bucket=s3_bucket)
    failed = failures("s3")
    assert failed["incomplete multipart uploads expire"]["fix"] == "run manage.py setup_bucket"
    assert "billed" in failed["incomplete multipart uploads expire"]["detail"]


def test_notifications_to_another_queue_are_caught(events: str, settings) -> None:  # type: ignore[no-untyped-def]
    other = s3.ensure_queue(f"other-{uuid.uuid4().hex[:8]}")
    bucket_configure(create=False, origins=[BROWSER_ORIGIN], queue_arn=other, abort_after_days=2)
    consumed = s3.queue_arn(events)
    failed = failures("s3")["object events go to the consumer's queue"]
    assert f"sends its events to {other}, not to the queue the consumer reads ({consumed})" in failed["detail"]
    assert failed["fix"].startswith(f"set INTAKE_S3_EVENTS_QUEUE_ARN={consumed} and run manage.py setup_bucket")


def test_a_missing_queue_is_caught(events: str, settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_S3_EVENTS_QUEUE_URL = events.rsplit("/", 1)[0] + "/no-such-queue"
    failed = failures("queue")["events queue no-such-queue"]
    assert failed["detail"] == "the queue does not exist"
    assert "setup_bucket --create-queue" in failed["fix"]


def test_a_queue_without_a_dead_letter_queue_is_caught(s3_bucket: str, settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_S3_EVENTS_QUEUE_URL = s3.queue_create(f"lonely-{uuid.uuid4().hex[:8]}")
    failed = failures("queue")["dead-letter queue"]
    assert "no RedrivePolicy" in failed["detail"]
    assert "--create-queue lonely-" in failed["fix"]


def test_dead_letters_waiting_are_caught(events: str) -> None:
    dlq = s3.queue_url_from_arn(s3.queue_redrive_policy(events)["deadLetterTargetArn"])
    s3.queue_send(dlq, "{}")
    [(name, failed)] = failures("queue").items()
    assert name.startswith("dead-letter queue events-")
    assert failed["detail"] == "1 message(s) the consumer could not apply"
    assert "/events/" in failed["fix"]


# --- CORS (the check_cors chain as one part) ------------------------------------------------


def test_no_cors_is_caught_through_the_cors_part(chain: str) -> None:
    s3.boto3_client().delete_bucket_cors(Bucket=chain)
    failed = failures("cors")
    assert failed[f"bucket: preflight single PUT from {BROWSER_ORIGIN}"]["fix"].endswith("run manage.py setup_bucket")
    assert "it has no CORS rules at all" in failed["rules: bucket rules match setup_bucket"]["detail"]


def test_etag_not_exposed_is_caught(chain: str) -> None:
    rule = {k: v for k, v in desired_cors_rule([BROWSER_ORIGIN]).items() if k != "ExposeHeaders"}
    s3.put_cors_rules([rule])
    failed = failures("cors")[f"bucket: signed PUT from {BROWSER_ORIGIN} exposes ETag"]
    assert failed["detail"] == "Access-Control-Expose-Headers lacks ETag: multipart uploads cannot complete"
    assert failed["fix"] == "run manage.py setup_bucket"


# --- the clock --------------------------------------------------------------------------


def test_a_clock_ten_minutes_off_is_caught(s3_bucket: str, s3_emulator, settings) -> None:  # type: ignore[no-untyped-def]
    assert checks("clock")["clock against S3's Date header"]["status"] == "passed"
    with DateShiftingProxy(s3_emulator.endpoint_url, shift_seconds=600) as proxy:
        settings.INTAKE_S3_ENDPOINT_URL = proxy.url
        s3.reset_clients()
        failed = failures("clock")["clock against S3's Date header"]
        assert proxy.dates_rewritten >= 1  # the Date really came through the proxy
    # 600 s, give or take the header's one-second resolution and the request's time.
    seconds = re.search(r"this machine is (\d+) s behind S3", failed["detail"])
    assert seconds is not None, failed["detail"]
    assert 598 <= int(seconds.group(1)) <= 602
    assert "NTP" in failed["fix"]


# --- CloudFront (moto's API; the key pair is made here) ------------------------------------


def _pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture
def distribution(s3_emulator, settings, with_cloudfront):  # type: ignore[no-untyped-def]
    """A distribution trusting a key group with one public key; returns a function that
    registers a public key (PEM) and points the settings at it."""
    settings.INTAKE_AWS_ENDPOINT_URL = s3_emulator.endpoint_url
    s3.reset_clients()
    api = boto3.client("cloudfront", endpoint_url=s3_emulator.endpoint_url, region_name="us-east-1")

    def make(public_pem: str, *, trusted: bool = True) -> str:
        tag = uuid.uuid4().hex[:10]
        key_id = api.create_public_key(
            PublicKeyConfig={"CallerReference": tag, "Name": f"intake-{tag}", "EncodedKey": public_pem}
        )["PublicKey"]["Id"]
        group = api.create_key_group(KeyGroupConfig={"Name": f"intake-{tag}", "Items": [key_id]})["KeyGroup"]["Id"]
        behaviour: dict[str, Any] = {"TargetOriginId": "bucket", "ViewerProtocolPolicy": "https-only"}
        if trusted:
            behaviour["TrustedKeyGroups"] = {"Enabled": True, "Quantity": 1, "Items": [group]}
        made = api.create_distribution(
            DistributionConfig={
                "CallerReference": tag,
                "Origins": {
                    "Quantity": 1,
                    "Items": [
                        {
                            "Id": "bucket",
                            "DomainName": "intake.s3.amazonaws.com",
                            "S3OriginConfig": {"OriginAccessIdentity": ""},
                        }
                    ],
                },
                "DefaultCacheBehavior": behaviour,
                "Comment": "intake doctor test",
                "Enabled": True,
            }
        )
        settings.INTAKE_CLOUDFRONT_DOMAIN = made["Distribution"]["DomainName"]
        settings.INTAKE_CLOUDFRONT_KEY_ID = key_id
        return key_id

    yield make
    cloudfront.forget_signer()


def test_a_cloudfront_key_that_matches_passes(distribution, key_pair: rsa.RSAPrivateKey) -> None:  # type: ignore[no-untyped-def]
    key_id = distribution(_pem(key_pair))
    found = checks("cloudfront")
    assert found[f"private key matches public key {key_id}"]["status"] == "passed"
    assert [check["status"] for check in found.values()] == ["passed", "passed"]


def test_a_cloudfront_key_that_does_not_match_is_caught(distribution) -> None:  # type: ignore[no-untyped-def]
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_id = distribution(_pem(stranger))
    failed = failures("cloudfront")[f"private key matches public key {key_id}"]
    assert "CloudFront refuses every link (403)" in failed["detail"]
    assert f"install the private key of {key_id}" in failed["fix"]


def test_a_key_the_distribution_does_not_trust_is_caught(distribution, key_pair: rsa.RSAPrivateKey) -> None:  # type: ignore[no-untyped-def]
    key_id = distribution(_pem(key_pair), trusted=False)
    [(name, check)] = failures("cloudfront").items()
    assert name.endswith(f"trusts {key_id}")
    assert f"add public key {key_id} to the distribution's key group" in check["fix"]


# --- e-mail, Cognito, broker ----------------------------------------------------------------


def test_ses_identity_verified_or_not(s3_emulator, settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_AWS_ENDPOINT_URL = s3_emulator.endpoint_url
    s3.reset_clients()
    boto3.client("ses", endpoint_url=s3_emulator.endpoint_url, region_name="eu-west-1").verify_email_identity(
        EmailAddress="intake@verified.example.test"
    )
    assert ses_identity_check("Intake <intake@verified.example.test>", region="eu-west-1").status == "passed"
    refused = ses_identity_check("intake@unverified.example.test", region="eu-west-1")
    assert refused.status == "failed"
    assert "verify intake@unverified.example.test" in refused.fix


def test_an_smtp_server_that_is_not_there_is_caught(settings) -> None:  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    [(name, failed)] = failures("e-mail").items()
    assert name.startswith("SMTP 127.0.0.1:")
    assert failed["detail"] == "no connection (ConnectionRefusedError)"
    assert "DJANGO_EMAIL_HOST" in failed["fix"]


def test_a_cognito_pool_that_does_not_answer_is_caught(settings) -> None:  # type: ignore[no-untyped-def]
    issuer = f"http://127.0.0.1:{free_port()}"
    settings.INTAKE_OIDC_ENABLED = True
    settings.INTAKE_COGNITO_REGION, settings.INTAKE_COGNITO_USER_POOL_ID = "us-east-1", "us-east-1_Doctor"
    settings.INTAKE_COGNITO_CLIENT_ID, settings.INTAKE_COGNITO_DOMAIN = "doctorclient", issuer
    settings.INTAKE_OIDC_ISSUER_OVERRIDE = issuer
    failed = failures("cognito")["discovery document"]
    assert failed["detail"].startswith("no answer from 127.0.0.1:")
    assert "INTAKE_COGNITO_USER_POOL_ID" in failed["fix"]


def test_a_cognito_pool_that_answers_passes_and_a_wrong_domain_is_caught(settings) -> None:  # type: ignore[no-untyped-def]
    from tests.support.cognito import use_test_provider
    from tests.support.oidc import OidcProvider

    with OidcProvider(redirect_uris=["http://127.0.0.1:8000/oidc/callback/"]) as idp:
        use_test_provider(settings, idp)
        found = checks("cognito")
        assert [check["status"] for check in found.values()] == ["passed"] * 3, found
        assert found["signing keys (JWKS)"]["detail"].endswith("RSA key(s)")
        settings.INTAKE_COGNITO_DOMAIN = "https://auth.elsewhere.example.test"
        failed = failures("cognito")["hosted UI domain"]
    assert "INTAKE_COGNITO_DOMAIN says https://auth.elsewhere.example.test" in failed["detail"]
    assert failed["fix"].startswith("set INTAKE_COGNITO_DOMAIN to the pool's domain")


def test_the_broker_is_asked(settings, redis_server: str) -> None:  # type: ignore[no-untyped-def]
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = redis_server
    assert checks("broker")["connect"]["detail"].startswith("redis broker answers; ")
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"
    failed = failures("broker")["connect"]
    assert failed["detail"] == "redis broker does not answer (OperationalError)"
    assert "CELERY_BROKER_URL" in failed["fix"]


# --- the whole run --------------------------------------------------------------------------

SECRETS = {
    "SECRET_KEY": "doctor-django-secret-" + "k" * 40,
    "INTAKE_S3_SECRET_ACCESS_KEY": "doctor-s3-secret-0123456789",
    "INTAKE_WEBHOOK_SIGNING_KEY": "doctor-webhook-key-" + "w" * 20,
    "INTAKE_METRICS_TOKEN": "doctor-metrics-token-" + "m" * 20,
    "INTAKE_EVENTS_WEBHOOK_TOKEN": "doctor-push-token-0123456789",
}


@pytest.fixture
def good(chain: str, events: str, live_server, settings):  # type: ignore[no-untyped-def]
    """Everything configured and in order: the bucket allows the browser origin and the
    live server's, events go to the consumer's queue, mail goes to a real SMTP server."""
    origins = [BROWSER_ORIGIN, live_server.url]
    settings.INTAKE_CORS_ALLOWED_ORIGINS = origins
    bucket_configure(create=False, origins=origins, queue_arn=settings.INTAKE_S3_EVENTS_QUEUE_ARN, abort_after_days=2)
    for name, value in SECRETS.items():
        setattr(settings, name, value)
    settings.INTAKE_S3_ACCESS_KEY_ID = "AKIADOCTORTEST"
    s3.reset_clients()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    with SmtpSink() as sink:
        settings.EMAIL_HOST, settings.EMAIL_PORT = sink.host, sink.port
        yield
    s3.reset_clients()


def test_a_good_set_up_passes_every_part(good: None) -> None:
    status, out = run_doctor("--json")
    report = json.loads(out)
    assert status == 0, [c for c in report["checks"] if c["status"] == "failed"]
    parts = {check["part"] for check in report["checks"] if check["status"] == "passed"}
    assert parts >= {"settings", "database", "s3", "cors", "queue", "clock", "e-mail"}
    assert not any(secret in out for secret in SECRETS.values())


def test_a_broken_set_up_exits_1_and_prints_no_secret(good: None, settings, s3_bucket: str) -> None:  # type: ignore[no-untyped-def]
    s3.boto3_client().delete_bucket_lifecycle(Bucket=s3_bucket)
    settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = "mailer", "doctor-mail-password-0123"
    settings.INTAKE_CLOUDFRONT_DOMAIN, settings.INTAKE_CLOUDFRONT_KEY_ID = "files-cdn.invalid", "KDOCTOR"
    settings.INTAKE_CLOUDFRONT_PRIVATE_KEY = (
        "-----BEGIN PRIVATE KEY-----\\ndoctor-not-a-key-0123456789\\n-----END PRIVATE KEY-----"
    )
    secrets = [*SECRETS.values(), "doctor-mail-password-0123", "doctor-not-a-key-0123456789"]
    status, plain = run_doctor("--skip", "cors", "--timeout", "2")
    assert status == 1
    assert "✗ s3     incomplete multipart uploads expire" in plain
    assert "fix: fix INTAKE_CLOUDFRONT_PRIVATE_KEY" in plain
    assert "✗ e-mail SMTP" in plain
    status, as_json = run_doctor("--json", "--skip", "cors", "--timeout", "2")
    assert status == 1
    for secret in secrets:
        assert secret not in plain
        assert secret not in as_json


def test_an_unknown_part_is_refused_naming_the_known_ones() -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match=r"unknown part\(s\): disk \(known: settings, database"):
        call_command("doctor", "--only", "disk", stdout=io.StringIO())


# --- the admins' page ------------------------------------------------------------------------


def test_the_page_is_for_admins_and_runs_the_checks_on_post(events: str, s3_bucket: str) -> None:
    from tests.support.people import signed_in
    from uploader.access.roles import Role
    from uploader.audit.models import AuditEntry

    assert signed_in(Role.STAFF).get("/events/doctor").status_code == 403
    admin = signed_in(Role.ADMIN)
    page = admin.get("/events/doctor")
    assert page.status_code == 200
    assert "Run the checks" in page.content.decode()
    assert "data-status" not in page.content.decode()
    assert not AuditEntry.objects.filter(action="doctor.ran").exists()

    s3.boto3_client().delete_bucket_lifecycle(Bucket=s3_bucket)
    html = admin.post("/events/doctor").content.decode()
    assert 'data-doctor-summary="failed"' in html
    assert '<tr data-status="passed">' in html
    row = html[html.index("incomplete multipart uploads expire") :]
    assert "✗ failed" in row[:400]
    assert "run manage.py setup_bucket" in row[:600]
    [entry] = AuditEntry.objects.filter(action="doctor.ran")
    assert entry.detail["ok"] is False
    assert entry.detail["failed"] >= 1
