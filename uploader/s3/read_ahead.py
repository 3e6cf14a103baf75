"""Read a sequence of objects in a background thread, a bounded number of chunks ahead.

The zip of many files (uploader.bundles) reads each object, CRCs it and hands it to a
multipart upload, one after the other. Reading in the caller's thread leaves the
connection idle while the caller computes or waits for a part to be sent, and starts
each object's GET only when the last one is done. Here a thread reads ahead, going on
to the next object as one ends, while the caller works. It reads a chunk only with room
for it: at most `max_chunks` chunks are queued or being read, so with the one the caller
holds memory is at most `max_chunks + 1` chunks whatever the objects' sizes.

    with ReadAhead([lambda: iter_object_chunks(key=k, chunk_size=n) for k in keys], max_chunks=8) as ahead:
        for chunks in ahead.sources():
            for chunk in chunks:
                ...

Each source's chunks must be read to its end before the next source's. An error raised
while reading a source is raised from that source's chunks, in the caller's thread, and
reading stops there. Leaving the `with` block (at the end, on an error, on a time limit)
stops the thread and closes the object being read.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from types import TracebackType

from uploader.s3.streams import iter_object_chunks

_END = object()  # the current source has no more chunks


class ReadAhead:
    def __init__(self, sources: Sequence[Callable[[], Iterable[bytes]]], *, max_chunks: int) -> None:
        if max_chunks < 1:
            raise ValueError("read at least one chunk ahead")
        self._sources = list(sources)
        self._queue: queue.SimpleQueue[tuple[int, object]] = queue.SimpleQueue()
        self._room = threading.Semaphore(max_chunks)  # chunks that may be queued or being read
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._read, name="read-ahead", daemon=True)
        self._next = 0  # the source the caller reads next

    def __enter__(self) -> ReadAhead:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def sources(self) -> Iterator[Iterator[bytes]]:
        """One iterator of chunks per source, in order."""
        for _ in self._sources:
            yield self._chunks()

    def _chunks(self) -> Iterator[bytes]:
        index, self._next = self._next, self._next + 1
        while True:
            source, item = self._queue.get()
            if source != index:
                raise RuntimeError("read each source's chunks to the end before the next source's")
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, bytes)
            self._room.release()  # the caller has it now: the thread may read one more
            yield item

    def _read(self) -> None:
        for index, source in enumerate(self._sources):
            chunks: Iterator[bytes] = iter(())
            try:
                chunks = iter(source())
                while True:
                    self._room.acquire()
                    if self._stopping.is_set():
                        return
                    chunk = next(chunks, None)
                    if chunk is None:
                        self._room.release()  # the end takes no room
                        break
                    self._queue.put((index, chunk))
            except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
                self._queue.put((index, exc))
                return
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()  # a generator's `finally` closes its HTTP body now, not at GC
            self._queue.put((index, _END))

    def close(self) -> None:
        """Stop the thread and wait for it: it sees the flag before reading another chunk
        (the room given here wakes it if it waits for room)."""
        self._stopping.set()
        self._room.release()
        if self._thread.is_alive():
            self._thread.join()


def read_objects_ahead(objects: Sequence[tuple[str, str]], *, chunk_size: int, max_chunks: int) -> ReadAhead:
    """A ReadAhead over the objects (key, ETag to match), `chunk_size` bytes at a time."""
    return ReadAhead(
        [partial(iter_object_chunks, key=key, chunk_size=chunk_size, if_match=etag) for key, etag in objects],
        max_chunks=max_chunks,
    )
