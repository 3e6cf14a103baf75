"""The e-mails of a document request: to the client when an item is sent back, to
the staff member who made it when it closes. Sent after the change is committed; a
mail server that refuses is logged and reported to the caller, never undoes the change."""

from __future__ import annotations

import logging
import smtplib

from django.core.mail import EmailMessage

from uploader.requests.models import DocumentRequest, RequestItem

logger = logging.getLogger(__name__)


def _one_line(text: str) -> str:
    return " ".join(text.split())[:150]


def _send(message: EmailMessage, *, about: str) -> bool:
    try:
        message.send()
    except (smtplib.SMTPException, OSError):
        logger.exception("could not send the %s e-mail", about)
        return False
    return True


def changes_requested_email(request: DocumentRequest, item: RequestItem, *, link: str) -> bool:
    body = "\n".join(
        [
            f"Hello {_one_line(request.client_name)},",
            "",
            f"Please send '{_one_line(item.title)}' again. The reason we gave:",
            "",
            item.changes_reason,
            "",
            f"Send the new file here: {link}",
        ]
    )
    message = EmailMessage(
        subject=f"Please send '{_one_line(item.title)}' again", body=body, to=list(request.client_emails)
    )
    return _send(message, about="changes requested")


def request_closed_email(request: DocumentRequest, *, page_url: str) -> bool:
    """Tell the staff member who made the request; False when there is no one to tell."""
    creator = request.created_by
    if creator is None or not creator.email:
        return False
    body = "\n".join(
        [
            f"Every required document of the request for {_one_line(request.client_name)} has been accepted,",
            "so the request is now closed.",
            "",
            f"See it here: {page_url}",
        ]
    )
    message = EmailMessage(subject=f"Request complete: {_one_line(request.client_name)}", body=body, to=[creator.email])
    return _send(message, about="request closed")
