"""A document request's client proving who they are: a one-time code e-mailed to one
of the request's addresses (the locmem outbox), its expiry and its five guesses, the
same answer for an address that is not the request's, the rate limits, and the upload
contract's mount refusing a browser that has not entered the code."""

from __future__ import annotations

import random
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.utils import timezone

from tests.integration.test_document_requests import item, make_request, sign
from uploader.audit.models import AuditEntry
from uploader.requests.models import DocumentRequest, RequestAccessCode

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("generous_rates")]


@pytest.fixture(autouse=True)
def locmem_mail(settings) -> None:  # type: ignore[no-untyped-def]
    # Rate counts are keyed by request id, and SQLite gives a rolled-back id out again.
    cache.clear()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.INTAKE_REQUEST_RATE_CODE_EMAIL = (100, 3600)
    settings.INTAKE_REQUEST_RATE_CODE_ADDRESS = (100, 3600)
    settings.INTAKE_REQUEST_RATE_CODE_CHECK = (100, 300)


def browser() -> Client:
    return Client(REMOTE_ADDR=f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}")


def ask_code(client: Client, token: str, email: str) -> str:
    """Ask for a code; the code e-mailed, or "" when none was."""
    before = len(mail.outbox)
    answer = client.post(f"/r/{token}/", {"email": email})
    assert answer.status_code == 302
    assert answer["Location"] == f"/r/{token}/code/"
    if len(mail.outbox) == before:
        return ""
    message = mail.outbox[-1]
    assert message.to == [email.strip().lower()]
    found = re.search(r"\b(\d{6})\b", message.body)
    assert found is not None
    return found.group(1)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def without_csrf(content: bytes) -> bytes:
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]*"', b"", content)


def actions(document_request: DocumentRequest) -> list[str]:
    return list(
        AuditEntry.objects.filter(detail__request=document_request.pk, action__startswith="request.code")
        .order_by("id")
        .values_list("action", flat=True)
    )


def test_the_right_code_opens_the_checklist_and_the_upload_mount(staff_user: User, s3_bucket: str) -> None:
    document_request, token = make_request(staff_user, client_emails=["ann@example.test", "tax@ann.example"])
    p60 = item(document_request, "P60 for 2025")
    client = browser()
    first = client.get(f"/r/{token}/")
    assert first.status_code == 200
    assert b"Confirm it is you" in first.content
    assert b"Ann Client" not in first.content
    assert b"P60" not in first.content
    # Neither the item page nor the contract opens yet.
    assert client.get(f"/r/{token}/items/{p60.pk}/")["Location"] == f"/r/{token}/"
    locked = sign(client, token, p60.pk)
    assert locked.status_code == 403
    assert locked.json()["code"] == "request_locked"

    code = ask_code(client, token, "  Tax@Ann.Example ")
    assert code
    page = client.get(f"/r/{token}/code/")
    assert b"tax@ann.example" in page.content
    stored = RequestAccessCode.objects.get(request=document_request)
    assert code not in stored.code_hash  # only an HMAC of it is kept
    opened = client.post(f"/r/{token}/code/", {"code": code})
    assert opened.status_code == 302
    assert opened["Location"] == f"/r/{token}/"
    checklist = client.get(f"/r/{token}/")
    assert b"Hello Ann Client" in checklist.content
    assert client.get(f"/r/{token}/items/{p60.pk}/").status_code == 200
    assert sign(client, token, p60.pk).status_code == 200
    # The code is spent, and another browser is still a stranger.
    assert client.post(f"/r/{token}/code/", {"code": code}).status_code == 302  # verified already: back to the list
    stranger = browser()
    assert sign(stranger, token, p60.pk).status_code == 403
    assert actions(document_request) == ["request.code_sent", "request.code_verified"]
    # Taking the address off the request locks its browsers out.
    DocumentRequest.objects.filter(pk=document_request.pk).update(client_emails=["ann@example.test"])
    assert sign(client, token, p60.pk).status_code == 403
    assert b"Confirm it is you" in client.get(f"/r/{token}/").content


