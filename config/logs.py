"""JSON log lines for production: one object per line on stdout, which a log shipper
(CloudWatch, journald, Loki) searches by field.

python-json-logger encodes; `config.request_context.RequestIdLogFilter` adds
`request_id` and, where known, `user`, `upload_id` and `portal` to each record (extra
record attributes become fields). Shared by Django's LOGGING and gunicorn's
(`config.gunicorn_logs`), so every line reads the same way. Imports no app code.
"""

from __future__ import annotations

from typing import Any

# A logging.config.dictConfig formatter.
JSON_FORMATTER: dict[str, Any] = {
    "()": "pythonjsonlogger.json.JsonFormatter",
    "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
    "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
    "datefmt": "%Y-%m-%dT%H:%M:%S%z",
}
LOG_FILTERS: dict[str, Any] = {
    "request_id": {"()": "config.request_context.RequestIdLogFilter"},
    "redact_portal_links": {"()": "config.request_context.RedactPortalLinksFilter"},
}
