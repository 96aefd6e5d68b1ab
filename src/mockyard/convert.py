"""OpenAPI 3.1 -> 3.0.3, keeping the meaning, so that Connexion 3.3 can load any 3.x document.

Connexion validates every document against the 3.0 meta-schema and validates payloads with
Draft 4 plus `nullable`. A 3.1 document is rewritten into that dialect:

    type: [string, "null"]            -> type: string, nullable: true
    type: [string, integer]           -> anyOf: [{type: string}, {type: integer}]
    type: "null"                      -> enum: [null], nullable: true
    const: X                          -> enum: [X]
    exclusiveMinimum: 0               -> minimum: 0, exclusiveMinimum: true   (and Maximum)
    examples: [a, b]   (in a schema)  -> example: a
    prefixItems: [A, B]               -> items: {anyOf: [A, B]}
    contentEncoding: base64           -> format: byte
    $ref with sibling keywords        -> allOf: [{$ref}] plus the siblings
    true / false schemas              -> {} / {not: {}}

Keywords 3.0 cannot express (`if`/`then`/`else`, `dependentRequired`, `patternProperties`,
`unevaluatedProperties`, `contains`, ...) are dropped: the served API accepts a little more than
the vendor's would. Every such loss is listed in `Conversion.notes`.

`safe_component_names` (any version) renames components whose names have characters outside
`[A-Za-z0-9._-]` (spaces, `>`), rewriting every `$ref`, raw or percent-encoded, to the new names:
OpenAPI requires that pattern and several tools (openapi-core, Swagger UI) rely on it.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

TARGET_VERSION = "3.0.3"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

SCHEMA_KEYWORDS_30 = frozenset(
    {
        "$ref", "title", "multipleOf", "maximum", "exclusiveMaximum", "minimum",
        "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems",
        "uniqueItems", "maxProperties", "minProperties", "required", "enum", "type", "allOf",
        "oneOf", "anyOf", "not", "items", "properties", "additionalProperties", "description",
        "format", "default", "nullable", "discriminator", "readOnly", "writeOnly", "xml",
        "externalDocs", "example", "deprecated",
    }
)  # fmt: skip
_ANNOTATIONS = frozenset({"description", "summary", "title", "example", "examples", "deprecated"})
_SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
_COMPONENT_SECTIONS = (
    "schemas", "responses", "parameters", "examples", "requestBodies", "headers", "links",
    "callbacks",
)  # fmt: skip


@dataclass
class Conversion:
    """A converted document and what could not be carried over (one line per loss).

    `source` is a cache key of everything the document was made from (its files, the loader's
    code), "" when unknown: a key for results computed from the document, without hashing it."""

    document: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    source: str = ""


def is_openapi31(document: dict[str, Any]) -> bool:
    return str(document.get("openapi", "")).startswith("3.1")


def to_openapi30(document: dict[str, Any]) -> Conversion:
    """A 3.0.3 copy of a 3.1 document (a 3.0 document comes back unchanged, as a copy)."""
    doc = copy.deepcopy(document)
    if not is_openapi31(doc):
        return Conversion(doc)
    conv = _Converter()
    doc["openapi"] = TARGET_VERSION
    doc.pop("jsonSchemaDialect", None)
    if "webhooks" in doc:
        doc["x-webhooks"] = doc.pop("webhooks")
        conv.notes.append("webhooks: kept as x-webhooks (3.0 has no webhooks)")
    info = doc.get("info")
    if isinstance(info, dict) and "summary" in info:
        info["x-summary"] = info.pop("summary")
    if isinstance(info, dict) and isinstance(info.get("license"), dict):
        info["license"].pop("identifier", None)
    doc.setdefault("paths", {})
    components = doc.get("components") or {}
    path_items = components.pop("pathItems", None) or {}
    for name, item in list(doc["paths"].items()):
        doc["paths"][name] = conv.path_item(_inline_path_item(item, path_items), f"paths.{name}")
    conv.components(components)
    if components:
        doc["components"] = components
    return Conversion(doc, conv.notes)


def safe_component_names(document: dict[str, Any], *, encoded_refs: bool = True) -> dict[str, str]:
    """Rename components whose names OpenAPI forbids, in place; returns {old ref: new ref}.
    `encoded_refs=False` says no `$ref` has a `%` (the caller saw none in the text)."""
    components = document.get("components") or {}
    renamed: dict[str, str] = {}
    for section in _COMPONENT_SECTIONS:
        items = components.get(section)
        if not isinstance(items, dict) or all(_SAFE_NAME.match(n) for n in items):
            continue
        new_items: dict[str, Any] = {}
        for name, value in items.items():
            new = name
            if not _SAFE_NAME.match(name):
                base = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "component"
                new, n = base, 1
                while new in items or new in new_items:
                    n += 1
                    new = f"{base}_{n}"
                renamed[f"#/components/{section}/{name}"] = f"#/components/{section}/{new}"
            new_items[new] = value
        components[section] = new_items
    if renamed or (encoded_refs and _has_encoded_refs(document)):
        _rewrite_refs(document, renamed)
    return renamed


def normalise_ref(ref: str) -> str:
    """`#/components/schemas/A%20B` -> `#/components/schemas/A B` (JSON pointer kept escaped)."""
    if "#" not in ref:
        return ref
    base, fragment = ref.split("#", 1)
    return f"{base}#{unquote(fragment)}"


def _has_encoded_refs(node: Any) -> bool:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and "%" in ref:
            return True
        return any(_has_encoded_refs(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_encoded_refs(v) for v in node)
    return False


def _rewrite_refs(node: Any, renamed: dict[str, str]) -> None:
    if isinstance(node, list):
        for item in node:
            _rewrite_refs(item, renamed)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str):
            node[key] = _renamed_ref(value, renamed)
        elif key == "mapping" and isinstance(value, dict):  # discriminator mapping
            for k, target in value.items():
                if isinstance(target, str) and target.startswith("#"):
                    value[k] = _renamed_ref(target, renamed)
        else:
            _rewrite_refs(value, renamed)


def _renamed_ref(ref: str, renamed: dict[str, str]) -> str:
    ref = normalise_ref(ref)
    parts = ref.split("/")
    if len(parts) >= 4 and parts[0] == "#" and parts[1] == "components":
        name = parts[3].replace("~1", "/").replace("~0", "~")
        head = f"#/components/{parts[2]}/{name}"
        if head in renamed:
            return "/".join([renamed[head], *parts[4:]])
    return ref


def _inline_path_item(item: Any, path_items: dict[str, Any]) -> Any:
    if isinstance(item, dict) and isinstance(item.get("$ref"), str):
        name = item["$ref"].rsplit("/", 1)[-1]
        if item["$ref"].startswith("#/components/pathItems/") and name in path_items:
            return copy.deepcopy(path_items[name])
    return item


class _Converter:
    def __init__(self) -> None:
        self.notes: list[str] = []

    # --- document structure ---------------------------------------------------------------------

    def components(self, components: dict[str, Any]) -> None:
        for name, schema in list((components.get("schemas") or {}).items()):
            components["schemas"][name] = self.schema(schema, f"components.schemas.{name}")
        for name, param in (components.get("parameters") or {}).items():
            self.parameter(param, f"components.parameters.{name}")
        for name, header in (components.get("headers") or {}).items():
            self.parameter(header, f"components.headers.{name}")
        for name, response in (components.get("responses") or {}).items():
            self.response(response, f"components.responses.{name}")
        for name, body in (components.get("requestBodies") or {}).items():
            self.content_holder(body, f"components.requestBodies.{name}")
        for name, callback in (components.get("callbacks") or {}).items():
            self.callback(callback, f"components.callbacks.{name}")

    def path_item(self, item: Any, where: str) -> Any:
        if not isinstance(item, dict):
            return item
        if "$ref" in item:
            return {"$ref": item["$ref"]}
        for i, param in enumerate(item.get("parameters") or []):
            self.parameter(param, f"{where}.parameters[{i}]")
        for method in METHODS:
            op = item.get(method)
            if isinstance(op, dict):
                self.operation(op, f"{where}.{method}")
        return item

    def operation(self, op: dict[str, Any], where: str) -> None:
        for i, param in enumerate(op.get("parameters") or []):
            self.parameter(param, f"{where}.parameters[{i}]")
        if isinstance(op.get("requestBody"), dict):
            self.content_holder(op["requestBody"], f"{where}.requestBody")
        if not op.get("responses"):
            op["responses"] = {"default": {"description": "Default response"}}
        for status, response in op["responses"].items():
            self.response(response, f"{where}.responses.{status}")
        for name, callback in (op.get("callbacks") or {}).items():
            self.callback(callback, f"{where}.callbacks.{name}")

    def callback(self, callback: Any, where: str) -> None:
        if isinstance(callback, dict) and "$ref" not in callback:
            for expr, item in callback.items():
                callback[expr] = self.path_item(item, f"{where}.{expr}")

    def parameter(self, param: Any, where: str) -> None:
        if not isinstance(param, dict):
            return
        if "$ref" in param:
            _strip_ref_siblings(param)
            return
        if "schema" in param:
            param["schema"] = self.schema(param["schema"], f"{where}.schema")
        if "example" in param and "examples" in param:
            del param["example"]
        self.content(param.get("content"), where)

    def response(self, response: Any, where: str) -> None:
        if not isinstance(response, dict):
            return
        if "$ref" in response:
            _strip_ref_siblings(response)
            return
        for name, header in (response.get("headers") or {}).items():
            self.parameter(header, f"{where}.headers.{name}")
        self.content(response.get("content"), where)

    def content_holder(self, holder: dict[str, Any], where: str) -> None:
        if "$ref" in holder:
            _strip_ref_siblings(holder)
            return
        self.content(holder.get("content"), where)

    def content(self, content: Any, where: str) -> None:
        if not isinstance(content, dict):
            return
        for media_type, media in content.items():
            if not isinstance(media, dict):
                continue
            if "schema" in media:
                media["schema"] = self.schema(media["schema"], f"{where}.{media_type}")
            if "example" in media and "examples" in media:
                del media["example"]
            for name, enc in (media.get("encoding") or {}).items():
                for hname, header in (enc.get("headers") or {}).items():
                    self.parameter(header, f"{where}.{media_type}.encoding.{name}.{hname}")

    # --- schemas --------------------------------------------------------------------------------

    def schema(self, schema: Any, where: str) -> Any:
        if schema is True:
            return {}
        if schema is False:
            return {"not": {}}
        if not isinstance(schema, dict):
            return schema
        s = dict(schema)
        if "$ref" in s:
            ref = s.pop("$ref")
            siblings = {k: v for k, v in s.items() if k not in _ANNOTATIONS}
            ref = ref.replace("/$defs/", "/x-defs/")
            if not siblings:  # 3.0 ignores a reference's siblings; only annotations are lost
                return {"$ref": ref}
            s["allOf"] = [{"$ref": ref}, *s.get("allOf", [])]
        if "$defs" in s:
            defs = s.pop("$defs")
            s["x-defs"] = {k: self.schema(v, f"{where}.$defs.{k}") for k, v in defs.items()}
        if "const" in s:
            s["enum"] = [s.pop("const")]
        self._types(s)
        for bound, flag_of in (("Minimum", "minimum"), ("Maximum", "maximum")):
            self._exclusive(s, f"exclusive{bound}", flag_of)
        if "examples" in s:
            examples = s.pop("examples")
            if isinstance(examples, list) and examples and "example" not in s:
                s["example"] = examples[0]
        if "prefixItems" in s:
            branches = [*s.pop("prefixItems")]
            if "items" in s and s["items"] is not False:
                branches.append(s["items"])
            s["items"] = {"anyOf": branches} if len(branches) > 1 else branches[0]
            self.notes.append(f"{where}: prefixItems approximated by items: anyOf")
        if s.get("contentEncoding") == "base64" and "format" not in s:
            s["format"] = "byte"
        if s.get("contentMediaType") == "application/octet-stream" and "format" not in s:
            s["format"] = "binary"
        if s.get("type") == "array" and "items" not in s:
            s["items"] = {}
        if s.get("required") == []:
            del s["required"]
        for key in ("items", "not"):
            if key in s:
                s[key] = self.schema(s[key], f"{where}.{key}")
        if isinstance(s.get("additionalProperties"), dict):
            s["additionalProperties"] = self.schema(s["additionalProperties"], f"{where}.*")
        for key in ("allOf", "anyOf", "oneOf"):
            if key in s:
                s[key] = [self.schema(b, f"{where}.{key}[{i}]") for i, b in enumerate(s[key])]
        if isinstance(s.get("properties"), dict):
            s["properties"] = {
                name: self.schema(sub, f"{where}.{name}") for name, sub in s["properties"].items()
            }
        for key in list(s):
            if key not in SCHEMA_KEYWORDS_30 and not key.startswith("x-"):
                del s[key]
                self.notes.append(f"{where}: dropped {key!r} (no OpenAPI 3.0 equivalent)")
        return s

    def _types(self, s: dict[str, Any]) -> None:
        if "type" not in s:
            return
        types = s["type"] if isinstance(s["type"], list) else [s["type"]]
        nullable = "null" in types
        rest = [t for t in types if t != "null"]
        if not rest:
            del s["type"]
            s["nullable"] = True
            s.setdefault("enum", [None])
        elif len(rest) == 1:
            s["type"] = rest[0]
        else:
            del s["type"]
            branches = [{"type": t, **({"nullable": True} if nullable else {})} for t in rest]
            if "anyOf" in s:
                s["allOf"] = [*s.get("allOf", []), {"anyOf": s.pop("anyOf")}]
            s["anyOf"] = branches
            return
        if nullable:
            s["nullable"] = True

    @staticmethod
    def _exclusive(s: dict[str, Any], key: str, bound: str) -> None:
        value = s.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return
        del s[key]
        current = s.get(bound)
        lower = bound == "minimum"
        if isinstance(current, int | float) and (current > value if lower else current < value):
            return  # the inclusive bound is already the stricter one
        s[bound] = value
        s[key] = True


def _strip_ref_siblings(node: dict[str, Any]) -> None:
    for key in [k for k in node if k != "$ref"]:
        del node[key]
