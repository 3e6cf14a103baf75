"""`manage.py request_create`: make a document request from a template and print its link.

The same service as the staff "New request" form (uploader.requests.services.request_create):
the template's items are copied, the request is audited (`request.created`), and the
reminder schedule, "waits for staff" and the one-time code start from the settings.
Nothing is written unless every argument is usable.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.request_context import acting_as_system
from uploader.requests import selectors, services

# The service's field names as this command spells them, for its error messages.
OPTION_OF_FIELD = {
    "client_name": "--client-name",
    "client_emails": "--client-email",
    "company": "--company",
    "due_date": "--due",
    "items": "--template",
    "retention_days": "--template",
}


def parse_due(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise CommandError(f"--due: '{value[:40]}' is not a date such as 2026-06-30 (YYYY-MM-DD).") from None


def _creator(username: str) -> Any:
    try:
        return get_user_model().objects.get(username=username)
    except get_user_model().DoesNotExist:
        raise CommandError(f"--created-by: there is no user '{username[:150]}'.") from None


class Command(BaseCommand):
    help = "Make a document request from a template and print the client's link."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--template", required=True, help="The template's name or id; its items are copied.")
        parser.add_argument(
            "--client-email",
            action="append",
            required=True,
            dest="client_emails",
            help="An address of the client (repeat the option for more); each gets the request's e-mails.",
        )
        parser.add_argument("--client-name", required=True, help="The client's name, as they see it.")
        parser.add_argument("--company", default="", help="The client's company (optional).")
        parser.add_argument("--due", default="", help="The due date, YYYY-MM-DD (optional).")
        parser.add_argument(
            "--created-by",
            default="",
            help="The staff member the request belongs to (told when it completes); default: nobody, "
            "audited as the command line.",
        )
        parser.add_argument(
            "--no-code",
            action="store_true",
            help="The link alone opens the request (no one-time code), whatever INTAKE_REQUEST_REQUIRE_CODE says.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        template = selectors.template_find(name_or_id=options["template"])
        if template is None:
            known = ", ".join(f"'{t.name}' ({t.pk})" for t in selectors.template_list()[:10]) or "none yet"
            raise CommandError(f"--template: no template '{options['template'][:120]}'. Templates: {known}.")
        due_date = parse_due(options["due"]) if options["due"] else None
        actor = _creator(options["created_by"]) if options["created_by"] else None
        try:
            with acting_as_system("cli"):
                request = services.request_create(
                    actor=actor,
                    client_name=options["client_name"],
                    client_emails=options["client_emails"],
                    company=options["company"],
                    due_date=due_date,
                    items=services.template_item_specs(template),
                    template=template,
                    require_code=False if options["no_code"] else None,
                )
        except PermissionDenied as exc:
            raise CommandError(
                f"--created-by: {options['created_by']} may not make document requests ({exc})."
            ) from exc
        except ValidationError as exc:
            raise CommandError(_in_options(exc)) from exc
        self.stderr.write(
            f"Made request {request.pk} for {request.client_name} "
            f"({request.items.count()} items from '{template.name}')."
        )
        self.stdout.write(services.request_link(request))


def _in_options(error: ValidationError) -> str:
    """The service's refusal, each message after the option it is about."""
    if not hasattr(error, "error_dict"):
        return "; ".join(error.messages)
    return "; ".join(
        f"{OPTION_OF_FIELD.get(name, name)}: {message}"
        for name, messages in error.message_dict.items()
        for message in messages
    )
