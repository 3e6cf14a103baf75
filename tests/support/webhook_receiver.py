"""A real HTTP server on 127.0.0.1 for webhook tests (http.server in a thread). It
records every request and answers from a script: a status per request, a redirect,
or a hold that outlasts the sender's timeout.

    with WebhookReceiver() as receiver:
        receiver.answers = [500, 204]      # then 204 for every further request
        url = receiver.url("/hook")
        receiver.requests                  # Recorded(path, headers, body), in order
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOLD = "hold"  # an answer that waits until the test ends (a timeout for the sender)
REDIRECT = "redirect"


@dataclass(frozen=True)
class Recorded:
    path: str
    headers: dict[str, str]
    body: bytes


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        receiver = self.server.receiver
        with receiver.lock:
            receiver.requests.append(Recorded(self.path, dict(self.headers.items()), body))
            answer = receiver.answers.pop(0) if len(receiver.answers) > 1 else receiver.answers[0]
        if answer == HOLD:
            receiver.release.wait(30)
            return
        if answer == REDIRECT:
            self.send_response(302)
            self.send_header("Location", receiver.url("/elsewhere"))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status = int(answer)
        payload = b"x" * 100_000 if status >= 400 else b""  # a long error page: read only in part
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: WebhookReceiver

    def verify_request(self, request: Any, client_address: Any) -> bool:
        # Every accepted connection counts, even one that never makes a request.
        with self.receiver.lock:
            self.receiver.connections += 1
        return True


class WebhookReceiver:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.requests: list[Recorded] = []
        self.connections = 0
        self.answers: list[int | str] = [204]
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.receiver = self
        self.host, self.port = "127.0.0.1", self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True)

    def url(self, path: str = "/hook", *, host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}{path}"

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
