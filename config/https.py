"""One careful way to GET a small document from another service (JWKS, SNS
certificates, SNS subscription confirmations).

Verified TLS (plain http only where the caller allows it, for loopback test servers),
no redirects (a redirect could lead anywhere), a size limit, and `timeout` as a
deadline for the whole body rather than per socket read, so a server dripping bytes
cannot hold a request thread. The deadline is checked between reads, so the worst
case is about twice `timeout`.
"""

from __future__ import annotations

import functools
import http.client
import ssl
import time
import urllib.error
import urllib.request
from email.message import Message
from typing import IO
from urllib.parse import urlsplit


class FetchFailed(Exception):
    """`status` is the HTTP status when the server answered with an error;
    `too_large` says the body passed the limit; neither means it could not be reached."""

    def __init__(self, host: str, reason: str, *, status: int | None = None, too_large: bool = False) -> None:
        super().__init__(f"{host} {reason}")
        self.host = host
        self.status = status
        self.too_large = too_large

    @property
    def transient(self) -> bool:
        """Worth retrying: no answer, or a server error."""
        return not self.too_large and (self.status is None or self.status >= 500)


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str, headers: Message, newurl: str
    ) -> urllib.request.Request | None:
        return None  # urllib then raises HTTPError with the 3xx status


@functools.cache
def _opener() -> urllib.request.OpenerDirector:
    """Built once: loading the system CAs takes about 0.1 s."""
    return urllib.request.build_opener(
        _RefuseRedirects(), urllib.request.HTTPSHandler(context=ssl.create_default_context())
    )


def fetch(url: str, *, timeout: float, max_bytes: int, user_agent: str, accept: str = "*/*") -> bytes:
    """GET `url` (its scheme and host checked by the caller) and return the body."""
    host = urlsplit(url).netloc
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url, headers={"User-Agent": user_agent, "Accept": accept})  # noqa: S310
    body = bytearray()
    try:
        with _opener().open(request, timeout=timeout) as response:
            while len(body) <= max_bytes:
                chunk = response.read1(8192)  # what has arrived: read() would wait for 8 KiB
                if not chunk:
                    break
                body += chunk
                if time.monotonic() > deadline:
                    raise TimeoutError("deadline passed")
    except urllib.error.HTTPError as exc:
        raise FetchFailed(host, f"answered {exc.code}", status=exc.code) from exc
    except (OSError, http.client.HTTPException) as exc:
        raise FetchFailed(host, f"could not be reached: {type(exc).__name__}") from exc
    if len(body) > max_bytes:
        raise FetchFailed(host, f"answered more than {max_bytes} bytes", too_large=True)
    return bytes(body)
