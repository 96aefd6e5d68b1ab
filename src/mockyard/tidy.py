"""Untidy things real specs do that Prism serves anyway, put right with a note for each.

- no `info` (or no title or version, or a version YAML read as a number): filled in;
- an operation without `responses`: a `default` response, as OpenAPI 3.1 allows;
- a schema's `default` or `example` that its own schema refuses (`default: null` on a string
  that is not nullable, `example: 5` on an array): dropped, since a mock that sent it would
  break the contract it serves, and Connexion would refuse the whole document;
- a reference object (a parameter, response, request body, header or example given as `$ref`)
  that repeats what it refers to beside the `$ref` (some vendors' generators do, in their own
  spec): OpenAPI ignores those keys, and its JSON Schema refuses them, so they are dropped.

The notes are what `mockyard specs` lists under the API; nothing here fails.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mockyard.convert import METHODS

_VALUES = ("default", "example")
_SUBSCHEMAS = ("items", "additionalProperties", "not")
_BRANCHES = ("allOf", "anyOf", "oneOf")


def tidy(doc: dict[str, Any]) -> list[str]:
    """Put `doc` (OpenAPI 3.0, maybe invalid) right in place; one note per change."""
    notes = []
    for route, item in _mapping(doc.get("paths")).items():
        for method in METHODS:
            op = _mapping(item).get(method)
            if isinstance(op, dict) and not op.get("responses"):
                op["responses"] = {"default": {"description": "Default response"}}
                notes.append(f"paths.{route}.{method}: no responses; a default response added")
    notes.extend(_invalid_values(doc))
    return notes


_REFERENCE_KEYS = frozenset({"$ref", "summary", "description"})  # what 3.1 allows beside $ref
_COMPONENTS = ("parameters", "responses", "requestBodies", "headers", "examples", "links")


def reference_siblings(doc: dict[str, Any]) -> list[str]:
    """Drop what stands beside `$ref` in reference objects (not in schemas, where JSON Schema
    gives siblings a meaning); before any check, in any version."""
    notes = []
    for where, node in _references(doc):
        extra = sorted(k for k in node if k not in _REFERENCE_KEYS)
        if extra:
            for key in extra:
                del node[key]
            notes.append(f"{where}: beside $ref, ignored as OpenAPI says: {', '.join(extra)}")
    return notes


def _references(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, object) for each place OpenAPI allows a reference object outside schemas."""
    for route, item in _mapping(doc.get("paths")).items():
        yield from _parameters(item, f"paths.{route}")
        for method in METHODS:
            op = _mapping(item).get(method)
            if not isinstance(op, dict):
                continue
            here = f"paths.{route}.{method}"
            yield from _parameters(op, here)
            yield from _with_media(op.get("requestBody"), f"{here}.requestBody")
            for code, response in _mapping(op.get("responses")).items():
                yield from _response(response, f"{here}.responses.{code}")
    for section in _COMPONENTS:
        for name, node in _mapping(_mapping(doc.get("components")).get(section)).items():
            where = f"components.{section}.{name}"
            if section == "responses":
                yield from _response(node, where)
            elif section == "requestBodies":
                yield from _with_media(node, where)
            elif isinstance(node, dict) and "$ref" in node:
                yield where, node


