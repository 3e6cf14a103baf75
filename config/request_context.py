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


def current() -> ActorContext | None:
    return _current.get()


def current_request_id() -> str:
    context = _current.get()
    return context.request_id if context else ""


@contextmanager
def acting(context: ActorContext) -> Iterator[ActorContext]:
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


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
    """Adds `request_id` to every log record ("-" outside a request or task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id() or "-"
        return True


_PORTAL_LINK = re.compile(r"/p/[A-Za-z0-9_-]{16,}")


class RedactPortalLinksFilter(logging.Filter):
    """A portal link is a credential: Django logs the path of every 4xx/5xx
    ("Bad Request: /p/<token>/unlock"), so the token is cut out of log messages."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/p/" in message and _PORTAL_LINK.search(message):
            record.msg = _PORTAL_LINK.sub("/p/<link>", message)
            record.args = ()
        return True
