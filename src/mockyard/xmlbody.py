"""A value as the XML its schema describes, with the schema's `xml` hints (OpenAPI 3.0 4.7.26).

Element names: a schema's `xml.name`, else the property's name, else (for the root) the name of
the component a `$ref` names, else `root`. `attribute: true` makes a scalar property an
attribute of its parent; `namespace` and `prefix` qualify an element (`prefix:name` with its
`xmlns:prefix`); an array is one element per item, named as its `items` say, inside a wrapper
element when `wrapped: true` (the root array is always wrapped: a document has one root).
Booleans are `true`/`false`; null is an empty element. Built with the standard library's
`xml.etree`, which escapes text and attribute values.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from mockyard.operations import deref


def to_xml(value: Any, schema: Any, document: Mapping[str, Any]) -> bytes:
    """`value` (what a JSON body would hold) as an XML document shaped by `schema`."""
    root_name = _component_name(schema) or "root"
    resolved = _resolved(schema, document)
    hints = _hints(resolved)
    element = ET.Element(_tag(hints, root_name))
    _qualify(element, hints)
    if isinstance(value, list):
        _items(element, value, resolved, root_name, document)
    else:
        _fill(element, value, resolved, document)
    return bytes(ET.tostring(element, encoding="utf-8", xml_declaration=True))


def _fill(element: ET.Element, value: Any, schema: Mapping[str, Any], doc: Any) -> None:
    """Put `value` into `element`: an object's properties, an array's items or a scalar."""
    if isinstance(value, Mapping):
        properties = _properties(schema, doc)
        for name, child_value in value.items():
            child_schema = _resolved(properties.get(name, {}), doc)
            hints = _hints(child_schema)
            if hints.get("attribute") and not isinstance(child_value, Mapping | list):
                element.set(_tag(hints, str(name)), _text(child_value))
            elif isinstance(child_value, list):
                parent = element
                if hints.get("wrapped"):
                    parent = ET.SubElement(element, _tag(hints, str(name)))
                    _qualify(parent, hints)
                _items(parent, child_value, child_schema, str(name), doc)
            else:
                child = ET.SubElement(element, _tag(hints, str(name)))
                _qualify(child, hints)
                _fill(child, child_value, child_schema, doc)
    elif isinstance(value, list):
        _items(element, value, schema, element.tag, doc)
    elif value is not None:
        element.text = _text(value)


def _items(
    parent: ET.Element, values: list[Any], schema: Mapping[str, Any], name: str, doc: Any
) -> None:
    items = _resolved(schema.get("items", {}), doc)
    hints = _hints(items)
    tag = _tag(hints, _component_name(schema.get("items")) or name)
    for value in values:
        child = ET.SubElement(parent, tag)
        _qualify(child, hints)
        _fill(child, value, items, doc)


def _properties(schema: Mapping[str, Any], doc: Any) -> dict[str, Any]:
    """The properties a schema names, its `allOf` parts' too."""
    found = dict(schema.get("properties") or {})
    for part in schema.get("allOf") or []:
        found.update(_properties(_resolved(part, doc), doc))
    return found


def _resolved(schema: Any, doc: Any) -> Mapping[str, Any]:
    found = deref(doc, schema)
    return found if isinstance(found, Mapping) else {}


def _hints(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    hints = schema.get("xml")
    return hints if isinstance(hints, Mapping) else {}


def _component_name(schema: Any) -> str | None:
    ref = schema.get("$ref") if isinstance(schema, Mapping) else None
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        return ref.rsplit("/", 1)[1].replace("~1", "/").replace("~0", "~")
    return None


def _tag(hints: Mapping[str, Any], name: str) -> str:
    tag = str(hints.get("name") or name)
    prefix = hints.get("prefix")
    return f"{prefix}:{tag}" if prefix else tag


def _qualify(element: ET.Element, hints: Mapping[str, Any]) -> None:
    namespace = hints.get("namespace")
    if namespace and not hints.get("attribute"):
        prefix = hints.get("prefix")
        element.set(f"xmlns:{prefix}" if prefix else "xmlns", str(namespace))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
