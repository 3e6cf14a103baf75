"""The e-mails of a document request: to the client when an item is sent back, a
reminder, the receipt when it closes; to the staff member who made it when it is complete. Sent after the change is committed; a
mail server that refuses is logged and reported to the caller, never undoes the change."""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass

from django.core.mail import EmailMessage

from uploader.requests.models import DocumentRequest, ItemState, RequestItem

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


def reminder_email(request: DocumentRequest, items: list[RequestItem], *, link: str, later_link: str) -> bool:
    """What is still needed (and what was sent back, with the reason), the link, and
    the "I'll send it later" link."""
    waiting = [item for item in items if item.state == ItemState.OUTSTANDING]
    sent_back = [item for item in items if item.state == ItemState.CHANGES_REQUESTED]
    lines = [f"Hello {_one_line(request.client_name)},", "", "A reminder: we are still waiting for these documents."]
    if request.due_date:
        lines.append(f"They are due by {request.due_date:%d %B %Y}.")
    if waiting:
        lines += ["", "Still needed:"]
        lines += [f"- {_one_line(item.title)}{'' if item.required else ' (optional)'}" for item in waiting]
    if sent_back:
        lines += ["", "Sent back to you, with our reason:"]
        lines += [f"- {_one_line(item.title)}: {_one_line(item.changes_reason)}" for item in sent_back]
    lines += [
        "",
        f"Send them here: {link}",
        "",
        f"Will you send them later? This link pauses our reminders for a week: {later_link}",
    ]
    message = EmailMessage(
        subject=f"Reminder: documents still needed ({_one_line(request.client_name)})",
        body="\n".join(lines),
        to=list(request.client_emails),
    )
    return _send(message, about="reminder")


@dataclass(frozen=True)
class ReceiptLine:
    item_title: str
    filename: str
    size: str
    sha256: str


def receipt_email(request: DocumentRequest, lines: list[ReceiptLine]) -> bool:
    """The client's receipt when the request closes: every file with its size and SHA-256."""
    body = [
        f"Hello {_one_line(request.client_name)},",
        "",
        "Thank you: every document we asked for has been accepted, and this request is complete.",
        "These are the files we received (size and SHA-256 fingerprint of each, for your records):",
    ]
    for line in lines:
        body += [
            "",
            f"{_one_line(line.item_title)}: {_one_line(line.filename)}",
            f"  {line.size}, SHA-256 {line.sha256}",
        ]
    message = EmailMessage(
        subject=f"Receipt: your documents are complete ({_one_line(request.client_name)})",
        body="\n".join(body),
        to=list(request.client_emails),
    )
    return _send(message, about="receipt")


def request_waits_for_staff_email(request: DocumentRequest, *, page_url: str) -> bool:
    """Tell the staff member who made it that it is complete and waits for them to close it."""
    creator = request.created_by
    if creator is None or not creator.email:
        return False
    body = "\n".join(
        [
            f"Every required document of the request for {_one_line(request.client_name)} has been accepted.",
            "It waits for you to close it (the client gets their receipt then).",
            "",
            f"Close it here: {page_url}",
        ]
    )
    message = EmailMessage(
        subject=f"Request complete, waiting for you: {_one_line(request.client_name)}", body=body, to=[creator.email]
    )
    return _send(message, about="request complete")
