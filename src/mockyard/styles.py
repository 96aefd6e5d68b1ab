"""Parameter values as their `style` and `explode` write them (OpenAPI 3.0 4.7.12.4), decoded.

    path    simple  1,2  a,1,b,2  a=1,b=2       label  .1,2  .1.2  .a,1,b,2  .a=1.b=2
            matrix  ;id=1,2  ;id=1;id=2  ;id=a,1,b,2  ;a=1;b=2
    query   form    id=1&id=2  id=1,2  id=a,1,b,2  a=1&b=2 (an object's properties, exploded)
            spaceDelimited  id=1%202    pipeDelimited  id=1|2    deepObject  id[a]=1&id[b]=2
    header  simple  1,2  a,1,b,2  a=1,b=2       cookie  form  id=1,2  id=a,1,b,2

Connexion decodes the plain forms (simple and form arrays, the delimited ones, deepObject);
the others are decoded here with openapi-core's style decoders, then every leaf is typed by the
schema as a form field is (an integer, a number, true/false; anything else stays a string, so
validation names it). `styled` says which parameters are decoded here. A value that is not
written in its style is an `InvalidInput`: a 400 in the API's own format.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from mockyard.errors import InvalidInput

_DEFAULT_STYLE = {"path": "simple", "query": "form", "header": "simple", "cookie": "form"}
_INTEGER = re.compile(r"[+-]?[0-9]{1,300}")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]{1,300}(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?")


def style_of(param: Mapping[str, Any]) -> tuple[str, bool]:
    """The parameter's style and explode, defaults filled in (explode is true only for form)."""
    style = str(param.get("style") or _DEFAULT_STYLE.get(str(param.get("in")), "simple"))
    return style, bool(param.get("explode", style == "form"))


def styled(param: Mapping[str, Any]) -> bool:
    """Whether this module decodes the parameter, rather than Connexion: label and matrix path
    parameters, objects in a path or form query, and every header and cookie (Connexion
    validates those as the raw text)."""
    location, kind = param.get("in"), flatten(_schema(param)).get("type")
    style, _ = style_of(param)
    if location in ("header", "cookie"):
        return True
    if location == "path":
        return style in ("label", "matrix") or kind == "object"
    return location == "query" and style == "form" and kind == "object"


def decode(param: Mapping[str, Any], raw: str) -> Any:
    """A path, header or cookie parameter's text (or a query parameter's one value) as the
    typed value it stands for."""
    name, style = str(param["name"]), style_of(param)[0]
    key = name
    if style in ("label", "matrix"):
        prefix = "." if style == "label" else ";"
        if not raw.startswith(prefix):
            raise InvalidInput(f"must be written in {style} style ({prefix}...)", param=name)
        key = prefix + name + ("*" if style_of(param)[1] else "")
    return _decoded(param, {key: raw})


def decode_query(param: Mapping[str, Any], query: Mapping[str, Any]) -> Any:
    """A form-style object query parameter, read from the whole query: one `name=a,1,b,2`
    pair, or (exploded) the pairs named as its properties. Returns `query.get(name)`'s
    absence as None."""
    name = str(param["name"])
    if style_of(param)[1]:
        properties = flatten(_schema(param)).get("properties") or {}
        present = [(key, query[key]) for key in properties if key in query]
        if not present:
            return None
        return _decoded(param, {name: "&".join(f"{k}={v}" for k, v in present)})
    if name not in query:
        return None
    return _decoded(param, {name: query[name]})


def _decoded(param: Mapping[str, Any], location: Mapping[str, str]) -> Any:
    name, schema = str(param["name"]), flatten(_schema(param))
    style, explode = style_of(param)
    kind = str(schema.get("type") or "string")
    # Imported here: openapi-core brings its validators, which a start otherwise never loads.
    from openapi_core.deserializing.styles import style_deserializers

    try:
        value = style_deserializers[style](explode, name, kind, location)
    except (ValueError, KeyError, TypeError):
        detail = f"is not written as the {style} style writes {kind}s"
        raise InvalidInput(detail, param=name) from None
    return typed(value, schema)


def typed(value: Any, schema: Mapping[str, Any]) -> Any:
    """Text (in lists and objects too) typed by `schema`: an integer, a number, true/false."""
    schema = flatten(schema)
    if isinstance(value, list):
        items = schema.get("items") or {}
        return [typed(item, items) for item in value]
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        fallback = extra if isinstance(extra, Mapping) else {}
        return {k: typed(v, properties.get(k, fallback)) for k, v in value.items()}
    return scalar(value, schema)


def scalar(value: str, schema: Mapping[str, Any]) -> Any:
    """One text value typed by its schema; a value that does not parse stays the text."""
    kind = flatten(schema).get("type")
    text = value.strip()
    if kind == "integer" and _INTEGER.fullmatch(text):
        return int(text)
    if kind == "number" and _DECIMAL.fullmatch(text):
        if _INTEGER.fullmatch(text):
            return int(text)
        number = float(text)
        return number if math.isfinite(number) else value
    if kind == "boolean" and text in ("true", "false"):
        return text == "true"
    return value


def flatten(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """A schema with its `allOf` parts merged in, enough to find types and properties."""
    if "allOf" not in schema:
        return schema
    merged: dict[str, Any] = {}
    for part in [*schema["allOf"], {k: v for k, v in schema.items() if k != "allOf"}]:
        part = flatten(part)
        for key, value in part.items():
            if key == "properties":
                merged["properties"] = {**merged.get("properties", {}), **value}
            else:
                merged.setdefault(key, value)
    return merged


def _schema(param: Mapping[str, Any]) -> Mapping[str, Any]:
    schema = param.get("schema")
    return schema if isinstance(schema, Mapping) else {}
