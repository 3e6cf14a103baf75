"""gunicorn's logs as JSON on stdout, like Django's (`config.logs`): its own lines
through `logconfig_dict`, and one access line per request with its parts as fields."""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.glogging import Logger

from config.logs import JSON_FORMATTER, LOG_FILTERS
from config.request_context import redact_portal_links


def gunicorn_logconfig(level: str) -> dict[str, Any]:
    """gunicorn's `logconfig_dict`: its error and access loggers as JSON on stdout."""
    handler = {
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stdout",
        "formatter": "json",
        "filters": ["redact_portal_links"],
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": LOG_FILTERS,
        "formatters": {"json": JSON_FORMATTER},
        "handlers": {"stdout": handler},
        "root": {"level": level, "handlers": ["stdout"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["stdout"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["stdout"], "propagate": False},
        },
    }


class JsonAccessLogger(Logger):
    """One access line per request with its parts as fields, not an Apache-style
    string. No query string: it carries file names. A portal path holds the portal's
    link token; the handler's filter cuts it out of the message, and the path field is
    cut here."""

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        path = redact_portal_links(str(atoms["U"] or ""))
        fields = {
            "method": atoms["m"],
            "path": path,
            "status": int(atoms["s"]) if str(atoms["s"]).isdigit() else atoms["s"],
            "bytes": atoms["B"],
            "duration_ms": round(atoms["D"] / 1000, 1),
            "remote_addr": atoms["h"],
            "request_id": atoms.get("{x-request-id}o", "-"),
            "user_agent": atoms["a"],
        }
        self.access_log.log(logging.INFO, "%s %s %s", atoms["m"], path, atoms["s"], extra=fields)
