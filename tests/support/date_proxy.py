"""An HTTP proxy in front of the S3 emulator that moves the `Date` of every answer by a
fixed number of seconds: S3 with a clock that is off, as far as the client can tell
(the emulator itself cannot be given another clock).

    with DateShiftingProxy(emulator.endpoint_url, shift_seconds=600) as proxy:
        settings.INTAKE_S3_ENDPOINT_URL = proxy.url
"""

from __future__ import annotations

import http.client
import threading
import time
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

# Hop-by-hop headers are the proxy's own business, never forwarded.
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


class DateShiftingProxy:
    def __init__(self, upstream: str, *, shift_seconds: float) -> None:
        parts = urlsplit(upstream)
        self.upstream_host, self.upstream_port = parts.hostname or "127.0.0.1", parts.port or 80
        self.shift_seconds = shift_seconds
        self.dates_rewritten = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                upstream = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=30)
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    payload = answer.read()
                    self.send_response_only(answer.status, answer.reason)
                    for name, value in answer.getheaders():
                        if name.lower() in HOP_BY_HOP | {"content-length", "date"}:
                            continue
                        self.send_header(name, value)
                    self.send_header("Date", proxy.shifted(answer.getheader("Date")))
                    self.send_header("Content-Length", answer.getheader("Content-Length") or str(len(payload)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                finally:
                    upstream.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_OPTIONS = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def shifted(self, date: str | None) -> str:
        base = parsedate_to_datetime(date).timestamp() if date else time.time()
        self.dates_rewritten += 1
        return formatdate(base + self.shift_seconds, usegmt=True)

    def __enter__(self) -> DateShiftingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
