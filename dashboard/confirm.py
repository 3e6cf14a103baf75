"""The one confirmation pattern of the staff pages: a destructive action (delete a
file, disable a portal, make a new link) is a page that says what will happen and asks
(GET, or a POST without `confirmed=yes`), and only a POST with `confirmed=yes` from
that page acts. A page rather than a script dialog: it works without JavaScript, a
screen reader reads it like any page, and a browser test can press its buttons."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

CONFIRMED_FIELD = "confirmed"


@dataclass(frozen=True)
class Confirmation:
    title: str
    message: str
    # The button that acts, e.g. "Delete the file".
    button: str
    # Where "Cancel" goes back to: nothing changes.
    cancel_url: str
    cancel_label: str = "Cancel"
    # A free-text reason kept with the audit entry, when the action asks for one.
    reason_label: str = ""
    # Destructive (red button) or not (a re-open).
    destructive: bool = True


def confirmed(request: HttpRequest) -> bool:
    """The person pressed the confirmation page's button."""
    return request.method == "POST" and request.POST.get(CONFIRMED_FIELD) == "yes"


def render_confirm(request: HttpRequest, confirmation: Confirmation, *, status: int = 200) -> HttpResponse:
    return render(
        request,
        "dashboard/confirm.html",
        {"confirm": confirmation, "action_url": request.path, "confirmed_field": CONFIRMED_FIELD},
        status=status,
    )
