"""`mockyard proxy --record DIR`: what the proxy saw, written as a workspace the sandbox serves.

DIR gets the workspace's own files plus what was recorded, as WireMock's recorder writes stub
mappings:

    mockyard.yaml          the workspace's settings, each API pointing at the files below
    specs/<api>.yaml       a copy of the effective spec, with a named example per recorded
                           answer (`recorded-<status>-<n>`, under its status and media type)
                           and the requests that got them (`x-mockyard-recorded` on the
                           operation, read by `replay`)
    fixtures/<api>.yaml    the fixture file, with the records the recorded answers showed of
                           each inferred collection added to its catalogue
    handlers/<api>.py      the handler module, copied

`mockyard serve` of DIR answers each recorded request with its recorded answer (`replay`), and
every other request as the sandbox does, over the recorded records.

Only exchanges that honour the spec are recorded (an example must be valid for its schema, or
loading drops it); the others are in the proxy's report. Identical requests with identical
answers are recorded once; the same request recorded with different answers is replayed in
the order they were seen, the last one repeating (WireMock's scenarios).

Redaction. Credentials never reach the recording: request headers are not recorded at all,
response headers only when the spec documents them (minus `Set-Cookie` and the like), and
credential query parameters (the specs' API keys, `api_key`, `access_token`, the listed ones)
match any value. Personal data in bodies (JSON properties named like `email`, `phone`,
`first_name`, `address`, `iban`, ... and those `mockyard.yaml` lists; the `name` of an object
that has any of them) is replaced with a value Faker makes for the property's schema, the same
for the same original value (so records still refer to each other), and matches any value in a
recorded request. Rules:

    proxy:
      redact:
        headers: [x-session-id]     # more credential headers
        query: [signature]          # more credential query parameters
        fields: [nickname, notes]   # more personal-data properties (compared without _ and -)
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import re
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from connexion.utils import is_json_mimetype

from mockyard import workspace as workspace_mod
from mockyard.errors import UsageError, WorkspaceError
from mockyard.fakedata import Generator
from mockyard.fixtures import seeded_faker
from mockyard.journal import (
    ALWAYS_REDACTED_HEADERS,
    ALWAYS_REDACTED_QUERY,
    REDACTED,
    spec_credentials,
)
from mockyard.operations import deref
from mockyard.prefer import response_key
from mockyard.proxy import Seen
from mockyard.replay import RECORDED, by_name
from mockyard.resources import Mapped
from mockyard.yamlfiles import read_yaml

EXAMPLE_PREFIX = "recorded"
MAX_EXCHANGES = 5000  # exchanges kept for the recording; later ones are counted, not kept
DEFAULT_FIELDS = (
    "email", "email_address", "phone", "phone_number", "mobile", "first_name", "last_name",
    "full_name", "given_name", "family_name", "address", "street", "line1", "line2",
    "postal_code", "zip", "date_of_birth", "birth_date", "iban", "card_number", "cvv", "ssn",
    "tax_id", "vat_number", "password", "secret", "token", "api_key", "access_token",
    "refresh_token", "client_secret",
)  # fmt: skip


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


_FIELDS = frozenset(_norm(f) for f in DEFAULT_FIELDS)
_NAMES = frozenset({"name", "displayname", "username", "fullname"})


@dataclass(frozen=True)
class Redaction:
    """What never reaches a recording as it was seen (see the module docstring)."""

    headers: frozenset[str] = ALWAYS_REDACTED_HEADERS
    query: frozenset[str] = ALWAYS_REDACTED_QUERY
    fields: frozenset[str] = _FIELDS

    @classmethod
    def of(cls, ws: workspace_mod.Workspace) -> Redaction:
        """The rules for `ws`: the defaults, the specs' API keys, `proxy.redact` in
        mockyard.yaml."""
        source = ws.root / workspace_mod.CONFIG_FILE
        section = ws.settings.get("proxy") or {}
        rules = section.get("redact") or {} if isinstance(section, Mapping) else None
        if not isinstance(rules, Mapping):
            raise WorkspaceError("'proxy.redact' must be a mapping", path=source)
        listed: dict[str, list[str]] = {}
        for key in ("headers", "query", "fields"):
            names = rules.get(key) or []
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise WorkspaceError(f"'proxy.redact.{key}' must be a list of names", path=source)
            listed[key] = names
        unknown = sorted(set(rules) - set(listed))
        if unknown:
            raise WorkspaceError(f"'proxy.redact' has no setting {unknown[0]!r}", path=source)
        headers, query = spec_credentials(ws.merged)
        return cls(
            ALWAYS_REDACTED_HEADERS | {h.lower() for h in [*headers, *listed["headers"]]},
            ALWAYS_REDACTED_QUERY | set(query) | set(listed["query"]),
            _FIELDS | {_norm(f) for f in listed["fields"]},
        )

    def personal(self, name: str) -> bool:
        return _norm(name) in self.fields

    def personal_keys(self, record: Mapping[str, Any]) -> set[str]:
        """The personal properties of one object; in an object with any (a person's email,
        phone, ...), its name too: a pet's or a product's name is not personal, a customer's
        is."""
        found = {key for key in record if self.personal(key)}
        if found:
            found |= {key for key in record if _norm(key) in _NAMES}
        return found


class _Pseudonyms:
    """Personal values replaced by values made for their schema, the same for the same value."""

    def __init__(self, document: Mapping[str, Any], rules: Redaction) -> None:
        self.document = document
        self.rules = rules

    def body(self, value: Any, schema: Any) -> Any:
        """`value` with every personal property replaced, walking `schema` beside it."""
        if isinstance(value, dict):
            props = self._properties(schema)
            extra = self._flat(schema).get("additionalProperties")
            personal = self.rules.personal_keys(value)
            out = {}
            for key, item in value.items():
                sub = props.get(key, extra if isinstance(extra, Mapping) else None)
                out[key] = self._made(key, item, sub) if key in personal else self.body(item, sub)
            return out
        if isinstance(value, list):
            items = self._flat(schema).get("items")
            return [self.body(item, items) for item in value]
        return value

    def _made(self, name: str, value: Any, schema: Any) -> Any:
        if value is None:
            return None
        digest = hashlib.sha256(f"{name}|{json.dumps(value, sort_keys=True)}".encode()).digest()
        seed = int.from_bytes(digest[:8], "big")
        if isinstance(schema, Mapping) and schema:
            generator = Generator(
                self.document,
                seeded_faker(seed, "redacted"),
                random.Random(seed),
                use_examples=False,
            )
            return generator.value(schema, name)
        return _placeholder(value)

    def _flat(self, schema: Any) -> dict[str, Any]:
        if not isinstance(schema, Mapping):
            return {}
        generator = Generator(self.document, seeded_faker(0), random.Random(0))
        return generator.flatten(schema)

    def _properties(self, schema: Any) -> dict[str, Any]:
        props = self._flat(schema).get("properties")
        return dict(props) if isinstance(props, Mapping) else {}


def _placeholder(value: Any) -> Any:
    """A stand-in of the same JSON type, where the schema says nothing of the value."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return 0
    if isinstance(value, dict):
        return {k: _placeholder(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_placeholder(v) for v in value]
    return REDACTED


def wildcards(value: Any, rules: Redaction) -> Any:
    """A request body with each personal property's value `[redacted]`: it matches any."""
    if isinstance(value, dict):
        personal = rules.personal_keys(value)
        return {k: REDACTED if k in personal else wildcards(v, rules) for k, v in value.items()}
    if isinstance(value, list):
        return [wildcards(v, rules) for v in value]
    return value


@dataclass
class Summary:
    """What a recording holds, for the CLI's last lines."""

    directory: Path
    recorded: int = 0  # answers written as examples (and replayed)
    records: int = 0  # fixture records written
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> exchanges

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


class Recorder:
    """Observer of the proxy: keeps the exchanges to record; `write` makes the workspace."""

    def __init__(self, ws: workspace_mod.Workspace, upstream: str) -> None:
        self.ws = ws
        self.upstream = upstream
        self.rules = Redaction.of(ws)
        self.kept: list[Seen] = []
        self.summary_skips: dict[str, int] = {}

    def __call__(self, seen: Seen) -> None:
        reason = _unrecordable(seen)
        if reason is None and len(self.kept) >= MAX_EXCHANGES:
            reason = f"more than {MAX_EXCHANGES} exchanges"
        if reason is not None:
            self.summary_skips[reason] = self.summary_skips.get(reason, 0) + 1
        else:
            self.kept.append(seen)

    def write(self, directory: Path | str) -> Summary:
        """The recorded workspace in `directory` (made, or its files replaced)."""
        target = Path(directory).resolve()
        if target == self.ws.root:
            raise UsageError(f"--record {directory}: that is the workspace itself; name a new one")
        summary = Summary(target, skipped=dict(self.summary_skips))
        documents = {name: json.loads(json.dumps(doc)) for name, doc in self.ws.specs.items()}
        fixtures = {name: copy.deepcopy(dict(f)) for name, f in self.ws.fixtures.items()}
        seen_before: set[str] = set()
        counters: dict[tuple[str, str, int], int] = {}
        for seen in self.kept:
            op = seen.operation
            assert op is not None  # _unrecordable keeps only matched exchanges
            doc = documents[op.api]
            entry = _operation(doc, op.operation_id, op.method, op.path)
            if entry is None:
                summary.skip("operation not found in its spec")
                continue
            recorded = self._recorded(seen, doc, entry, summary)
            if recorded is None:
                continue
            request, status, example, media_type, value = recorded
            identity = json.dumps([op.operation_id, request, status, value], sort_keys=True)
            if identity in seen_before:
                continue
            seen_before.add(identity)
            name = None
            if media_type is not None:
                n = counters[(op.api, op.operation_id, status)] = (
                    counters.get((op.api, op.operation_id, status), 0) + 1
                )
                name = f"{EXAMPLE_PREFIX}-{status}-{n}"
                _add_example(example, name, value, f"{seen.method} {seen.path}", self.upstream)
            entry.setdefault(RECORDED, []).append(
                {
                    "request": request,
                    "status": status,
                    "example": name,
                    "media_type": media_type,
                    "headers": _documented_headers(doc, entry, status, seen, self.rules),
                }
            )
            summary.recorded += 1
            mapped = self.ws.inference.mapped.get(op.operation_id)
            if mapped is not None and 200 <= status < 300:
                summary.records += _update_records(fixtures[op.api], mapped, value, seen)
        self._write_files(target, documents, fixtures)
        return summary

    def _recorded(
        self, seen: Seen, doc: dict[str, Any], entry: dict[str, Any], summary: Summary
    ) -> tuple[dict[str, Any], int, dict[str, Any], str | None, Any] | None:
        """(request matcher, status, media type object, media type, redacted body), or None."""
        status = seen.status or 0
        responses = entry.get("responses") or {}
        key = response_key(status, responses)
        if key is None:
            summary.skip("status not documented")
            return None
        if isinstance(responses[key], Mapping) and "$ref" in responses[key]:
            responses[key] = copy.deepcopy(deref(doc, responses[key]))  # its own examples
        response = responses[key]
        pseudonyms = _Pseudonyms(doc, self.rules)
        request = self._request(seen, doc, entry)
        if request is None:
            summary.skip("request body neither JSON nor text")
            return None
        body = seen.response_body or b""
        if not body:
            return request, status, {}, None, None
        content = response.get("content") or {}
        media_type = _media_key(seen.response_type, content)
        if media_type is None:
            summary.skip("media type not documented")
            return None
        media = content[media_type]
        try:
            if is_json_mimetype(media_type.split(";")[0]) or "json" in media_type:
                value = pseudonyms.body(json.loads(body), media.get("schema"))
            elif media_type.startswith("text/"):
                value = body.decode("utf-8")
            else:
                summary.skip("binary body")
                return None
        except (ValueError, UnicodeDecodeError):
            summary.skip("body does not decode as its media type")
            return None
        return request, status, media, media_type, value

    def _request(
        self, seen: Seen, doc: dict[str, Any], entry: dict[str, Any]
    ) -> dict[str, Any] | None:
        """What a request must be to get the recorded answer: its path, query and body."""
        query = [(k, REDACTED if k in self.rules.query else v) for k, v in seen.query]
        matcher: dict[str, Any] = {"path": seen.path, "query": by_name(query)}
        body = seen.request_body or b""
        if not body:
            return matcher
        content_type = next(
            (v for k, v in seen.request_headers if k.lower() == "content-type"), ""
        ).lower()
        try:
            if "json" in content_type:
                matcher["body"] = wildcards(json.loads(body), self.rules)
            else:
                matcher["body"] = body.decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
        return matcher

    def _write_files(
        self,
        target: Path,
        documents: Mapping[str, dict[str, Any]],
        fixtures: Mapping[str, dict[str, Any]],
    ) -> None:
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        header = f"# Recorded by mockyard proxy from {self.upstream} at {stamp}.\n"
        try:
            for folder in ("specs", "fixtures"):
                (target / folder).mkdir(parents=True, exist_ok=True)
            apis: dict[str, Any] = {}
            raw = _raw_config(self.ws)
            for source in self.ws.apis:
                options = dict((raw.get("apis") or {}).get(source.name) or {})
                options.update(
                    spec=f"specs/{source.name}.yaml", fixtures=f"fixtures/{source.name}.yaml"
                )
                if source.prefix:
                    options["prefix"] = source.prefix
                options.pop("handlers", None)
                if source.handlers is not None:
                    (target / "handlers").mkdir(exist_ok=True)
                    shutil.copyfile(source.handlers, target / "handlers" / f"{source.name}.py")
                    options["handlers"] = f"handlers/{source.name}.py"
                apis[source.name] = options
                _dump(target / "specs" / f"{source.name}.yaml", documents[source.name], header)
                _dump(target / "fixtures" / f"{source.name}.yaml", fixtures[source.name], header)
            config = {k: v for k, v in raw.items() if k not in ("apis", "state")}
            config.update(seed=self.ws.seed, apis=apis)
            _dump(target / workspace_mod.CONFIG_FILE, config, header)
        except OSError as exc:
            raise UsageError(f"cannot write the recording to {target}: {exc}") from exc


def _unrecordable(seen: Seen) -> str | None:
    """Why an exchange is not recorded, or None."""
    if seen.operation is None:
        return "no documented operation"
    if not seen.forwarded:
        return "answered by the proxy, not the upstream"
    if seen.violations:
        return "violates the spec"
    if seen.request_body is None or seen.response_body is None:
        return "body too large (or encoded) to record"
    return None


def _operation(
    doc: Mapping[str, Any], operation_id: str, method: str, merged_path: str
) -> dict[str, Any] | None:
    """The operation object of `doc` with that operationId (or method and path)."""
    for path, item in (doc.get("paths") or {}).items():
        entry = item.get(method.lower()) if isinstance(item, Mapping) else None
        if not isinstance(entry, dict):
            continue
        if entry.get("operationId") == operation_id or (
            "operationId" not in entry and merged_path.endswith(path)
        ):
            return entry
    return None


def _media_key(content_type: str, content: Mapping[str, Any]) -> str | None:
    """The `content` key documenting `content_type`: itself, `type/*`, or `*/*`."""
    seen = content_type.split(";")[0].strip().lower()
    for key in (seen, seen.split("/")[0] + "/*", "*/*"):
        for documented in content:
            if documented.split(";")[0].strip().lower() == key:
                return str(documented)
    return None


def _add_example(media: dict[str, Any], name: str, value: Any, request: str, upstream: str) -> None:
    """A named example under `media` (an `example` becomes the named example `example`)."""
    if "example" in media:
        media.setdefault("examples", {})
        media["examples"] = {"example": {"value": media.pop("example")}, **media["examples"]}
    media.setdefault("examples", {})[name] = {
        "summary": f"{request}, recorded from {upstream}",
        "value": value,
    }


def _documented_headers(
    doc: Mapping[str, Any], entry: Mapping[str, Any], status: int, seen: Seen, rules: Redaction
) -> dict[str, str]:
    """The response headers the spec documents for the status (and Location), credentials out."""
    responses = entry.get("responses") or {}
    key = response_key(status, responses)
    documented = deref(doc, responses.get(key)) if key is not None else {}
    wanted = {str(h).lower() for h in (documented or {}).get("headers") or {}} | {"location"}
    return {
        k: v
        for k, v in seen.response_headers
        if k.lower() in wanted and k.lower() not in rules.headers
    }


def _update_records(fixture: dict[str, Any], mapped: Mapped, body: Any, seen: Seen) -> int:
    """The records an inferred resource's answer shows, into the fixture's catalogue; returns
    how many were written (a delete takes a recorded record out)."""
    resource = mapped.resource
    catalogue = fixture.setdefault("catalogue", {})
    collection = catalogue.setdefault(resource.collection, {})
    if mapped.action == "delete":
        key = str(seen.match.path_params.get(resource.id_param or "", ""))
        collection.pop(key, None)
        return 0
    if mapped.envelope is None or resource.view is not None:
        return 0  # no body, or one shown through a handler's view (not the stored record)
    found = _dig(body, mapped.envelope.path)
    items = found if mapped.envelope.array and isinstance(found, list) else [found]
    if mapped.envelope.array:
        items = [_dig(item, mapped.envelope.inner) for item in items]
    written = 0
    for record in items:
        if isinstance(record, dict) and record.get(resource.id_property) is not None:
            collection[str(record[resource.id_property])] = record
            written += 1
    return written


def _dig(value: Any, path: Iterable[str]) -> Any:
    for part in path:
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _raw_config(ws: workspace_mod.Workspace) -> dict[str, Any]:
    path = ws.root / workspace_mod.CONFIG_FILE
    raw = read_yaml(path) if path.is_file() else {}
    return dict(raw) if isinstance(raw, Mapping) else {}


def _dump(path: Path, data: Any, header: str) -> None:
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    path.write_text(header + text, encoding="utf-8")
