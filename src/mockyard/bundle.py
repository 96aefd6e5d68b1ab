"""A spec split over several local files, bundled into one document whose `$ref`s are all local.

Big specs are often split (`$ref: schemas/pet.yaml`, `$ref: ../common.yaml#/Error`). Every
`$ref` that leaves the root file is followed, relative to the file that holds it, and the object
it names is brought in, as `swagger-cli bundle` and Redocly do:

- where a component may stand (a schema, parameter, response, request body, header, example,
  link, callback, security scheme) it becomes a component, named after the pointer's last token
  or the file (`Pet`, `pet`; `pet_2` when the name is taken), and the `$ref` points at it;
- written directly as a component (`components: schemas: Pet: {$ref: pet.yaml}`), it takes
  that place;
- anywhere else (a path item, an operation, a `description`) it is copied in place.

The same target is brought in once, so cycles through files stay cycles of local `$ref`s. Only
local files are read: a URL is refused, never fetched. A `$ref` to a missing file or to nothing
is a `SpecError` naming the file that holds it, the JSON pointer of the `$ref` and the target.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from mockyard import documents
from mockyard.errors import SpecError

_SECTIONS_30 = {
    "parameters": "parameters",
    "responses": "responses",
    "headers": "headers",
    "examples": "examples",
    "links": "links",
    "callbacks": "callbacks",
    "securitySchemes": "securitySchemes",
}
_SUBSCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions", "x-defs"})
_SUBSCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_SUBSCHEMA_KEYS = frozenset({"items", "not", "additionalProperties", "contains", "if", "then"})
_NOT_JSON_REFS = frozenset({"example", "default", "enum", "const"})  # values, not documents
_INLINE = ""


def bundle(doc: dict[str, Any], path: Path) -> list[Path]:
    """Bring every external `$ref` of `doc` (read from `path`) into it, in place; returns the
    other files read, for cache keys."""
    bundler = _Bundler(doc, path.resolve())
    if not bundler.needed():
        return []
    bundler.run()
    return sorted(p for p in bundler.files if p != bundler.root_path)


class _Bundler:
    def __init__(self, doc: dict[str, Any], root_path: Path) -> None:
        self.doc = doc
        self.root_path = root_path
        self.swagger = "swagger" in doc
        self.openapi30 = str(doc.get("openapi", "")).startswith("3.0")
        self.files: dict[Path, Any] = {root_path: doc}
        self.done: dict[tuple[Path, str], str] = {}  # target -> local $ref
        self.inlining: list[tuple[Path, str]] = []

    def needed(self) -> bool:
        return _has_external_ref(self.doc)

    def run(self) -> None:
        order = ["definitions", "parameters", "responses"] if self.swagger else ["components"]
        for key in [*order, *(k for k in list(self.doc) if k not in order)]:
            if key in self.doc:
                self.doc[key] = self.walk(self.doc[key], self.root_path, (key,), f"/{key}")

    # --- walking --------------------------------------------------------------------------------

    def walk(self, node: Any, source: Path, where: tuple[str, ...], pointer: str) -> Any:
        """`node` (found at `pointer` in `source`, placed at `where` in the bundle), its
        external `$ref`s brought in."""
        if isinstance(node, list):
            for i, item in enumerate(node):
                node[i] = self.walk(item, source, (*where, str(i)), f"{pointer}/{i}")
            return node
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str):
            target = self.target(ref, source, pointer)
            if target is not None:
                return self.bring(node, target, source, where, pointer)
        for key in list(node):
            if key in _NOT_JSON_REFS or key == "$ref":
                continue
            node[key] = self.walk(
                node[key], source, (*where, key), f"{pointer}/{documents.escape(key)}"
            )
        return node

    def target(self, ref: str, source: Path, pointer: str) -> tuple[Path, str] | None:
        """The (file, JSON pointer) an external `$ref` names; None for the root's own refs."""
        parts = urlsplit(ref)
        if parts.scheme and len(parts.scheme) > 1:  # `C:` is a drive, not a scheme
            raise self.error(source, pointer, ref, "is a URL: mockyard reads local files only")
        file_part, _, fragment = ref.partition("#")
        if not file_part and source == self.root_path:
            return None
        file = (source.parent / unquote(file_part)).resolve() if file_part else source
        return (file, unquote(fragment))

    def bring(
        self,
        node: dict[str, Any],
        target: tuple[Path, str],
        source: Path,
        where: tuple[str, ...],
        pointer: str,
    ) -> Any:
        file, fragment = target
        if file == self.root_path:
            return {**node, "$ref": f"#{fragment}"}
        if target in self.done:
            return {**node, "$ref": self.done[target]}
        value = copy.deepcopy(self.resolve(target, source, pointer, node["$ref"]))
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        section = self.section(where)
        if section == _INLINE or not isinstance(value, dict):
            if target in self.inlining:
                raise self.error(
                    source, pointer, node["$ref"], "is circular where only a copy can stand"
                )
            self.inlining.append(target)
            try:
                placed = self.walk(value, file, where, fragment)
            finally:
                self.inlining.pop()
            return {**placed, **siblings} if isinstance(placed, dict) else placed
        if self.is_component_slot(where):
            self.done[target] = "#/" + "/".join(documents.escape(w) for w in where)
            placed = self.tidied(self.walk(value, file, where, fragment))
            return {**placed, **siblings}
        holder = self.components(section)
        name = _free_name(_wanted_name(file, fragment), holder)
        holder[name] = value
        local = self.local_ref(section, name)
        self.done[target] = local
        holder[name] = self.tidied(self.walk(value, file, self.slot(section, name), fragment))
        return {**siblings, "$ref": local}

    def tidied(self, value: Any) -> Any:
        """A JSON Schema file's own `definitions` (its `#/definitions/X` refs now point at
        components) kept as `x-definitions`: OpenAPI 3.0 has no such keyword."""
        if self.openapi30 and isinstance(value, dict) and "definitions" in value:
            value["x-definitions"] = value.pop("definitions")
        return value

    def resolve(self, target: tuple[Path, str], source: Path, pointer: str, ref: str) -> Any:
        file, fragment = target
        if file not in self.files:
            if not file.is_file():
                raise self.error(source, pointer, ref, f"names a file that does not exist ({file})")
            self.files[file] = documents.read(file)
        node = self.files[file]
        for raw in fragment.split("/")[1:] if fragment not in ("", "/") else []:
            token = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                raise self.error(source, pointer, ref, f"points at nothing in {file.name}")
        return node

    # --- where things go ------------------------------------------------------------------------

    def section(self, where: tuple[str, ...]) -> str:
        """The component section an object at `where` belongs to, or _INLINE."""
        if _in_schema(where, self.swagger):
            return "definitions" if self.swagger else "schemas"
        if len(where) < 2:
            return _INLINE
        parent = where[-2]
        if self.swagger:
            if parent == "parameters" and (where[-1].isdigit() or len(where) == 2):
                return "parameters"
            return "responses" if parent == "responses" else _INLINE
        if where[-1] == "requestBody" or (parent == "requestBodies" and len(where) == 3):
            return "requestBodies"
        if parent == "parameters" and not where[-1].isdigit() and len(where) != 3:
            return _INLINE
        return _SECTIONS_30.get(parent, _INLINE)

    def is_component_slot(self, where: tuple[str, ...]) -> bool:
        if self.swagger:
            return len(where) == 2 and where[0] in ("definitions", "parameters", "responses")
        return len(where) == 3 and where[0] == "components"

    def components(self, section: str) -> dict[str, Any]:
        if self.swagger:
            found: dict[str, Any] = self.doc.setdefault(section, {})
            return found
        components: dict[str, Any] = self.doc.setdefault("components", {})
        return components.setdefault(section, {})  # type: ignore[no-any-return]

    def slot(self, section: str, name: str) -> tuple[str, ...]:
        return (section, name) if self.swagger else ("components", section, name)

    def local_ref(self, section: str, name: str) -> str:
        return "#/" + "/".join(documents.escape(w) for w in self.slot(section, name))

    def error(self, source: Path, pointer: str, ref: str, problem: str) -> SpecError:
        return SpecError(f"{pointer or '/'}: $ref {ref!r} {problem}", path=source)


