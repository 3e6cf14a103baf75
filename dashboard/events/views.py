"""The events page (admins): dead letters with replay and discard, stuck ledger rows
with retry. Thin: each POST calls one service of uploader.ingest.dead_letters and redirects
back; SQS trouble becomes a sentence on the page, never an error page."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from dashboard.access import page_requires
from uploader.access.roles import Permission
from uploader.ingest import dead_letters


@page_requires(Permission.MANAGE_EVENTS)
def events_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        _act(request)
        return redirect("dashboard:events")
    listing, problem = None, ""
    try:
        listing = dead_letters.dead_letters_list(actor=request.user)
    except dead_letters.DeadLettersUnavailable as exc:
        problem = str(exc)
    return render(
        request,
        "dashboard/events.html",
        {
            "listing": listing,
            "problem": problem,
            "stuck": dead_letters.stuck_events_list(actor=request.user),
            "stuck_minutes": settings.INTAKE_EVENTS_STUCK_MINUTES,
        },
    )


def _act(request: HttpRequest) -> None:
    action = request.POST.get("action", "")
    message_id = request.POST.get("message_id", "")
    try:
        if action in {"replay", "replay_all"}:
            report = dead_letters.dead_letters_replay(
                actor=request.user, message_ids=[message_id] if action == "replay" else None
            )
            _tell_replay(request, report)
        elif action == "discard":
            if dead_letters.dead_letter_discard(
                actor=request.user, message_id=message_id, confirmed=request.POST.get("confirm") == "yes"
            ):
                messages.success(request, f"Message {message_id} discarded.")
            else:
                messages.error(request, f"Message {message_id} is no longer in the dead-letter queue.")
        elif action in {"retry", "retry_all"}:
            ids = [int(v) for v in request.POST.getlist("event_id") if v.isascii() and v.isdigit()] if action == "retry" else None
            retried = dead_letters.stuck_events_retry(actor=request.user, event_ids=ids)
            messages.success(request, f"{len(retried)} ledger event(s) enqueued again." if retried else "Nothing to retry.")
        else:
            messages.error(request, "Unknown action.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except dead_letters.DeadLettersUnavailable as exc:
        messages.error(request, str(exc))


def _tell_replay(request: HttpRequest, report: dead_letters.ReplayReport) -> None:
    if report.replayed:
        messages.success(request, f"{len(report.replayed)} message(s) sent back to the event queue.")
    if report.kept_in_dlq:
        messages.error(
            request,
            f"{len(report.kept_in_dlq)} message(s) were sent back but could not be removed from the "
            "dead-letter queue; discard them once applied.",
        )
    if report.not_found:
        messages.error(request, "Not in the dead-letter queue any more: " + ", ".join(report.not_found))
    if report.error:
        messages.error(request, report.error)
    if not (report.replayed or report.kept_in_dlq or report.not_found or report.error):
        messages.info(request, "The dead-letter queue is empty; nothing replayed.")
