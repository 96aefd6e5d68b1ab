"""Swagger 2.0 -> OpenAPI 3.0.3, keeping the meaning, as swagger2openapi (what Prism uses) does.

    host, basePath, schemes         -> servers: [{url: scheme://host/basePath}]
    definitions, securityDefinitions -> components.schemas, components.securitySchemes
    parameters: in: body             -> requestBody, one media type per `consumes`
    parameters: in: formData         -> requestBody of an object schema (urlencoded, or
                                        multipart/form-data where a file is sent or consumed)
    query/path/header type, items, collectionFormat -> schema, style and explode
    responses: schema, examples, headers -> content per `produces`, example, header schemas
    type: file                       -> type: string, format: binary
    x-nullable, discriminator: name  -> nullable, discriminator: {propertyName: name}
    oauth2 flow: implicit, password, application, accessCode -> flows.implicit, password,
                                        clientCredentials, authorizationCode

`$ref`s follow their targets (`#/definitions/Pet` -> `#/components/schemas/Pet`; a body
parameter defined once becomes a component request body). What 3.0 cannot say (`tsv` arrays)
is listed in `Conversion.notes`. The document must be bundled first (`bundle.py`).
"""

from __future__ import annotations

from typing import Any

from mockyard.convert import METHODS, TARGET_VERSION, Conversion

_JSON = "application/json"
_FORM = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"
_SCHEMA_KEYS = (
    "format", "items", "default", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",
    "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems", "enum",
    "multipleOf",
)  # fmt: skip
_STYLES = {"csv": "form", "ssv": "spaceDelimited", "pipes": "pipeDelimited", "multi": "form"}
_FLOWS = {
    "implicit": "implicit",
    "password": "password",
    "application": "clientCredentials",
    "accessCode": "authorizationCode",
}


def is_swagger2(document: dict[str, Any]) -> bool:
    return str(document.get("swagger", "")).startswith("2")


def to_openapi30(document: dict[str, Any]) -> Conversion:
    """A 3.0.3 rendering of a Swagger 2.0 document; it shares parts with `document`, which the
    caller (the loader, which just read it) no longer uses."""
    return _Converter(document).run()


