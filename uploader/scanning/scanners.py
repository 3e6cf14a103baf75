"""Scanners behind one small interface: bytes in (a chunk at a time), a verdict out.

`ClamdScanner` speaks clamd's INSTREAM command over its unix or TCP socket: each
chunk is sent as a 4-byte big-endian length and the bytes, a zero length ends the
stream, and clamd answers `stream: OK`, `stream: <signature> FOUND` or
`<message> ERROR`. The PyPI clients of this protocol are unmaintained (`clamd`'s
last release was in 2020) or asynchronous only, and the framing is a few lines, so
it is written here; it is tested against a real clamd (tests/support/clamd.py).

A scanner that cannot be reached raises `ScannerUnavailable`: the file stays pending
and the task retries (fail closed). Amazon GuardDuty is not a scanner here: it scans
on its own and its verdicts arrive as events (uploader.scanning.guardduty).
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol
from urllib.parse import urlsplit

from django.conf import settings

Outcome = Literal["clean", "infected", "unscannable"]

# clamd's answers for what it could not look into: with AlertEncrypted an encrypted
# archive or document is reported as Heuristics.Encrypted.*, with AlertExceedsMax a
# file past its scan limits as Heuristics.Limits.Exceeded.*.
_UNSCANNABLE_SIGNATURES = {
    "Heuristics.Encrypted": "an encrypted archive or document",
    "Heuristics.Limits.Exceeded": "beyond the scanner's limits",
}


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    # The signature found, or why the file could not be scanned.
    detail: str = ""


class ScannerUnavailable(Exception):
    """The scanner cannot be reached or failed; the file stays pending, try later."""


class Scanner(Protocol):
    name: str

    def scan(self, chunks: Iterable[bytes]) -> Verdict:
        """Read `chunks` (the file, in order) and say what they hold."""


class ClamdScanner:
    name = "clamd"

    def __init__(self, address: str, *, timeout: float) -> None:
        self.address = address
        self.timeout = timeout

    def _connect(self) -> socket.socket:
        parts = urlsplit(self.address)
        try:
            if parts.scheme == "unix":
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(self.timeout)
                sock.connect(parts.path)
            elif parts.scheme == "tcp" and parts.hostname and parts.port:
                sock = socket.create_connection((parts.hostname, parts.port), timeout=self.timeout)
            else:
                raise ScannerUnavailable(
                    f"INTAKE_CLAMD_ADDRESS {self.address!r} is not unix:///path or tcp://host:port"
                )
        except OSError as exc:
            raise ScannerUnavailable(f"clamd at {self.address} cannot be reached: {exc}") from exc
        return sock

    def ping(self) -> bool:
        try:
            with self._connect() as sock:
                sock.sendall(b"zPING\0")
                return _read_reply(sock) == "PONG"
        except (OSError, ScannerUnavailable):
            return False

    def scan(self, chunks: Iterable[bytes]) -> Verdict:
        with self._connect() as sock:
            try:
                sock.sendall(b"zINSTREAM\0")
                for chunk in chunks:
                    if chunk:
                        sock.sendall(struct.pack(">I", len(chunk)) + chunk)
                sock.sendall(struct.pack(">I", 0))
                reply = _read_reply(sock)
            except TimeoutError:
                return Verdict("unscannable", "the scan timed out")
            except BrokenPipeError:
                # clamd closes the socket once a stream passes its StreamMaxLength; its
                # reply, when it could send one, says so.
                reply = _read_reply_after_close(sock)
                if not reply:
                    raise ScannerUnavailable("clamd closed the connection mid-stream") from None
            except OSError as exc:
                raise ScannerUnavailable(f"clamd failed mid-scan: {exc}") from exc
        return parse_reply(reply)


def _read_reply(sock: socket.socket) -> str:
    data = bytearray()
    while not data.endswith(b"\0"):
        piece = sock.recv(4096)
        if not piece:
            break
        data += piece
    return data.rstrip(b"\0").decode("utf-8", errors="replace").strip()


def _read_reply_after_close(sock: socket.socket) -> str:
    try:
        return _read_reply(sock)
    except OSError:
        return ""


def parse_reply(reply: str) -> Verdict:
    """clamd's answer to one INSTREAM as a verdict; an error it reports about the
    file's size is "not scannable", any other error means the scanner failed."""
    if reply == "stream: OK":
        return Verdict("clean")
    if reply.startswith("stream: ") and reply.endswith(" FOUND"):
        signature = reply[len("stream: ") : -len(" FOUND")].strip()
        for prefix, reason in _UNSCANNABLE_SIGNATURES.items():
            if signature.startswith(prefix):
                return Verdict("unscannable", f"{reason} ({signature})")
        return Verdict("infected", signature[:200])
    if "size limit exceeded" in reply.lower():
        return Verdict("unscannable", "larger than the scanner accepts")
    raise ScannerUnavailable(f"clamd answered {reply[:200]!r}")


def configured_scanner() -> Scanner:
    """The scanner the worker runs (INTAKE_SCANNER=clamd)."""
    return ClamdScanner(settings.INTAKE_CLAMD_ADDRESS, timeout=float(settings.INTAKE_SCAN_TIMEOUT_SECONDS))
