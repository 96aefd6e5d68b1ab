"""The batch writer behind the journal and the access log: nothing lost, order kept, many items
per write under load, and `flush` returns only once everything queued is written."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from conftest import in_process

from mockyard.batches import Batches


def test_items_written_in_order_and_in_few_batches_under_load() -> None:
    batches: list[list[int]] = []
    writer = Batches(batches.append, interval=0.05, name="test-batches")
    for n in range(1000):
        writer.put(n)
    writer.flush()
    assert [n for batch in batches for n in batch] == list(range(1000))
    assert len(batches) < 100  # batched: far fewer writes than items


def test_flush_waits_for_a_slow_write() -> None:
    written: list[int] = []
    release = threading.Event()

    def slow(batch: list[int]) -> None:
        release.wait(5)
        written.extend(batch)

    writer = Batches(slow, interval=0.01, name="test-slow")
    writer.put(1)
    threading.Timer(0.2, release.set).start()
    writer.flush()
    assert written == [1]


def test_a_failed_write_is_logged_and_the_writer_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    written: list[int] = []

    def fragile(batch: list[int]) -> None:
        if 0 in batch:
            raise OSError("disk full")
        written.extend(batch)

    writer = Batches(fragile, interval=0.0, name="test-fragile")
    writer.put(0)
    writer.flush()
    writer.put(1)
    writer.flush()
    assert written == [1]
    assert "test-fragile: could not write 1 items" in caplog.text


def test_a_quiet_writer_writes_without_being_flushed() -> None:
    written = threading.Event()
    writer = Batches(lambda batch: written.set(), interval=0.02, name="test-quiet")
    writer.put("line")
    assert written.wait(10), "a lone item was never written"


def test_close_writes_what_is_queued_and_ends_the_thread() -> None:
    written: list[int] = []
    writer = Batches(written.extend, interval=0.5, name="test-close")
    for n in range(100):
        writer.put(n)
    writer.close()
    assert written == list(range(100))
    assert not [t for t in threading.enumerate() if t.name == "test-close"]
    writer.put(100)  # a closed writer still takes items: a new thread writes them
    writer.flush()
    assert written[-1] == 100
    writer.close()
    assert not [t for t in threading.enumerate() if t.name == "test-close"]


def test_a_closed_sandbox_leaves_no_journal_thread(tmp_path: Path) -> None:
    def journals() -> int:
        return sum(t.name == "mockyard-journal" for t in threading.enumerate())

    before = journals()
    with in_process(tmp_path) as client:
        assert client.get("/api/v1/billing/invoice/validate").status_code == 401  # journaled
        assert journals() == before + 1
    assert journals() == before
