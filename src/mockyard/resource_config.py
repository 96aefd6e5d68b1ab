"""An API's `resources:` settings in `mockyard.yaml`, and the envelope paths they may name.

    resources: off                     # no inference for this API (also at the top level)
    resources:
      records: 5                       # Faker records per collection no fixture fills
      collections:                     # by inferred collection name
        receipts: {collection: documents, id: number, where: {type: Receipt}, view: show}
      operations:                      # by operationId
        list-pets: {envelope: "data[]"}
        delete-pet: off

Anything else is a `WorkspaceError` naming the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mockyard.errors import WorkspaceError

DEFAULT_RECORDS = 5


@dataclass(frozen=True)
class Override:
    """What `mockyard.yaml` says about one resource or operation; None: infer it."""

    off: bool = False
    collection: str | None = None
    id: str | None = None
    envelope: Envelope | None = None
    where: Mapping[str, Any] | None = None
    view: str | None = None
    records: int | None = None


@dataclass(frozen=True)
class Settings:
    """An API's `resources:` section."""

    off: bool = False
    records: int = DEFAULT_RECORDS
    collections: Mapping[str, Override] = field(default_factory=dict)
    operations: Mapping[str, Override] = field(default_factory=dict)


def settings(raw: Any, source: Path | None = None) -> Settings:
    """Read an API's `resources:` section (None: every default); WorkspaceError names `source`."""
    if raw is None or raw is True:
        return Settings()
    if raw is False or raw == "off":
        return Settings(off=True)
    if not isinstance(raw, Mapping):
        raise _bad("resources must be off, or a mapping", source)
    unknown = set(raw) - {"records", "collections", "operations"}
    if unknown:
        raise _bad(f"resources: unknown key(s) {', '.join(sorted(map(str, unknown)))}", source)
    return Settings(
        records=_count(raw.get("records", DEFAULT_RECORDS), "resources.records", source),
        collections=_overrides(raw.get("collections"), "collections", source),
        operations=_overrides(raw.get("operations"), "operations", source),
    )


def _overrides(raw: Any, section: str, source: Path | None) -> dict[str, Override]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise _bad(f"resources.{section} must map names to settings", source)
    out = {}
    allowed = {"collection", "id", "envelope", "where", "view"}
    allowed |= {"records"} if section == "collections" else set()
    for name, value in raw.items():
        where = f"resources.{section}.{name}"
        if value is False or value == "off":
            out[str(name)] = Override(off=True)
            continue
        if not isinstance(value, Mapping):
            raise _bad(f"{where} must be off or a mapping", source)
        unknown = set(value) - allowed
        if unknown:
            raise _bad(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}", source)
        for key in ("collection", "id", "view"):
            if key in value and (not isinstance(value[key], str) or not value[key]):
                raise _bad(f"{where}.{key} must be a non-empty string", source)
        if "where" in value and not isinstance(value["where"], Mapping):
            raise _bad(f"{where}.where must map properties to values", source)
        envelope = None
        if "envelope" in value:
            envelope = Envelope.parse(value["envelope"], f"{where}.envelope", source)
        out[str(name)] = Override(
            collection=value.get("collection"),
            id=value.get("id"),
            envelope=envelope,
            where=dict(value["where"]) if "where" in value else None,
            view=value.get("view"),
            records=_count(value["records"], f"{where}.records", source)
            if "records" in value
            else None,
        )
    return out


def _count(value: Any, where: str, source: Path | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10_000:
        raise _bad(f"{where} must be a whole number from 0 to 10000", source)
    return int(value)


def _bad(message: str, source: Path | None) -> WorkspaceError:
    return WorkspaceError(message, path=source)


@dataclass(frozen=True)
class Envelope:
    """Where the record sits in a body: `path` to it (an item), or to the array (a list) and
    then `inner`, its path inside each element. Written `pet`, `data[]`, `list[].pet`, `""`."""

    path: tuple[str, ...] = ()
    inner: tuple[str, ...] = ()
    array: bool = False

    @classmethod
    def parse(cls, raw: Any, where: str = "envelope", source: Path | None = None) -> Envelope:
        if raw is None:
            raw = ""
        if not isinstance(raw, str):
            raise _bad(f"{where} must be a string such as data, data[] or list[].item", source)
        head, array, tail = raw.partition("[]")
        if "[]" in tail or any(not p for p in _dotted(head) + _dotted(tail.lstrip("."))):
            raise _bad(
                f"{where}: {raw!r} is not a path such as data, data[] or list[].item", source
            )
        return cls(tuple(_dotted(head)), tuple(_dotted(tail.lstrip("."))), bool(array))

    def __str__(self) -> str:
        text = ".".join(self.path) + ("[]" if self.array else "")
        return text + ("." + ".".join(self.inner) if self.inner else "")


def _dotted(text: str) -> list[str]:
    return text.split(".") if text else []