def test_five_wrong_codes_lock_the_code_even_the_right_one(staff_user: User) -> None:
    document_request, token = make_request(staff_user)
    client = browser()
    code = ask_code(client, token, "ann@example.test")
    for _ in range(5):
        answer = client.post(f"/r/{token}/code/", {"code": wrong(code)})
        assert answer.status_code == 400
        assert b"not right" in answer.content
    refused = client.post(f"/r/{token}/code/", {"code": code})
    assert refused.status_code == 400
    assert b"Confirm it is you" in client.get(f"/r/{token}/").content
    assert RequestAccessCode.objects.get(request=document_request).attempts == 5
    assert actions(document_request).count("request.code_failed") == 6
    # A new code works.
    fresh = ask_code(client, token, "ann@example.test")
    assert client.post(f"/r/{token}/code/", {"code": fresh}).status_code == 302
    assert b"Hello Ann Client" in client.get(f"/r/{token}/").content


def test_an_expired_code_is_refused(staff_user: User) -> None:
    document_request, token = make_request(staff_user)
    client = browser()
    code = ask_code(client, token, "ann@example.test")
    RequestAccessCode.objects.filter(request=document_request).update(expires_at=timezone.now())
    assert client.post(f"/r/{token}/code/", {"code": code}).status_code == 400
    assert b"Confirm it is you" in client.get(f"/r/{token}/").content


def test_an_earlier_code_is_spent_when_a_new_one_is_sent(staff_user: User) -> None:
    _, token = make_request(staff_user)
    client = browser()
    first = ask_code(client, token, "ann@example.test")
    second = ask_code(client, token, "ann@example.test")
    if first != second:
        assert client.post(f"/r/{token}/code/", {"code": first}).status_code == 400
    assert client.post(f"/r/{token}/code/", {"code": second}).status_code == 302


def test_an_address_not_on_the_request_gets_the_same_answer_and_no_email(staff_user: User) -> None:
    document_request, token = make_request(staff_user)
    known, unknown = browser(), browser()
    ask_code(known, token, "ann@example.test")
    assert ask_code(unknown, token, "mallory@example.test") == ""
    assert [m.to for m in mail.outbox] == [["ann@example.test"]]

    def shown(client: Client, address: str) -> bytes:
        return without_csrf(client.get(f"/r/{token}/code/").content.replace(address.encode(), b"ADDRESS"))

    assert shown(known, "ann@example.test") == shown(unknown, "mallory@example.test")
    # Guessing for it answers like a wrong code.
    known_wrong = known.post(f"/r/{token}/code/", {"code": "000000"})
    unknown_wrong = unknown.post(f"/r/{token}/code/", {"code": "000000"})
    assert known_wrong.status_code == unknown_wrong.status_code == 400
    assert without_csrf(known_wrong.content.replace(b"ann@example.test", b"A")) == without_csrf(
        unknown_wrong.content.replace(b"mallory@example.test", b"A")
    )
    assert "request.code_not_sent" in actions(document_request)


def test_a_bad_address_is_a_clear_400(staff_user: User) -> None:
    _, token = make_request(staff_user)
    answer = browser().post(f"/r/{token}/", {"email": "not an address"})
    assert answer.status_code == 400
    assert b"Enter your e-mail address." in answer.content
    assert not mail.outbox


def test_codes_are_rate_limited_per_address_and_per_client_address(staff_user: User, settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_REQUEST_RATE_CODE_EMAIL = (2, 3600)
    settings.INTAKE_REQUEST_RATE_CODE_ADDRESS = (3, 3600)
    settings.INTAKE_REQUEST_RATE_CODE_CHECK = (4, 300)
    document_request, token = make_request(staff_user)
    # Per e-mail address, whichever browser asks (and whether or not it is the request's).
    assert ask_code(browser(), token, "ann@example.test")
    assert ask_code(browser(), token, "ann@example.test")
    limited = browser().post(f"/r/{token}/", {"email": "ann@example.test"})
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) > 0
    assert len(mail.outbox) == 2
    # Per client address, whatever address it asks for.
    client = browser()
    for n in range(3):
        assert client.post(f"/r/{token}/", {"email": f"someone{n}@example.test"}).status_code == 302
    assert client.post(f"/r/{token}/", {"email": "other@example.test"}).status_code == 429
    # Guesses per client address.
    guesser = browser()
    guesser.post(f"/r/{token}/", {"email": "x@example.test"})
    for _ in range(4):
        assert guesser.post(f"/r/{token}/code/", {"code": "123456"}).status_code == 400
    assert guesser.post(f"/r/{token}/code/", {"code": "123456"}).status_code == 429
    assert document_request.pk


def test_a_request_without_the_code_opens_with_the_link_alone(staff_user: User, s3_bucket: str) -> None:
    document_request, token = make_request(staff_user, require_code=False)
    client = browser()
    assert b"Hello Ann Client" in client.get(f"/r/{token}/").content
    assert sign(client, token, item(document_request, "Photo ID").pk, filename="id.pdf").status_code == 200


