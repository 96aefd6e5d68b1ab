"""The access log as `serve` configures it: one line per request on stderr, and a logging
setup that adds a handler or a filter is obeyed, as for any record (`logs.access_line` takes a
shortcut only when `serve`'s own handler is the only place the line goes)."""

from __future__ import annotations

import logging
import logging.config
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import in_process
from starlette.testclient import TestClient

from mockyard.logs import ACCESS, BatchedStreamHandler, log_config

VALIDATE = "/api/v1/billing/invoice/validate"
LINE = re.compile(rf"GET {VALIDATE} 401 \d+\.\d ms")
CONFIGURED = ("mockyard", ACCESS.name, "uvicorn", "uvicorn.error", "uvicorn.access")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with in_process(tmp_path) as client:
        yield client


@pytest.fixture
def serve_logging() -> Iterator[None]:
    """`serve`'s logging config for the test, and the loggers as they were afterwards."""
    loggers = [logging.getLogger(name) for name in CONFIGURED]
    saved = [(lg.handlers[:], lg.level, lg.propagate, lg.filters[:], lg.disabled) for lg in loggers]
    yield
    for lg, (handlers, level, propagate, filters, disabled) in zip(loggers, saved, strict=True):
        lg.handlers, lg.propagate, lg.filters, lg.disabled = handlers, propagate, filters, disabled
        lg.setLevel(level)  # which also forgets what isEnabledFor had cached


def configure(quiet: bool) -> BatchedStreamHandler:
    logging.config.dictConfig(log_config(quiet))
    (handler,) = ACCESS.handlers
    assert isinstance(handler, BatchedStreamHandler)
    return handler


def stderr_after(
    client: TestClient, handler: BatchedStreamHandler, capsys: pytest.CaptureFixture[str]
) -> list[str]:
    capsys.readouterr()
    assert client.get(VALIDATE).status_code == 401
    handler.flush()  # written by a background thread
    return capsys.readouterr().err.splitlines()


@pytest.mark.usefixtures("serve_logging")
def test_a_request_is_one_line_on_stderr(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = stderr_after(client, configure(quiet=False), capsys)
    assert len(lines) == 1
    assert LINE.fullmatch(lines[0]), lines


@pytest.mark.usefixtures("serve_logging")
def test_quiet_writes_no_line(client: TestClient, capsys: pytest.CaptureFixture[str]) -> None:
    assert stderr_after(client, configure(quiet=True), capsys) == []


@pytest.mark.usefixtures("serve_logging")
def test_another_handler_sees_the_same_line(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = configure(quiet=False)
    seen: list[logging.LogRecord] = []
    extra = logging.Handler()
    extra.emit = seen.append  # type: ignore[method-assign]
    ACCESS.addHandler(extra)
    lines = stderr_after(client, handler, capsys)
    assert len(lines) == 1 and LINE.fullmatch(lines[0])
    assert [record.getMessage() for record in seen] == lines
    assert seen[0].levelno == logging.INFO


@pytest.mark.usefixtures("serve_logging")
def test_a_filter_on_the_logger_is_obeyed(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = configure(quiet=False)
    ACCESS.addFilter(lambda record: VALIDATE not in record.getMessage())
    assert stderr_after(client, handler, capsys) == []
