"""`mockyard serve`'s logging: uvicorn's, plus one plain line per request (`mockyard.access`).

The access log writes its lines from a background thread (`batches`): a `write()` per request
was a fifth of a request's cost under load. A quiet sandbox still shows each line at once; under
load lines appear within `batches.INTERVAL`, many per write. `logging.shutdown` (at exit) flushes.
"""

from __future__ import annotations

import copy
import logging
import sys
from typing import TextIO

from mockyard.batches import Batches


class BatchedStreamHandler(logging.Handler):
    """`logging.StreamHandler`, with lines formatted at once and written in batches."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__()
        self.stream = stream  # None: whatever sys.stderr is when a batch is written
        self._batches: Batches[str] = Batches(self._write, name="mockyard-access-log")

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._batches.put(self.format(record))
        except Exception:  # logging's contract: a bad record never reaches the caller
            self.handleError(record)

    def flush(self) -> None:
        self._batches.flush()

    def _write(self, lines: list[str]) -> None:
        stream = self.stream or sys.stderr
        stream.write("\n".join(lines) + "\n")
        stream.flush()


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
    config["handlers"]["mockyard-access"] = {
        "()": f"{__name__}.BatchedStreamHandler",
        "formatter": "mockyard",
    }
    config["loggers"]["mockyard"] = {"handlers": ["mockyard"], "level": "INFO", "propagate": False}
    config["loggers"]["mockyard.access"] = {
        "handlers": ["mockyard-access"],
        "level": "WARNING" if quiet else "INFO",
        "propagate": False,
    }
    return config