def test_the_code_is_on_for_new_requests_unless_the_setting_turns_it_off(staff_user: User, settings) -> None:  # type: ignore[no-untyped-def]
    assert make_request(staff_user)[0].require_code
    settings.INTAKE_REQUEST_REQUIRE_CODE = False
    assert not make_request(staff_user)[0].require_code


def test_the_staff_list_filters_by_client_name_email_or_company(staff_user: User, staff_client: Client) -> None:
    ann, _ = make_request(staff_user, client_name="Ann Archer", client_emails=["ann@archer.example"])
    bob, _ = make_request(staff_user, client_name="Bob Baker", client_emails=["bob@x.example"], company="Bakery Ltd")
    cat, _ = make_request(staff_user, client_name="Cat Cole", client_emails=["Cat.Cole@Mail.example"])

    def shown(query: str) -> set[int]:
        page = staff_client.get("/requests/", {"client": query})
        assert page.status_code == 200
        return {int(pk) for pk in re.findall(rb'data-request="(\d+)"', page.content)}

    assert shown("archer") == {ann.pk}
    assert shown("BAKERY") == {bob.pk}
    assert shown("cat.cole@mail") == {cat.pk}
    assert shown("") == {ann.pk, bob.pk, cat.pk}
    assert shown("nobody") == set()
    assert shown("%") == set()  # a LIKE wildcard is matched as itself


def test_a_browser_is_let_in_for_a_set_time_only(staff_user: User, s3_bucket: str, settings) -> None:  # type: ignore[no-untyped-def]
    document_request, token = make_request(staff_user)
    client = browser()
    assert client.post(f"/r/{token}/code/", {"code": "123456"}).status_code == 302  # no address asked yet: back
    code = ask_code(client, token, "ann@example.test")
    client.post(f"/r/{token}/code/", {"code": code})
    session = client.session
    state = session["intake_requests"][str(document_request.pk)]
    assert state["until"] - time.time() > settings.INTAKE_REQUEST_ACCESS_DAYS * 86400 - 60
    assert session.get_expiry_age() > (settings.INTAKE_REQUEST_ACCESS_DAYS - 1) * 86400
    state["until"] = int(time.time()) - 1
    session.save()
    assert b"Confirm it is you" in client.get(f"/r/{token}/").content
    assert sign(client, token, item(document_request, "Photo ID").pk, filename="id.pdf").status_code == 403


def test_staff_choose_the_code_when_making_a_request_ticked_by_default(staff_client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    form = staff_client.get("/requests/new").content.decode()
    assert re.search(r'<input[^>]*name="require_code"[^>]*checked', form)
    rows = {"items-TOTAL_FORMS": "1", "items-INITIAL_FORMS": "0", "items-0-title": "P60", "items-0-required": "on"}
    base = {"client_name": "Ann", "client_emails": "ann@example.test", **rows}
    assert staff_client.post("/requests/new", {**base, "require_code": "on"}).status_code == 302
    assert staff_client.post("/requests/new", base).status_code == 302
    assert list(DocumentRequest.objects.order_by("pk").values_list("require_code", flat=True)) == [True, False]
    settings.INTAKE_REQUEST_REQUIRE_CODE = False
    form = staff_client.get("/requests/new").content.decode()
    assert not re.search(r'<input[^>]*name="require_code"[^>]*checked', form)


@pytest.mark.django_db(transaction=True)
def test_parallel_guesses_get_five_tries_in_all(staff_user: User) -> None:
    document_request, token = make_request(staff_user)
    client = browser()
    code = ask_code(client, token, "ann@example.test")
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    barrier = threading.Barrier(10)

    def guess() -> int:
        same_browser = browser()
        same_browser.cookies[django_settings.SESSION_COOKIE_NAME] = cookie
        barrier.wait()
        try:
            return same_browser.post(f"/r/{token}/code/", {"code": wrong(code)}).status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda _: guess(), range(10)))
    assert answers == [400] * 10
    assert RequestAccessCode.objects.get(request=document_request).attempts == 5
    failed = AuditEntry.objects.filter(action="request.code_failed", detail__request=document_request.pk)
    assert failed.filter(detail__why="wrong code").count() == 5
    assert client.post(f"/r/{token}/code/", {"code": code}).status_code == 400  # spent, even the right one
