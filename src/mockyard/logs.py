"""`mockyard serve`'s logging: uvicorn's, plus one plain line per request (`mockyard.access`).

The access log writes its lines from a background thread (`batches`): a `write()` per request
was a fifth of a request's cost under load. A quiet sandbox still shows each line at once; under
load lines appear within `batches.INTERVAL`, many per write. `logging.shutdown` (at exit) flushes.

A line is a `logging` record like any other, so a configured handler sees it, except when
`serve`'s own handler is the only place it would go (`access_line`): the line then goes to that
handler as text. Making a `LogRecord` and passing it through the logger cost 15 µs in a request,
a tenth of a validate, for a line that is the record's message and nothing else.
"""

from __future__ import annotations

import copy
import logging
import sys
from typing import TextIO

from mockyard.batches import Batches

ACCESS = logging.getLogger("mockyard.access")


class BatchedStreamHandler(logging.Handler):
    """`logging.StreamHandler` for plain lines, written in batches: each record's message on a
    line of its own (it takes no formatter)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__()
        self.stream = stream  # None: whatever sys.stderr is when a batch is written
        self._batches: Batches[str] = Batches(self._write, name="mockyard-access-log")

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.write_line(record.getMessage())
        except Exception:  # logging's contract: a bad record never reaches the caller
            self.handleError(record)

    def write_line(self, line: str) -> None:
        """Queue `line`, as `emit` does a record's message."""
        self._batches.put(line)

    def flush(self) -> None:
        self._batches.flush()

    def _write(self, lines: list[str]) -> None:
        stream = self.stream or sys.stderr
        stream.write("\n".join(lines) + "\n")
        stream.flush()


def access_line(message: str, *args: object) -> None:
    """Log `message % args` as `mockyard.access`'s INFO line: straight to `serve`'s handler when
    nothing else (a filter, another handler, a parent's) would see the record, else through
    `logging`."""
    if not ACCESS.isEnabledFor(logging.INFO):  # also False for a disabled logger
        return
    handlers = ACCESS.handlers
    if (
        len(handlers) == 1
        and type(handlers[0]) is BatchedStreamHandler
        and handlers[0].level <= logging.INFO
        and not handlers[0].filters
        and not ACCESS.filters
        and not ACCESS.propagate
    ):
        handlers[0].write_line(message % args)
    else:
        ACCESS.info(message, *args)


def log_config(quiet: bool) -> dict[str, object]:
    """uvicorn's logging config, plus mockyard's loggers; `quiet` drops the access lines."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["mockyard"] = {"format": "%(message)s"}
    config["handlers"]["mockyard"] = {
        "class": "logging.StreamHandler",
        "formatter": "mockyard",
        "stream": "ext://sys.stderr",
    }
    config["handlers"]["mockyard-access"] = {"()": f"{__name__}.BatchedStreamHandler"}
    config["loggers"]["mockyard"] = {"handlers": ["mockyard"], "level": "INFO", "propagate": False}
    config["loggers"][ACCESS.name] = {
        "handlers": ["mockyard-access"],
        "level": "WARNING" if quiet else "INFO",
        "propagate": False,
    }
    return config