class _Converter:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.src = doc
        self.notes: list[str] = []
        self.consumes = doc.get("consumes") or [_JSON]
        self.produces = doc.get("produces") or [_JSON]
        self.shared = doc.get("parameters") or {}
        self.body_refs: set[str] = {
            name for name, p in self.shared.items() if isinstance(p, dict) and p.get("in") == "body"
        }
        self.form_refs: set[str] = {
            name
            for name, p in self.shared.items()
            if isinstance(p, dict) and p.get("in") == "formData"
        }

    def run(self) -> Conversion:
        src = self.src
        out: dict[str, Any] = {"openapi": TARGET_VERSION}
        out.update({k: src[k] for k in ("info",) if k in src})
        out["servers"] = self.servers()
        for key in ("tags", "externalDocs", "security"):
            if key in src:
                out[key] = src[key]
        out.update({k: v for k, v in src.items() if k.startswith("x-")})
        components: dict[str, Any] = {}
        if src.get("definitions"):
            components["schemas"] = {k: self.schema(v) for k, v in src["definitions"].items()}
        params = {k: v for k, v in self.shared.items() if k not in self.body_refs | self.form_refs}
        if params:
            components["parameters"] = {k: self.parameter(v) for k, v in params.items()}
        bodies = {k: self.shared[k] for k in sorted(self.body_refs)}
        if bodies:
            components["requestBodies"] = {
                k: self.request_body([v], self.consumes) for k, v in bodies.items()
            }
        if src.get("responses"):
            components["responses"] = {
                k: self.response(v, self.produces) for k, v in src["responses"].items()
            }
        if src.get("securityDefinitions"):
            components["securitySchemes"] = {
                k: self.security_scheme(v) for k, v in src["securityDefinitions"].items()
            }
        out["paths"] = {
            route: self.path_item(item) for route, item in (src.get("paths") or {}).items()
        }
        if components:
            out["components"] = components
        return Conversion(out, self.notes)

    def servers(self) -> list[dict[str, str]]:
        base = "/" + str(self.src.get("basePath") or "").strip("/")
        host = self.src.get("host")
        if not host:
            return [{"url": base}]
        schemes = self.src.get("schemes") or ["https"]
        return [{"url": f"{scheme}://{host}{base.rstrip('/')}"} for scheme in schemes]

    # --- paths ----------------------------------------------------------------------------------

    def path_item(self, item: Any) -> Any:
        if not isinstance(item, dict):
            return item
        shared = item.get("parameters") or []
        out: dict[str, Any] = {k: v for k, v in item.items() if k.startswith("x-")}
        plain = [p for p in shared if self.kind(p) not in ("body", "formData")]
        if plain:
            out["parameters"] = [self.parameter(p) for p in plain]
        for method in METHODS:
            if isinstance(item.get(method), dict):
                out[method] = self.operation(item[method], shared)
        return out

    def operation(self, op: dict[str, Any], shared: list[Any]) -> dict[str, Any]:
        out = {k: v for k, v in op.items() if k not in ("parameters", "responses", "consumes")}
        for key in ("produces", "schemes"):
            out.pop(key, None)
        own = op.get("parameters") or []
        names = {self.key(p) for p in own}
        every = [*(p for p in shared if self.key(p) not in names), *own]
        consumes = op.get("consumes") or self.consumes
        produces = op.get("produces") or self.produces
        # path-level ones stay on the path item (`path_item`); only a body moves in
        plain = [self.parameter(p) for p in own if self.kind(p) not in ("body", "formData")]
        if plain:
            out["parameters"] = plain
        payload = [p for p in every if self.kind(p) in ("body", "formData")]
        if payload:
            out["requestBody"] = self.request_body(payload, consumes)
        out["responses"] = {
            str(code): self.response(r, produces) for code, r in (op.get("responses") or {}).items()
        } or {"default": {"description": "Default response"}}
        return out

    def kind(self, param: Any) -> str:
        """`in` of a parameter, following a `#/parameters/...` reference."""
        param = self.deref(param)
        return str(param.get("in", "")) if isinstance(param, dict) else ""

    def key(self, param: Any) -> tuple[str, str]:
        param = self.deref(param)
        return (
            (str(param.get("name")), str(param.get("in"))) if isinstance(param, dict) else ("", "")
        )

    def deref(self, param: Any) -> Any:
        if isinstance(param, dict) and str(param.get("$ref", "")).startswith("#/parameters/"):
            return self.shared.get(_last(param["$ref"]), param)
        return param

    # --- parameters and bodies ------------------------------------------------------------------

    def parameter(self, param: Any) -> Any:
        if isinstance(param, dict) and "$ref" in param:
            return {"$ref": _ref(param["$ref"])}
        if not isinstance(param, dict):
            return param
        out = {k: v for k, v in param.items() if k in ("name", "in", "description", "required")}
        out.update({k: v for k, v in param.items() if k.startswith("x-")})
        if param.get("in") == "query" and "allowEmptyValue" in param:
            out["allowEmptyValue"] = param["allowEmptyValue"]
        out["schema"] = self.simple_schema(param)
        if param.get("type") == "array":
            fmt = param.get("collectionFormat", "csv")
            if fmt == "tsv":
                self.notes.append(f"parameter {param.get('name')}: tsv arrays read as csv")
                fmt = "csv"
            style = _STYLES.get(fmt, "form")
            if param.get("in") in ("path", "header"):
                style = "simple" if fmt == "csv" else style
            out["style"] = style
            out["explode"] = fmt == "multi"
        return out

    def simple_schema(self, param: dict[str, Any]) -> dict[str, Any]:
        """The JSON Schema of a non-body parameter, header or `items` object."""
        schema: dict[str, Any] = {}
        if "type" in param:
            schema["type"] = param["type"]
        for key in _SCHEMA_KEYS:
            if key in param:
                schema[key] = self.simple_schema(param[key]) if key == "items" else param[key]
        if schema.get("type") == "file":
            schema.update(type="string", format="binary")
        if param.get("x-nullable"):
            schema["nullable"] = True
        return schema

    def request_body(self, params: list[Any], consumes: list[str]) -> dict[str, Any]:
        body = next((p for p in params if self.kind(p) == "body"), None)
        if body is not None:
            if isinstance(body, dict) and "$ref" in body:
                return {"$ref": f"#/components/requestBodies/{_last(body['$ref'])}"}
            out: dict[str, Any] = {
                "content": {
                    mt: {"schema": self.schema(body.get("schema") or {})} for mt in consumes
                }
            }
            for key in ("description", "required"):
                if key in body:
                    out[key] = body[key]
            if "name" in body:
                out["x-codegen-request-body-name"] = body["name"]
            return out
        fields = [self.deref(p) for p in params]
        schema: dict[str, Any] = {"type": "object", "properties": {}}
        for field in fields:
            schema["properties"][field["name"]] = {
                **self.simple_schema(field),
                **({"description": field["description"]} if "description" in field else {}),
            }
        required = [f["name"] for f in fields if f.get("required")]
        if required:
            schema["required"] = required
        files = any(f.get("type") == "file" for f in fields)
        types = [t for t in consumes if t in (_FORM, _MULTIPART)]
        if files and _MULTIPART not in types:
            types = [_MULTIPART]
        return {"content": {mt: {"schema": schema} for mt in types or [_FORM]}}

    # --- responses ------------------------------------------------------------------------------

    def response(self, response: Any, produces: list[str]) -> Any:
        if not isinstance(response, dict):
            return response
        if "$ref" in response:
            return {"$ref": _ref(response["$ref"])}
        out: dict[str, Any] = {"description": response.get("description", "")}
        out.update({k: v for k, v in response.items() if k.startswith("x-")})
        examples = response.get("examples") or {}
        if "schema" in response:
            schema = self.schema(response["schema"])
            types = list(dict.fromkeys([*produces, *(t for t in examples if t not in produces)]))
            out["content"] = {mt: {"schema": schema} for mt in types}
            for mt, value in examples.items():
                out["content"][mt]["example"] = value
        if response.get("headers"):
            out["headers"] = {
                name: {
                    "schema": self.simple_schema(h),
                    **({"description": h["description"]} if "description" in h else {}),
                }
                for name, h in response["headers"].items()
            }
        return out

    def security_scheme(self, scheme: dict[str, Any]) -> dict[str, Any]:
        kind = scheme.get("type")
        described = {"description": scheme["description"]} if "description" in scheme else {}
        if kind == "basic":
            return {"type": "http", "scheme": "basic", **described}
        if kind == "oauth2":
            flow: dict[str, Any] = {"scopes": scheme.get("scopes") or {}}
            for key in ("authorizationUrl", "tokenUrl"):
                if key in scheme:
                    flow[key] = scheme[key]
            name = _FLOWS.get(scheme.get("flow", ""), "implicit")
            return {"type": "oauth2", "flows": {name: flow}, **described}
        return {k: v for k, v in scheme.items() if k in ("type", "name", "in", "description")}

    # --- schemas --------------------------------------------------------------------------------

    def schema(self, schema: Any) -> Any:
        if isinstance(schema, list):
            return [self.schema(s) for s in schema]
        if not isinstance(schema, dict):
            return schema
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str):
                out[key] = _ref(value)
            elif key == "x-nullable":
                out["nullable"] = bool(value)
            elif key == "discriminator" and isinstance(value, str):
                out[key] = {"propertyName": value}
            elif key in ("properties", "definitions") and isinstance(value, dict):
                out[key] = {k: self.schema(v) for k, v in value.items()}
            elif key in ("items", "additionalProperties", "not", "allOf", "anyOf", "oneOf"):
                out[key] = self.schema(value)
            else:
                out[key] = value
        if out.get("type") == "file":
            out.update(type="string", format="binary")
        return out


def _last(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _ref(ref: str) -> str:
    for old, new in (
        ("#/definitions/", "#/components/schemas/"),
        ("#/parameters/", "#/components/parameters/"),
        ("#/responses/", "#/components/responses/"),
    ):
        if ref.startswith(old):
            return new + ref[len(old) :]
    return ref
