"""A background writer that takes items one by one and writes them in batches.

Both per-request records (the journal's entries, the access log's lines) are cheap to make and
costly to write one at a time: a transaction, or a `write()` system call, and the GIL taken by
another thread for each. A `Batches` hands items to one writer thread. A quiet sandbox writes
each item at once; under load the writer lets items gather for up to `INTERVAL` after its last
batch, so a batch costs one write whatever its size. `flush()` cuts the wait short and returns
once everything queued so far is written; `close()` writes what is left and ends the thread.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
INTERVAL = 0.02  # s: under load, batches are written at most this often
_errors = logging.getLogger("mockyard")


class Batches(Generic[T]):
    """Items queued by any thread, written in order by one daemon thread per process."""

    def __init__(
        self, write: Callable[[list[T]], None], *, name: str, interval: float = INTERVAL
    ) -> None:
        self.write = write
        self.interval = interval
        self.name = name
        self._cond = threading.Condition()
        self._pending: list[T] = []
        self._queued = 0
        self._written = 0
        self._flushing = 0  # flush() calls waiting: the writer does not linger
        self._closing = False
        self._writer: threading.Thread | None = None
        if hasattr(os, "register_at_fork"):  # a forked worker starts its own writer
            os.register_at_fork(after_in_child=self._forget_writer)

    def _forget_writer(self) -> None:
        self._cond = threading.Condition()
        self._writer = None

    def put(self, item: T) -> None:
        """Queue `item`; never waits for a write."""
        with self._cond:
            self._pending.append(item)
            self._queued += 1
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_forever, name=self.name, daemon=True
                )
                self._writer.start()
            if len(self._pending) == 1:  # the writer sleeps only when nothing is pending
                self._cond.notify_all()

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every item queued so far in this process is written."""
        with self._cond:
            target = self._queued
            self._flushing += 1
            self._cond.notify_all()
            try:
                self._cond.wait_for(lambda: self._written >= target, timeout)
            finally:
                self._flushing -= 1

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued and end the writer thread (a process that goes on after its
        sandbox keeps no thread of it). A later `put` starts a writer again."""
        with self._cond:
            writer, self._closing = self._writer, True
            self._cond.notify_all()
        if writer is not None:
            writer.join(timeout)
        with self._cond:
            self._closing = False
            if self._writer is writer:
                self._writer = None

    def _write_forever(self) -> None:
        last = 0.0
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._pending) or self._closing)
                if not self._pending:  # closing, and everything is written
                    return
                linger = last + self.interval - time.monotonic()
                if linger > 0 and not self._closing:  # busy: the last batch was just written
                    self._cond.wait_for(lambda: self._flushing > 0 or self._closing, linger)
                batch, self._pending = self._pending, []
            last = time.monotonic()
            try:
                self.write(batch)
            except Exception:  # the thread's boundary: a lost batch must not stop the writer
                _errors.exception("%s: could not write %d items", self.name, len(batch))
            with self._cond:
                self._written += len(batch)
                self._cond.notify_all()
