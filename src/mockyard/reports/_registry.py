"""Report formats by file suffix: `@report_format(".md")` registers a writer, built-ins too."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mockyard.contract_events import ContractResult
from mockyard.errors import ContractError

Writer = Callable[[ContractResult], str]

_WRITERS: dict[str, Writer] = {}


def report_format(*suffixes: str) -> Callable[[Writer], Writer]:
    """Register `writer` (result -> file text) for files ending in any of `suffixes`."""

    def register(writer: Writer) -> Writer:
        for suffix in suffixes:
            _WRITERS[suffix.lower()] = writer
        return writer

    return register


def unregister(*suffixes: str) -> None:
    for suffix in suffixes:
        _WRITERS.pop(suffix.lower(), None)


def formats() -> list[str]:
    return sorted(_WRITERS)


def writer_for(path: Path | str) -> Writer:
    """The writer for `path`'s suffix; an unknown suffix is a usage error."""
    suffix = Path(path).suffix.lower()
    try:
        return _WRITERS[suffix]
    except KeyError:
        known = ", ".join(formats())
        message = f"cannot write a report to {path}: use a file ending in {known}"
        raise ContractError(message) from None


def write(path: Path | str, text: str) -> None:
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ContractError(f"cannot write {target}: {exc.strerror or exc}") from exc