def _in_schema(where: tuple[str, ...], swagger: bool) -> bool:
    """Whether `where` is a schema's place: an entry (a `schema`, a named component schema)
    followed only by subschema keywords."""
    if swagger and where[:1] == ("definitions",):
        rest = where[2:] if len(where) >= 2 else None
    elif not swagger and where[:2] == ("components", "schemas"):
        rest = where[3:] if len(where) >= 3 else None
    else:
        rest = where[where.index("schema") + 1 :] if "schema" in where else None
    if rest is None:
        return False
    i = 0
    while i < len(rest):
        if rest[i] in _SUBSCHEMA_KEYS:
            i += 1
        elif rest[i] in _SUBSCHEMA_MAPS | _SUBSCHEMA_LISTS and i + 1 < len(rest):
            i += 2
        else:
            return False
    return True


def _has_external_ref(node: Any) -> bool:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            return True
        return any(_has_external_ref(v) for k, v in node.items() if k not in _NOT_JSON_REFS)
    if isinstance(node, list):
        return any(_has_external_ref(v) for v in node)
    return False


def _wanted_name(file: Path, fragment: str) -> str:
    tokens = [t for t in fragment.split("/") if t]
    raw = tokens[-1].replace("~1", "/").replace("~0", "~") if tokens else file.stem
    return re.sub(r"[^A-Za-z0-9._-]+", "_", raw).strip("_") or "component"


def _free_name(wanted: str, taken: dict[str, Any]) -> str:
    name, n = wanted, 1
    while name in taken:
        n += 1
        name = f"{wanted}_{n}"
    return name
