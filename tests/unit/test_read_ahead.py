"""s3.ReadAhead: the bundles' background reader. Sources here are plain generators (the
S3 side is exercised by tests/integration/test_bundles.py); what matters is the order,
the bound on chunks held, errors arriving in the caller's thread, and stopping."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from uploader.s3 import ReadAhead

WAIT = 30.0  # seconds a test waits for the reader before failing (never reached when it works)


class Counted:
    """Chunks made by the sources and chunks the caller is done with, to see how many exist at once."""

    def __init__(self) -> None:
        self.made = 0
        self.released = 0
        self.most_alive = 0
        self.changed = threading.Condition()

    def source(self, count: int | None, name: str = "") -> Callable[[], Iterator[bytes]]:
        def chunks() -> Iterator[bytes]:
            number = 0
            while count is None or number < count:
                with self.changed:
                    self.made += 1
                    self.most_alive = max(self.most_alive, self.made - self.released)
                    self.changed.notify_all()
                yield f"{name}{number}".encode()
                number += 1

        return chunks

    def release(self) -> None:
        with self.changed:
            self.released += 1

    def wait_until_made(self, number: int) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.made >= number, timeout=WAIT)


def test_chunks_come_in_order_source_by_source() -> None:
    counted = Counted()
    sources = [counted.source(3, "a"), counted.source(0, "b"), counted.source(2, "c")]
    with ReadAhead(sources, max_chunks=2) as ahead:
        read = [list(chunks) for chunks in ahead.sources()]
    assert read == [[b"a0", b"a1", b"a2"], [], [b"c0", b"c1"]]


@pytest.mark.parametrize("max_chunks", [1, 4])
def test_the_reader_gets_ahead_but_never_holds_more_than_max_chunks_and_the_callers(max_chunks: int) -> None:
    counted = Counted()
    sources = [counted.source(5, "a"), counted.source(7, "b"), counted.source(5, "c")]
    with ReadAhead(sources, max_chunks=max_chunks) as ahead:
        for chunks in ahead.sources():
            for _ in chunks:
                # While the caller works on this chunk the reader reads max_chunks more, across
                # the end of a source too (until the sources run out).
                assert counted.wait_until_made(min(counted.released + 1 + max_chunks, 17))
                counted.release()
    assert counted.made == counted.released == 17
    # Those queued or being read, and the caller's: and it did get that far ahead.
    assert counted.most_alive == max_chunks + 1


def test_an_error_is_raised_in_the_callers_thread_from_the_source_that_failed() -> None:
    counted = Counted()
    started = []

    def failing() -> Iterator[bytes]:
        started.append("failing")
        yield b"first"
        raise LookupError("gone")

    def after() -> Iterator[bytes]:
        started.append("after")
        yield b"never read"

    with ReadAhead([counted.source(2, "a"), failing, after], max_chunks=8) as ahead:
        sources = ahead.sources()
        assert list(next(sources)) == [b"a0", b"a1"]
        failed = next(sources)
        assert next(failed) == b"first"
        with pytest.raises(LookupError, match="gone"):
            next(failed)
    assert started == ["failing"]  # reading stops at the failure


def test_leaving_early_stops_the_reader_and_closes_the_source() -> None:
    closed = threading.Event()

    def endless() -> Iterator[bytes]:
        try:
            while True:
                yield b"x" * 1024
        finally:
            closed.set()

    ahead = ReadAhead([endless], max_chunks=2)
    with ahead:
        chunks = next(ahead.sources())
        assert next(chunks) == b"x" * 1024
    # __exit__ stopped the endless reading and joined the thread; the source was closed
    # (an object's HTTP body is closed then).
    assert not ahead._thread.is_alive()
    assert closed.is_set()


def test_reading_a_source_before_the_last_one_ends_is_refused() -> None:
    counted = Counted()
    with ReadAhead([counted.source(3, "a"), counted.source(1, "b")], max_chunks=8) as ahead:
        sources = ahead.sources()
        first = next(sources)
        assert next(first) == b"a0"
        with pytest.raises(RuntimeError, match="to the end"):
            next(next(sources))


def test_at_least_one_chunk_ahead() -> None:
    with pytest.raises(ValueError, match="at least one chunk"):
        ReadAhead([], max_chunks=0)
