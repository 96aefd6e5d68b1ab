"""One spec file -> the checked OpenAPI 3.0.3 document the engine serves, plus what changed.

The way through, for every caller (`serve`, `mockyard specs`, `mockyard contract`):

    read (documents: YAML 1.2 or JSON, keys as text)
    -> bundle (bundle: `$ref`s to other local files brought in)
    -> convert (swagger2: 2.0 -> 3.0.3; convert: 3.1 -> 3.0.3; 3.0.x as it is)
    -> tidy (tidy: missing info, invalid defaults and examples)
    -> safe component names, an operationId for every operation
    -> check (speccheck: the OpenAPI 3.0 JSON Schema, `$ref`s that resolve)

Each step that changes something says so in `Conversion.notes`. What cannot be served is a
`SpecError` of one line: the file, the JSON pointer and the problem.

The whole result is cached (see `cache`) under the root file's content, the versions of the
libraries and the source of these modules; an entry also records the content hash of every
other file the bundle read, and is used only while they are unchanged. A big spec's warm start
then costs reading the file and one `json.loads`.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from mockyard import bundle, cache, convert, documents, speccheck, swagger2, tidy
from mockyard.convert import METHODS, Conversion, safe_component_names
from mockyard.errors import SpecError

_KIND = "loaded-specs"
# A `$ref` whose value does not start with `#`, in YAML or JSON (maybe a false alarm: a
# description quoting one; the bundler then finds nothing to do).
_EXTERNAL_REF = re.compile(r"""\$ref["']?\s*:(?!\s*["']?#)""")
_SOURCES = (documents, bundle, convert, swagger2, tidy, speccheck)


def load(path: Path) -> Conversion:
    """The served 3.0.3 document of `path` and the notes on what loading changed."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError(f"cannot read: {exc.strerror or exc}", path=path) from exc
    entry = _entry_key(path, raw)
    hit = cache.load(_KIND, entry)
    if isinstance(hit, dict) and _unchanged(hit.get("files") or {}):
        return Conversion(hit["document"], hit["notes"], _source(entry, hit["files"] or {}))
    conversion, files = _load(path, raw)
    hashes = {str(f): _digest(f.read_bytes()) for f in files}
    cache.save(
        _KIND, entry, {"files": hashes, "document": conversion.document, "notes": conversion.notes}
    )
    conversion.source = _source(entry, hashes)
    return conversion


def read_bundled(path: Path) -> dict[str, Any]:
    """The document in `path` as its author wrote it (any version, not converted or checked),
    its other files bundled in and `info` filled in: what `mockyard contract` hands to
    Schemathesis, which reads 2.0, 3.0 and 3.1 itself."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError(f"cannot read: {exc.strerror or exc}", path=path) from exc
    doc, _files, _notes = _read(path, raw)
    return doc


def _read(path: Path, raw: bytes) -> tuple[dict[str, Any], list[Path], list[str]]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpecError(f"cannot read: not UTF-8 text ({exc.reason})", path=path) from exc
    doc = documents.parse(text, path)
    if not isinstance(doc, dict) or not ("openapi" in doc or "swagger" in doc):
        raise SpecError(
            "not an OpenAPI document (no 'openapi' or 'swagger' field at the top)", path=path
        )
    # Whole-document walks cost a second on a 13 MB spec; the text says when one is needless.
    files = bundle.bundle(doc, path) if _EXTERNAL_REF.search(text) else []
    notes = tidy.info(doc, path)  # Prism serves a document without one
    notes += tidy.reference_siblings(doc)  # vendors' generators write them; their schema refuses
    safe_component_names(doc, encoded_refs="%" in text)  # before any check: 3.1 wants them
    return doc, files, notes


def _load(path: Path, raw: bytes) -> tuple[Conversion, list[Path]]:
    doc, files, notes = _read(path, raw)
    swagger = "swagger" in doc
    conversion = _converted(doc, path)
    conversion.notes[:0] = notes
    conversion.notes.extend(tidy.tidy(conversion.document))
    if swagger:  # its definitions only now became components
        safe_component_names(conversion.document)
    _name_operations(conversion.document, path)
    problem = speccheck.first_problem(conversion.document)
    if problem:
        raise SpecError(problem, path=path)
    return conversion, files


def _converted(doc: dict[str, Any], path: Path) -> Conversion:
    """`doc` as OpenAPI 3.0; a 2.0 or 3.1 document is checked against its own version's
    schema first, so that a problem is reported where the user wrote it."""
    if "swagger" in doc:
        if not swagger2.is_swagger2(doc):
            raise SpecError(f"/swagger: version {doc['swagger']!r} is not supported", path=path)
        _check(doc, "2.0", path)
        conversion = swagger2.to_openapi30(doc)
        conversion.notes.insert(0, "converted from Swagger 2.0 to OpenAPI 3.0.3")
        return conversion
    version = str(doc["openapi"])
    if re.fullmatch(r"3\.[01]", version):  # `openapi: 3.0` unquoted, read as a number
        version = doc["openapi"] = f"{version}.0"
    if not re.match(r"^3\.[01]\.\d+", version):
        raise SpecError(f"/openapi: {version} is not supported; use 3.0.x, 3.1.x or 2.0", path=path)
    if not convert.is_openapi31(doc):
        return Conversion(doc)
    _check(doc, "3.1", path)
    conversion = convert.to_openapi30(doc)
    if conversion.notes:
        conversion.notes.insert(0, "converted from OpenAPI 3.1 to 3.0.3")
    return conversion


def _check(doc: dict[str, Any], version: str, path: Path) -> None:
    problem = speccheck.first_problem(doc, version)
    if problem:
        raise SpecError(problem, path=path)


def _name_operations(spec: dict[str, Any], path: Path) -> None:
    """Give every operation an operationId (`get /users/{id}` -> `get_users_id`); reject twins."""
    seen: set[str] = set()
    unnamed = []
    for route, item in spec["paths"].items():
        for method, op in (item or {}).items():
            if method not in METHODS or not isinstance(op, dict):
                continue
            if "operationId" not in op:
                unnamed.append((route, method, op))
            elif op["operationId"] in seen:
                pointer = f"/paths/{documents.escape(route)}/{method}/operationId"
                raise SpecError(
                    f"{pointer}: operationId {op['operationId']!r} is used twice", path=path
                )
            else:
                seen.add(op["operationId"])
    for route, method, op in unnamed:
        base = re.sub(r"[^A-Za-z0-9]+", "_", f"{method}_{route}").strip("_")
        name, n = base, 1
        while name in seen:
            n += 1
            name = f"{base}_{n}"
        op["operationId"] = name
        seen.add(name)


def _entry_key(path: Path, raw: bytes) -> str:
    return cache.key(
        str(path.resolve()),  # relative `$ref`s and the default title depend on where it is
        _digest(raw),
        cache.version_of("openapi-spec-validator"),  # the OpenAPI 3.0 JSON Schema's copy
        cache.version_of("jsonschema-rs"),
        cache.version_of("yaml-rs"),
        cache.source_of(__file__),
        *(cache.source_of(module.__file__ or "") for module in _SOURCES),
    )


def _source(entry: str, files: dict[str, str]) -> str:
    """What the document was made from: the entry file and code, and each bundled file."""
    return cache.key(entry, sorted(files.items()))


def _unchanged(files: dict[str, str]) -> bool:
    for name, digest in files.items():
        try:
            if _digest(Path(name).read_bytes()) != digest:
                return False
        except OSError:
            return False
    return True


def _digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()