def _parameters(holder: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for i, param in enumerate(_list(_mapping(holder).get("parameters"))):
        if isinstance(param, dict) and "$ref" in param:
            yield f"{where}.parameters[{i}]", param


def _response(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    yield from _with_media(node, where)
    for name, header in _mapping(_mapping(node).get("headers")).items():
        if isinstance(header, dict) and "$ref" in header:
            yield f"{where}.headers.{name}", header


def _with_media(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if not isinstance(node, dict):
        return
    if "$ref" in node:
        yield where, node
        return
    for media_type, media in _mapping(node.get("content")).items():
        for name, example in _mapping(_mapping(media).get("examples")).items():
            if isinstance(example, dict) and "$ref" in example:
                yield f"{where}.content.{media_type}.examples.{name}", example


def info(doc: dict[str, Any], path: Path) -> list[str]:
    """Fill in a missing `info` (any version; before any check)."""
    info = doc.get("info")
    if not isinstance(info, dict):
        doc["info"] = {"title": path.stem, "version": "0"}
        return [f"info: missing; served as title {path.stem!r}, version '0'"]
    notes = []
    if not isinstance(info.get("title"), str):
        info["title"] = path.stem
        notes.append(f"info.title: missing; served as {path.stem!r}")
    version = info.get("version")
    if not isinstance(version, str):
        info["version"] = "0" if version is None else str(version)
        notes.append(f"info.version: {version!r} is not text; served as {info['version']!r}")
    return notes


def _invalid_values(doc: dict[str, Any]) -> Iterator[str]:
    found = [(where, s) for where, s in _schemas(doc) if any(k in s for k in _VALUES)]
    if not found:
        return
    # Imported here: most specs have nothing to check, and the validator is slow to import.
    from jsonschema.exceptions import UnknownType
    from openapi_schema_validator import OAS30Validator, oas30_format_checker
    from referencing.exceptions import Unresolvable

    _BROKEN = (UnknownType, Unresolvable, TypeError, ValueError, KeyError, AttributeError)

    root = OAS30Validator(doc, format_checker=oas30_format_checker)
    for where, schema in found:
        rules = {k: v for k, v in schema.items() if k not in _VALUES}
        for key in _VALUES:
            if key in schema:
                try:
                    error = next(iter(root.evolve(schema=rules).iter_errors(schema[key])), None)
                except _BROKEN:  # the schema itself is malformed: the check will say where
                    continue
                if error is not None:
                    value = _short(json.dumps(schema.pop(key), default=str))
                    yield f"{where}: {key} {value} dropped ({_short(error.message)})"


def _schemas(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object written in `doc` (not following `$ref`s), with where it is."""
    components = _mapping(doc.get("components"))
    for name, schema in _mapping(components.get("schemas")).items():
        yield from _walk(schema, f"components.schemas.{name}")
    for section in ("parameters", "headers"):
        for name, param in _mapping(components.get(section)).items():
            yield from _holder(param, f"components.{section}.{name}")
    for section in ("responses", "requestBodies"):
        for name, holder in _mapping(components.get(section)).items():
            yield from _holder(holder, f"components.{section}.{name}")
    for route, item in _mapping(doc.get("paths")).items():
        if not isinstance(item, dict):
            continue
        for i, param in enumerate(_list(item.get("parameters"))):
            yield from _holder(param, f"paths.{route}.parameters[{i}]")
        for method in METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            where = f"paths.{route}.{method}"
            for i, param in enumerate(_list(op.get("parameters"))):
                yield from _holder(param, f"{where}.parameters[{i}]")
            yield from _holder(op.get("requestBody"), f"{where}.requestBody")
            for status, response in _mapping(op.get("responses")).items():
                yield from _holder(response, f"{where}.responses.{status}")


def _holder(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Schemas of a parameter, header, request body or response."""
    if not isinstance(node, dict) or "$ref" in node:
        return
    if "schema" in node:
        yield from _walk(node["schema"], f"{where}.schema")
    for name, header in _mapping(node.get("headers")).items():
        yield from _holder(header, f"{where}.headers.{name}")
    for media_type, media in _mapping(node.get("content")).items():
        if isinstance(media, dict) and "schema" in media:
            yield from _walk(media["schema"], f"{where}.{media_type}")


def _walk(schema: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if not isinstance(schema, dict) or "$ref" in schema:
        return
    yield where, schema
    for name, sub in _mapping(schema.get("properties")).items():
        yield from _walk(sub, f"{where}.{name}")
    for key in _SUBSCHEMAS:
        yield from _walk(schema.get(key), f"{where}.{key}")
    for key in _BRANCHES:
        for i, sub in enumerate(_list(schema.get(key))):
            yield from _walk(sub, f"{where}.{key}[{i}]")


def _mapping(node: Any) -> dict[str, Any]:
    return node if isinstance(node, dict) else {}


def _list(node: Any) -> list[Any]:
    return node if isinstance(node, list) else []


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
