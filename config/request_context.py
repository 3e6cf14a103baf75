"""Who is acting, in which request: a context variable set per request or task.

Kept free of model imports so logging (configured before apps load) can use it.
"""

from __future__ import annotations

import contextvars
import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ActorContext:
    request_id: str
    ip_address: str | None = None
    request: Any = None  # the HttpRequest; its user is read only when an audit entry is written
    system_actor: str = "system"


_current: contextvars.ContextVar[ActorContext | None] = contextvars.ContextVar("intake_actor", default=None)
# What log lines of the current request or task are about (upload_id, portal), set by
# the code that learns it; each `acting` scope starts empty.
_log_fields: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("intake_log_fields", default=None)


def current() -> ActorContext | None:
    return _current.get()


def current_request_id() -> str:
    context = _current.get()
    return context.request_id if context else ""


@contextmanager
def acting(context: ActorContext) -> Iterator[ActorContext]:
    token = _current.set(context)
    fields_token = _log_fields.set({})
    try:
        yield context
    finally:
        _log_fields.reset(fields_token)
        _current.reset(token)


def log_about(**fields: object) -> None:
    """Name what the rest of this request or task is about on its log lines
    (`log_about(upload_id=upload.pk, portal=portal.pk)`). Outside a request or task
    there is no scope to end it, so nothing is kept."""
    kept = _log_fields.get()
    if kept is not None:
        kept.update({name: str(value) for name, value in fields.items() if value is not None})


@contextmanager
def acting_as_system(name: str, *, request_id: str | None = None) -> Iterator[ActorContext]:
    """For tasks and commands: audit entries name the system actor (e.g. "s3-event")."""
    with acting(ActorContext(request_id=request_id or uuid.uuid4().hex, system_actor=name)) as context:
        yield context


def client_ip(meta: dict[str, Any], *, trusted_proxies: int) -> str | None:
    """The client's address. Behind `trusted_proxies` proxies (a load balancer, a CDN)
    it is the entry that many hops from the right of X-Forwarded-For: entries further
    left were written by the client and prove nothing. With none, REMOTE_ADDR."""
    if trusted_proxies > 0:
        hops = [h.strip() for h in str(meta.get("HTTP_X_FORWARDED_FOR", "")).split(",") if h.strip()]
        if len(hops) >= trusted_proxies:
            return hops[-trusted_proxies]
    return meta.get("REMOTE_ADDR") or None


class RequestIdLogFilter(logging.Filter):
    """Adds `request_id` to every log record ("-" outside a request or task), and where
    known `user` (the signed-in user, or the system actor of a task), `upload_id` and
    `portal`. The user is named only once the request has loaded it: loading it here
    would query the database from inside logging."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _current.get()
        # Outside a request, a line that carries its own (gunicorn's access line) keeps it.
        record.request_id = context.request_id if context else getattr(record, "request_id", "-")
        if context is not None:
            user = getattr(context.request, "_cached_user", None) if context.request is not None else None
            if user is not None and user.is_authenticated:
                record.user = user.get_username()
            elif context.request is None:
                record.user = f"system:{context.system_actor}"
        for name, value in (_log_fields.get() or {}).items():
            setattr(record, name, value)
        return True


_PORTAL_LINK = re.compile(r"/p/[A-Za-z0-9_-]{16,}")


class RedactPortalLinksFilter(logging.Filter):
    """A portal link is a credential: Django logs the path of every 4xx/5xx
    ("Bad Request: /p/<token>/unlock"), so the token is cut out of log messages."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/p/" in message and _PORTAL_LINK.search(message):
            record.msg = redact_portal_links(message)
            record.args = ()
        return True


def redact_portal_links(text: str) -> str:
    return _PORTAL_LINK.sub("/p/<link>", text)
