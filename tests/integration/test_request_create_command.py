"""`manage.py request_create`: a request made from a template through the staff form's
service, its link printed, and a clear refusal (nothing written) for what is wrong."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError
from django.db import connections

from uploader.access.accounts import user_set_role
from uploader.access.roles import Role
from uploader.audit.models import AuditEntry
from uploader.requests import tokens
from uploader.requests.models import DocumentRequest, RequestTemplate, TemplateItem

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def tax_pack(db: None) -> RequestTemplate:
    template = RequestTemplate.objects.create(name="Annual tax return pack", retention_days=90)
    TemplateItem.objects.create(
        template=template, position=0, title="P60 for 2025", allowed_extensions=[".pdf"], max_files=1
    )
    TemplateItem.objects.create(template=template, position=1, title="Photo ID", allowed_content_types=["image/*"])
    TemplateItem.objects.create(template=template, position=2, title="Anything else", required=False)
    return template


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("request_create", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_makes_the_request_from_the_template_and_prints_its_link(tax_pack: RequestTemplate, settings) -> None:  # type: ignore[no-untyped-def]
    settings.INTAKE_PUBLIC_BASE_URL = "https://files.example.test"
    settings.INTAKE_REQUEST_REQUIRE_CODE = True
    out, err = run(
        "--template",
        "annual TAX return pack",  # any case, when only one template has the name
        "--client-email",
        "ann@example.test",
        "--client-email",
        "office@ann.example.test",
        "--client-name",
        "Ann <b>Client</b>",
        "--company",
        "Ann Ltd",
        "--due",
        "2030-01-31",
    )
    made = DocumentRequest.objects.get()
    assert out == f"https://files.example.test/r/{tokens.token_for(made.token_nonce)}/\n"
    assert f"Made request {made.pk}" in err
    assert (made.client_name, made.company, str(made.due_date)) == ("Ann <b>Client</b>", "Ann Ltd", "2030-01-31")
    assert made.client_emails == ["ann@example.test", "office@ann.example.test"]
    assert (made.template, made.retention_days, made.require_code, made.created_by) == (tax_pack, 90, True, None)
    rows = list(made.items.values_list("title", "required", "allowed_extensions", "allowed_content_types", "max_files"))
    assert rows == [
        ("P60 for 2025", True, [".pdf"], [], 1),
        ("Photo ID", True, [], ["image/*"], None),
        ("Anything else", False, [], [], None),
    ]
    entry = AuditEntry.objects.get(action="request.created")
    assert entry.actor_label == "cli"
    assert entry.detail == {
        "request": made.pk,
        "client_name": "Ann <b>Client</b>",
        "items": 3,
        "template": tax_pack.name,
        "retention_days": 90,
    }


def test_by_id_without_a_code_and_for_a_staff_member(tax_pack: RequestTemplate) -> None:
    owner = User.objects.create_user(username="sam", email="sam@example.test")
    user_set_role(user=owner, role=Role.STAFF, source="test")
    run(
        "--template",
        str(tax_pack.pk),
        "--client-email",
        "bob@example.test",
        "--client-name",
        "Bob",
        "--no-code",
        "--created-by",
        "sam",
    )
    made = DocumentRequest.objects.get()
    assert (made.require_code, made.created_by, made.due_date) == (False, owner, None)
    assert AuditEntry.objects.get(action="request.created").actor_label == "sam"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--template", "Mortgage pack"],
            "--template: no template 'Mortgage pack'. Templates: 'Annual tax return pack'",
        ),
        (["--template", "999999"], "--template: no template '999999'"),
        (
            ["--client-email", "not-an-address"],
            "--client-email: 'not-an-address' does not look like an e-mail address.",
        ),
        (["--due", "2030-02-30"], "--due: '2030-02-30' is not a date such as 2026-06-30 (YYYY-MM-DD)."),
        (["--due", "31/01/2030"], "--due: '31/01/2030' is not a date"),
        (["--client-name", "   "], "--client-name: Give the client's name."),
        (["--created-by", "nobody"], "--created-by: there is no user 'nobody'."),
        (["--created-by", "vera"], "--created-by: vera may not make document requests"),
    ],
)
def test_what_is_wrong_is_said_and_nothing_is_written(tax_pack: RequestTemplate, args: list[str], message: str) -> None:
    viewer = User.objects.create_user(username="vera")
    user_set_role(user=viewer, role=Role.VIEWER, source="test")
    options = {"--template": tax_pack.name, "--client-email": "ann@example.test", "--client-name": "Ann"}
    options.update(dict(zip(args[::2], args[1::2], strict=True)))
    with pytest.raises(CommandError) as refused:
        run(*[part for pair in options.items() for part in pair])
    assert message in str(refused.value)
    assert not DocumentRequest.objects.exists()
    assert not AuditEntry.objects.filter(action="request.created").exists()


def test_a_template_without_items_makes_nothing(db: None) -> None:
    RequestTemplate.objects.create(name="Empty")
    with pytest.raises(CommandError, match=r"--template: A request needs at least one item\."):
        run("--template", "Empty", "--client-email", "ann@example.test", "--client-name", "Ann")
    assert not DocumentRequest.objects.exists()


def test_from_the_shell_a_refusal_exits_non_zero_with_the_reason(
    tax_pack: RequestTemplate, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # As from a shell, in this process: the command would close the test's connection as it ends.
    monkeypatch.setattr(connections, "close_all", lambda: None)
    with pytest.raises(SystemExit) as exited:
        execute_from_command_line(
            [
                "manage.py",
                "request_create",
                "--template",
                "Nope",
                "--client-email",
                "a@example.test",
                "--client-name",
                "Ann",
            ]
        )
    assert exited.value.code == 1
    assert "CommandError: --template: no template 'Nope'" in capsys.readouterr().err
    assert not DocumentRequest.objects.exists()
