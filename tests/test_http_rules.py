"""HTTP as the spec and RFC 9110 say, on specs written to show each rule (issue 16, point 3).

Every request is sent to two in-process sandboxes of the same spec, one reading plain requests
itself (the fast reader) and one leaving every request to Connexion: both must answer alike
(`answer`), so a rule kept by one reader and not the other fails here.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient
from workspaces import ok, served, spec, write_workspace

Twins = tuple[TestClient, TestClient]


@pytest.fixture
def twins(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Twins]:
    """The fast and the Connexion-only sandbox of the spec (and handlers) the test names with
    `@pytest.mark.parametrize("twins", [(SPEC, HANDLERS)], indirect=True)`."""
    document, handlers = request.param
    root = write_workspace(
        tmp_path / "ws", {"t.yaml": document}, handlers={"t.py": handlers} if handlers else None
    )
    (tmp_path / "fast").mkdir()
    (tmp_path / "slow").mkdir()
    with (
        served(tmp_path / "fast", root, seed=3) as fast,
        served(tmp_path / "slow", root, seed=3, fast_path=False) as slow,
    ):
        yield fast, slow


def answer(twins: Twins, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """The answer to one request; both readers must give it."""
    fast, slow = (client.request(method, url, **kwargs) for client in twins)
    seen = [(r.status_code, _headers(r), r.content) for r in (fast, slow)]
    assert seen[0] == seen[1], (method, url)
    return fast


def _headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k not in ("date", "server")}


def detail(response: httpx.Response) -> str:
    return str(response.json().get("detail", ""))


JSON_OBJECT = {"type": "object"}

# --- 405 and HEAD ---------------------------------------------------------------------------------

ROUTES = spec(
    {
        "/things": {
            "get": {"operationId": "list-things", "responses": ok(JSON_OBJECT)},
            "put": {"operationId": "put-things", "responses": ok(JSON_OBJECT)},
            "post": {"operationId": "add-thing", "responses": ok(JSON_OBJECT)},
        },
        "/things/{id}": {
            "delete": {
                "operationId": "drop-thing",
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
                ],
                "responses": {"204": {"description": "gone"}},
            }
        },
    }
)


@pytest.mark.parametrize("twins", [(ROUTES, None)], indirect=True)
def test_a_405_allows_every_method_of_the_path_and_head_with_get(twins: Twins) -> None:
    response = answer(twins, "PATCH", "/things")
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "PUT", "POST"}
    only_delete = answer(twins, "GET", "/things/7")
    assert only_delete.status_code == 405 and only_delete.headers["allow"] == "DELETE"


@pytest.mark.parametrize("twins", [(ROUTES, None)], indirect=True)
def test_head_answers_get_headers_without_a_body(twins: Twins) -> None:
    get, head = answer(twins, "GET", "/things"), answer(twins, "HEAD", "/things")
    assert head.status_code == get.status_code == 200
    assert head.content == b"" and get.content
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers["content-length"] == get.headers["content-length"]


# --- a path value its parameter cannot hold ---------------------------------------------------


def _item_path(responses: dict[str, Any]) -> dict[str, Any]:
    int64 = {"type": "integer", "format": "int64"}
    return {
        "get": {
            "operationId": f"item-{'-'.join(responses)}",
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": int64}],
            "responses": responses,
        }
    }


PATH_BOUNDS = spec(
    {
        "/found/{id}": _item_path({**ok(JSON_OBJECT), "404": {"description": "no such item"}}),
        "/checked/{id}": _item_path(
            {**ok(JSON_OBJECT), "400": {"description": "bad id"}, "404": {"description": "none"}}
        ),
    }
)


@pytest.mark.parametrize("twins", [(PATH_BOUNDS, None)], indirect=True)
def test_a_path_value_past_its_bounds_is_the_documented_404_unless_400_is_documented(
    twins: Twins,
) -> None:
    past = str(2**63)
    assert answer(twins, "GET", f"/found/{past}").status_code == 404
    assert answer(twins, "GET", f"/checked/{past}").status_code == 400
    assert answer(twins, "GET", f"/found/{2**63 - 1}").status_code == 200


# --- numeric formats ------------------------------------------------------------------------------


def _number(kind: str, fmt: str) -> dict[str, str]:
    return {"type": kind, "format": fmt}


FORMATS = spec(
    {
        "/numbers": {
            "get": {
                "operationId": "numbers",
                "parameters": [
                    {"name": n, "in": "query", "schema": _number(k, n)}
                    for n, k in (("int32", "integer"), ("int64", "integer"), ("float", "number"))
                ],
                "responses": ok(JSON_OBJECT),
            },
            "post": {
                "operationId": "add-numbers",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "small": _number("integer", "int32"),
                                    "big": _number("integer", "int64"),
                                    "ratio": _number("number", "float"),
                                },
                            }
                        }
                    },
                },
                "responses": ok(JSON_OBJECT),
            },
        }
    }
)
INT32, INT64, FLOAT_MAX = 2**31, 2**63, "3.4028234663852886e38"


@pytest.mark.parametrize("twins", [(FORMATS, None)], indirect=True)
@pytest.mark.parametrize(
    ("query", "status"),
    [
        (f"int32={INT32 - 1}&int64={INT64 - 1}&float={FLOAT_MAX}", 200),
        (f"int32=-{INT32}&int64=-{INT64}&float=-{FLOAT_MAX}", 200),
        (f"int32={INT32}", 400),
        (f"int32=-{INT32 + 1}", 400),
        (f"int64={INT64}", 400),
        ("float=3.5e38", 400),
        ("float=-1e39", 400),
    ],
)
def test_numeric_formats_bound_query_parameters(twins: Twins, query: str, status: int) -> None:
    response = answer(twins, "GET", f"/numbers?{query}")
    assert response.status_code == status, response.text
    if status == 400:
        assert detail(response).startswith(query.split("=")[0] + ": must be")


@pytest.mark.parametrize("twins", [(FORMATS, None)], indirect=True)
@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"small": INT32 - 1, "big": INT64 - 1, "ratio": 1.5}, 200),
        ({"small": INT32}, 400),
        ({"big": -INT64 - 1}, 400),
        ({"ratio": 1e39}, 400),
    ],
)
def test_numeric_formats_bound_body_fields(twins: Twins, body: dict, status: int) -> None:
    response = answer(twins, "POST", "/numbers", json=body)
    assert response.status_code == status, response.text
    if status == 400:
        assert detail(response).startswith(f"{next(iter(body))}: must be")


# --- security schemes and challenges --------------------------------------------------------------

SCHEMES = {
    "basic": {"type": "http", "scheme": "basic"},
    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
    "digest": {"type": "http", "scheme": "digest"},
    "hoba": {"type": "http", "scheme": "HOBA"},
    "header": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
    "query": {"type": "apiKey", "in": "query", "name": "api_key"},
    "cookie": {"type": "apiKey", "in": "cookie", "name": "sid"},
    "oauth2": {
        "type": "oauth2",
        "flows": {"clientCredentials": {"tokenUrl": "https://example.com/token", "scopes": {}}},
    },
    "oidc": {
        "type": "openIdConnect",
        "openIdConnectUrl": "https://example.com/.well-known/openid-configuration",
    },
}
SECURED = spec(
    {
        f"/{name}": {
            "get": {
                "operationId": f"by-{name}",
                "security": [{name: []}],
                "responses": {**ok(JSON_OBJECT), "401": {"description": "who are you"}},
            }
        }
        for name in SCHEMES
    }
    | {
        "/open": {
            "get": {
                "operationId": "open",
                "responses": {**ok(JSON_OBJECT), "401": {"description": "never, unless asked"}},
            }
        }
    },
    components={"securitySchemes": SCHEMES},
)
WHOAMI = """
def _me(ctx):
    return {"caller": ctx.principal.id if ctx.principal else None}

by_basic = by_bearer = by_digest = by_hoba = by_header = by_query = by_cookie = _me
by_oauth2 = by_oidc = _me
"""
DIGEST = (
    'Digest username="ada", realm="t", nonce="abc", uri="/digest", qop=auth, nc=00000001, '
    'cnonce="xyz", response="6629fae49393a05397450978507c4ef1"'
)


@pytest.mark.parametrize("twins", [(SECURED, WHOAMI)], indirect=True)
@pytest.mark.parametrize(
    ("name", "request_args", "caller"),
    [
        ("basic", {"auth": ("ada", "pw")}, "ada"),
        ("bearer", {"headers": {"Authorization": "Bearer tok-1"}}, "tok-1"),
        ("digest", {"headers": {"Authorization": DIGEST}}, "ada"),
        ("hoba", {"headers": {"Authorization": "HOBA result=abc.def"}}, "result=abc.def"),
        ("header", {"headers": {"X-Api-Key": "k-1"}}, "k-1"),
        ("query", {"params": {"api_key": "k-2"}}, "k-2"),
        ("cookie", {"headers": {"Cookie": "sid=k-3"}}, "k-3"),
        ("oauth2", {"headers": {"Authorization": "Bearer o-1"}}, "o-1"),
        ("oidc", {"headers": {"Authorization": "Bearer i-1"}}, "i-1"),
    ],
)
def test_every_scheme_type_accepts_a_well_formed_credential(
    twins: Twins, name: str, request_args: dict, caller: str
) -> None:
    response = answer(twins, "GET", f"/{name}", **request_args)
    assert response.status_code == 200, response.text
    assert response.json() == {"caller": caller}
    refused = answer(twins, "GET", f"/{name}")
    assert refused.status_code == 401 and refused.headers["www-authenticate"]


@pytest.mark.parametrize("twins", [(SECURED, WHOAMI)], indirect=True)
def test_a_digest_header_without_its_fields_is_refused(twins: Twins) -> None:
    response = answer(twins, "GET", "/digest", headers={"Authorization": 'Digest username="a"'})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Digest realm="t", qop="auth"')


@pytest.mark.parametrize("twins", [(SECURED, WHOAMI)], indirect=True)
def test_a_digest_client_answers_the_challenge(twins: Twins) -> None:
    """httpx's own Digest client reads the challenge and answers it."""
    response = twins[0].get("/digest", auth=httpx.DigestAuth("grace", "secret"))
    assert response.status_code == 200 and response.json() == {"caller": "grace"}


@pytest.mark.parametrize("twins", [(SECURED, WHOAMI)], indirect=True)
@pytest.mark.parametrize(
    ("path", "challenge"),
    [
        ("/basic", 'Basic realm="t", charset="UTF-8"'),
        ("/bearer", 'Bearer realm="t"'),
        ("/hoba", 'Hoba realm="t"'),
        ("/oidc", 'Bearer realm="t"'),
        ("/open", 'Bearer realm="t"'),  # an operation with no scheme: the usual one
    ],
)
def test_every_401_carries_a_challenge_even_a_preferred_one(
    twins: Twins, path: str, challenge: str
) -> None:
    """A 401 the client asks the mock for, with credentials it accepts, is a 401 too."""
    response = answer(
        twins, "GET", path, headers={"Prefer": "code=401", "Authorization": "Bearer x"}
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == challenge


# --- default and range responses ------------------------------------------------------------------


def _marked(mark: str) -> dict[str, Any]:
    schema = {"type": "object", "required": ["r"], "properties": {"r": {"enum": [mark]}}}
    return {"description": mark, "content": {"application/json": {"schema": schema}}}


RANGES = spec(
    {
        "/ranged": {
            "get": {
                "operationId": "ranged",
                "responses": {"2XX": _marked("2XX"), "4XX": _marked("4XX")},
            }
        },
        "/exact": {
            "get": {
                "operationId": "exact",
                "responses": {"2XX": _marked("2XX"), "201": _marked("201")},
            }
        },
        "/fallback": {
            "get": {
                "operationId": "fallback",
                "parameters": [
                    {"name": "n", "in": "query", "required": True, "schema": {"type": "integer"}}
                ],
                "responses": {"default": _marked("default")},
            }
        },
    }
)


@pytest.mark.parametrize("twins", [(RANGES, None)], indirect=True)
def test_range_and_default_responses(twins: Twins) -> None:
    ranged = answer(twins, "GET", "/ranged")
    assert (ranged.status_code, ranged.json()) == (200, {"r": "2XX"})
    exact = answer(twins, "GET", "/exact")  # an exact code wins over its range
    assert (exact.status_code, exact.json()) == (201, {"r": "201"})
    preferred = answer(twins, "GET", "/ranged", headers={"Prefer": "code=204"})
    assert (preferred.status_code, preferred.json()) == (204, {"r": "2XX"})
    assert answer(twins, "GET", "/ranged", headers={"Prefer": "code=418"}).json() == {"r": "4XX"}
    fallback = answer(twins, "GET", "/fallback?n=1")  # default alone stands for success too
    assert (fallback.status_code, fallback.json()) == (200, {"r": "default"})
    invalid = answer(twins, "GET", "/fallback?n=x")  # and for the error, as documented
    assert (invalid.status_code, invalid.json()) == (400, {"r": "default"})
    not_found = answer(twins, "GET", "/ranged/nothing-here")
    assert not_found.status_code == 404


# --- content negotiation and XML ------------------------------------------------------------------

PET = {
    "type": "object",
    "required": ["id", "name", "vaccinated", "tags", "aliases"],
    "xml": {"name": "pet", "namespace": "https://example.com/pets", "prefix": "p"},
    "properties": {
        "id": {"type": "integer", "enum": [7], "xml": {"attribute": True}},
        "name": {"type": "string", "enum": ["Rex & Co"]},
        "vaccinated": {"type": "boolean", "enum": [True]},
        "tags": {
            "type": "array",
            "minItems": 2,
            "maxItems": 2,
            "items": {"type": "string", "enum": ["good"], "xml": {"name": "tag"}},
            "xml": {"wrapped": True},
        },
        "aliases": {"type": "array", "minItems": 1, "maxItems": 1, "items": {"enum": ["R"]}},
    },
}


def _both(schema: Any) -> dict[str, Any]:
    return {"application/json": {"schema": schema}, "application/xml": {"schema": schema}}


NEGOTIATED = spec(
    {
        "/pet": {
            "get": {
                "operationId": "get-pet",
                "responses": {"200": {"description": "a pet", "content": _both(PET)}},
            },
            "post": {
                "operationId": "add-pet",
                "requestBody": {"required": True, "content": {"application/json": {"schema": PET}}},
                "responses": {"201": {"description": "added", "content": _both(PET)}},
            },
        },
        "/pets": {
            "get": {
                "operationId": "list-pets",
                "responses": {
                    "200": {
                        "description": "pets",
                        "content": {
                            "application/xml": {
                                "schema": {
                                    "type": "array",
                                    "minItems": 2,
                                    "maxItems": 2,
                                    "items": {"$ref": "#/components/schemas/Pet"},
                                    "xml": {"name": "pets"},
                                }
                            }
                        },
                    }
                },
            }
        },
        "/note": {
            "get": {
                "operationId": "note",
                "responses": {
                    "200": {
                        "description": "a note",
                        "content": {
                            "text/plain": {"example": "hello"},
                            "application/json": {"example": {"note": "hello"}},
                        },
                    }
                },
            },
            "delete": {"operationId": "drop-note", "responses": {"204": {"description": "gone"}}},
        },
    },
    components={"schemas": {"Pet": PET}},
)
ADD_PET = """
from mockyard import ApiError


def add_pet(ctx, body):
    if ctx.store.get("pets", body["id"]) is not None:
        raise ApiError(409, {"message": "taken"})
    ctx.store.put("pets", body["id"], body)
    return body, 201
"""
XML_PET = (
    "<?xml version='1.0' encoding='utf-8'?>\n"
    '<p:pet xmlns:p="https://example.com/pets" id="7"><name>Rex &amp; Co</name>'
    "<vaccinated>true</vaccinated><tags><tag>good</tag><tag>good</tag></tags>"
    "<aliases>R</aliases></p:pet>"
)


@pytest.mark.parametrize("twins", [(NEGOTIATED, ADD_PET)], indirect=True)
@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("application/xml", "application/xml"),
        ("application/json;q=0.5, application/xml", "application/xml"),
        ("application/json;q=0.9, application/xml;q=0.8", "application/json"),
        ("application/json;q=0, */*;q=0.1", "application/xml"),
        ("text/html, application/*;q=0.2", "application/json"),
        ("application/xml, application/json", "application/xml"),  # equals: the client's order
        ("application/json; charset=utf-8", "application/json"),  # parameters ask nothing
        ("no media range here", "application/json"),  # as if there were no Accept
    ],
)
def test_accept_chooses_the_documented_media_type(
    twins: Twins, accept: str | None, media_type: str
) -> None:
    headers = {"Accept": accept} if accept else {}
    response = answer(twins, "GET", "/pet", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == media_type


@pytest.mark.parametrize("twins", [(NEGOTIATED, ADD_PET)], indirect=True)
def test_xml_is_built_from_the_schema_and_its_xml_hints(twins: Twins) -> None:
    mocked = answer(twins, "GET", "/pet", headers={"Accept": "application/xml"})
    assert mocked.text == XML_PET
    listed = answer(twins, "GET", "/pets", headers={"Accept": "application/xml"})
    root = ET.fromstring(listed.content)
    assert root.tag == "pets" and [child.get("id") for child in root] == ["7", "7"]
    assert root[0].tag == "{https://example.com/pets}pet"
    pet = json.loads(answer(twins, "GET", "/pet").content)
    handled = answer(twins, "POST", "/pet", json=pet, headers={"Accept": "application/xml"})
    assert handled.status_code == 201 and handled.text == XML_PET  # a handler's dict, as XML


@pytest.mark.parametrize("twins", [(NEGOTIATED, ADD_PET)], indirect=True)
def test_nothing_acceptable_is_a_406_and_changes_nothing(twins: Twins) -> None:
    response = answer(twins, "GET", "/pet", headers={"Accept": "text/csv"})
    assert response.status_code == 406
    assert "application/json, application/xml" in detail(response)
    assert answer(twins, "GET", "/pets", headers={"Accept": "application/json"}).status_code == 406
    refused = answer(twins, "GET", "/note", headers={"Accept": "text/plain;q=0, application/xml"})
    assert refused.status_code == 406
    assert answer(twins, "GET", "/note", headers={"Accept": "text/*"}).text == "hello"
    pet = json.loads(answer(twins, "GET", "/pet").content)
    csv = {"Accept": "text/csv"}
    assert answer(twins, "POST", "/pet", json=pet, headers=csv).status_code == 406
    assert answer(twins, "POST", "/pet", json=pet).status_code == 201  # the 406 stored nothing
    assert answer(twins, "POST", "/pet", json=pet).status_code == 409
    # An answer without a body has no media type to refuse.
    assert answer(twins, "DELETE", "/note", headers={"Accept": "text/csv"}).status_code == 204


@pytest.mark.parametrize("twins", [(NEGOTIATED, ADD_PET)], indirect=True)
@pytest.mark.parametrize(
    "content_type", ["application/xml", "text/plain", "application/x-www-form-urlencoded"]
)
def test_an_undeclared_request_media_type_is_a_415(twins: Twins, content_type: str) -> None:
    response = answer(
        twins, "POST", "/pet", content=b"<pet/>", headers={"Content-Type": content_type}
    )
    assert response.status_code == 415


# --- parameter styles -----------------------------------------------------------------------------


def _param(name: str, where: str, schema: dict[str, Any], **style: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "schema": schema,
        **style,
        **({"required": True} if where == "path" else {}),
    }


INTS = {"type": "array", "items": {"type": "integer", "maximum": 9}}
WORDS = {"type": "array", "items": {"type": "string"}}
POINT = {
    "type": "object",
    "properties": {"x": {"type": "integer", "maximum": 9}, "y": {"type": "string"}},
}
STYLES = spec(
    {
        "/p/{simple}/{label}/{labelx}/{matrix}/{matrixx}/{obj}/{objx}/{one}": {
            "get": {
                "operationId": "path-styles",
                "parameters": [
                    _param("simple", "path", INTS),
                    _param("label", "path", WORDS, style="label"),
                    _param("labelx", "path", INTS, style="label", explode=True),
                    _param("matrix", "path", WORDS, style="matrix"),
                    _param("matrixx", "path", INTS, style="matrix", explode=True),
                    _param("obj", "path", POINT),
                    _param("objx", "path", POINT, style="label", explode=True),
                    _param("one", "path", {"type": "string"}, style="matrix"),
                ],
                "responses": ok(JSON_OBJECT),
            }
        },
        "/n/{label}/{matrix}/{plain}": {
            "get": {
                "operationId": "numbers-styled",
                "parameters": [
                    _param("label", "path", {"type": "boolean"}, style="label"),
                    _param("matrix", "path", {"type": "string"}, style="matrix", explode=True),
                    _param("plain", "path", {"type": "boolean"}, style="matrix"),
                ],
                "responses": ok(JSON_OBJECT),
            }
        },
        "/q": {
            "get": {
                "operationId": "query-styles",
                "parameters": [
                    _param("formx", "query", INTS),
                    _param("form", "query", INTS, explode=False),
                    _param("space", "query", INTS, style="spaceDelimited", explode=False),
                    _param("pipe", "query", INTS, style="pipeDelimited", explode=False),
                    _param("deep", "query", POINT, style="deepObject", explode=True),
                    # deepObject is defined for objects; Stripe writes arrays so (expand[0]=)
                    _param("deeplist", "query", INTS, style="deepObject", explode=True),
                    _param("point", "query", POINT, explode=False),
                    _param("spread", "query", POINT),
                    _param("X-Count", "header", {"type": "integer", "maximum": 9}),
                    _param("X-Ints", "header", INTS),
                    _param("X-Point", "header", POINT, explode=True),
                    _param("session", "cookie", {"type": "integer", "maximum": 9}),
                    _param("ids", "cookie", INTS, explode=False),
                ],
                "responses": ok(JSON_OBJECT),
            }
        },
    }
)
ECHO = """
def path_styles(ctx, **arguments):
    return arguments


def numbers_styled(ctx, **arguments):
    return arguments


def query_styles(ctx, **arguments):
    return {k: v for k, v in arguments.items() if v != {}}
"""
PATH_URL = "/p/1,2/.a,b/.3.4/;matrix=c,d/;matrixx=5;matrixx=6/x,7,y,z/.x=8.y=w/;one=u"


@pytest.mark.parametrize("twins", [(STYLES, ECHO)], indirect=True)
def test_path_styles_are_decoded_and_typed(twins: Twins) -> None:
    response = answer(twins, "GET", PATH_URL)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "simple": [1, 2],
        "label": ["a", "b"],
        "labelx": [3, 4],
        "matrix": ["c", "d"],
        "matrixx": [5, 6],
        "obj": {"x": 7, "y": "z"},
        "objx": {"x": 8, "y": "w"},
        "one": "u",
    }


@pytest.mark.parametrize("twins", [(STYLES, ECHO)], indirect=True)
def test_label_and_matrix_scalars_are_decoded_and_typed(twins: Twins) -> None:
    response = answer(twins, "GET", "/n/.false/;matrix=a%20b/;plain=true")
    assert response.status_code == 200, response.text
    assert response.json() == {"label": False, "matrix": "a b", "plain": True}
    wrong = answer(twins, "GET", "/n/.no/;matrix=a/;plain=true")
    assert (wrong.status_code, detail(wrong)) == (400, "label: must be true or false")
    assert answer(twins, "GET", "/n/false/;matrix=a/;plain=true").status_code == 400


@pytest.mark.parametrize("twins", [(STYLES, ECHO)], indirect=True)
@pytest.mark.parametrize(
    ("url", "fault"),
    [
        (PATH_URL.replace("/.a,b/", "/a,b/"), "label: must be written in label style"),
        (PATH_URL.replace(".3.4", ".3.40"), "labelx.1: cannot be more than 9"),
        (PATH_URL.replace(";matrix=c,d", ";other=c,d"), "matrix: is not written as the matrix"),
        (PATH_URL.replace("x,7,y,z", "x,70,y,z"), "obj.x: cannot be more than 9"),
        (PATH_URL.replace(".x=8.y=w", ".x=8.y"), "objx: is not written as the label"),
    ],
)
def test_a_path_value_not_in_its_style_is_a_400(twins: Twins, url: str, fault: str) -> None:
    response = answer(twins, "GET", url)
    assert response.status_code == 400
    assert detail(response).startswith(fault)


@pytest.mark.parametrize("twins", [(STYLES, ECHO)], indirect=True)
@pytest.mark.parametrize(
    ("query", "arguments"),
    [
        ("formx=1&formx=2", {"formx": [1, 2]}),
        ("form=3,4", {"form": [3, 4]}),
        ("space=5%206", {"space": [5, 6]}),
        ("pipe=7|8", {"pipe": [7, 8]}),
        ("deep[x]=1&deep[y]=a", {"deep": {"x": 1, "y": "a"}}),
        ("deeplist[0]=1&deeplist[1]=2", {"deeplist": [1, 2]}),
        ("deeplist[]=3&deeplist[]=4", {"deeplist": [3, 4]}),
        ("point=x,2,y,b", {"point": {"x": 2, "y": "b"}}),
        ("x=3&y=c", {"spread": {"x": 3, "y": "c"}}),
    ],
)
def test_query_styles_are_decoded_and_typed(twins: Twins, query: str, arguments: dict) -> None:
    response = answer(twins, "GET", f"/q?{query}")
    assert response.status_code == 200, response.text
    assert response.json() == arguments


@pytest.mark.parametrize("twins", [(STYLES, ECHO)], indirect=True)
@pytest.mark.parametrize(
    ("query", "headers", "fault"),
    [
        ("point=x,20,y,b", {}, "point.x: cannot be more than 9"),
        ("x=30", {}, "spread.x: cannot be more than 9"),
        ("form=3,40", {}, "form.1: cannot be more than 9"),
        ("deeplist[0]=1&deeplist[1]=20", {}, "deeplist.1: cannot be more than 9"),
        ("", {"X-Count": "10"}, "X-Count: cannot be more than 9"),
        ("", {"X-Count": "ten"}, "X-Count: must be an integer"),
        ("", {"X-Ints": "1,20"}, "X-Ints.1: cannot be more than 9"),
        ("", {"X-Point": "x=10,y=a"}, "X-Point.x: cannot be more than 9"),
        ("", {"Cookie": "session=10"}, "session: cannot be more than 9"),
        ("", {"Cookie": "ids=1,20"}, "ids.1: cannot be more than 9"),
    ],
)
def test_values_in_every_style_are_validated_typed(
    twins: Twins, query: str, headers: dict, fault: str
) -> None:
    response = answer(twins, "GET", f"/q?{query}", headers=headers)
    assert response.status_code == 400
    assert detail(response) == fault


@pytest.mark.parametrize("twins", [(STYLES, ECHO)], indirect=True)
def test_typed_headers_and_cookies_in_their_style_are_valid(twins: Twins) -> None:
    headers = {
        "X-Count": "9",
        "X-Ints": "1,2",
        "X-Point": "x=1,y=a",
        "Cookie": "session=3; ids=4,5",
    }
    assert answer(twins, "GET", "/q", headers=headers).status_code == 200


# --- the documented error status ------------------------------------------------------------------


def _takes(n: str, responses: dict[str, Any]) -> dict[str, Any]:
    return {
        "get": {
            "operationId": f"takes-{n}",
            "parameters": [
                {"name": "n", "in": "query", "required": True, "schema": {"type": "integer"}}
            ],
            "responses": {**ok(JSON_OBJECT), **responses},
        }
    }


INVALID = spec(
    {
        "/only-422": _takes("422", {"422": _marked("422")}),
        "/both": _takes("both", {"400": _marked("400"), "422": _marked("422")}),
        "/ranged-4xx": _takes("4xx", {"4XX": _marked("4XX"), "422": _marked("422")}),
        "/neither": _takes("neither", {}),
    }
)


@pytest.mark.parametrize("twins", [(INVALID, None)], indirect=True)
@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        ("/only-422", 422, {"r": "422"}),
        ("/both", 400, {"r": "400"}),
        ("/ranged-4xx", 400, {"r": "4XX"}),  # 4XX documents 400 too
        ("/neither", 400, None),
    ],
)
def test_invalid_input_gets_the_status_the_operation_documents(
    twins: Twins, path: str, status: int, body: dict | None
) -> None:
    response = answer(twins, "GET", f"{path}?n=x")
    assert response.status_code == status
    if body is None:
        assert response.headers["content-type"] == "application/problem+json"
        assert detail(response) == "n: must be a plain decimal integer"
    else:
        assert response.json() == body
        # the documented body cannot say what was wrong; a header does (Prism: sl-violations)
        assert response.headers["mockyard-problem"] == "n: must be a plain decimal integer"


# A Swagger 2.0 400 is often `{description: bad}` alone.
BODILESS_400 = """
swagger: '2.0'
info: {title: pets, version: '1'}
paths:
  /pets:
    post:
      operationId: addPet
      consumes: [application/json]
      parameters:
        - {in: body, name: body, required: true, schema: {$ref: '#/definitions/Pet'}}
      responses: {201: {description: made}, 400: {description: bad}}
definitions:
  Pet:
    type: object
    required: [name]
    properties: {name: {type: string}}
    additionalProperties: false
"""


@pytest.mark.parametrize("twins", [(BODILESS_400, None)], indirect=True)
def test_a_documented_error_without_a_body_says_what_was_wrong_in_a_header(
    twins: Twins,
) -> None:
    response = answer(twins, "POST", "/pets", json={"name": 7})
    assert response.status_code == 400
    assert response.content == b""  # as documented
    assert response.headers["mockyard-problem"].startswith("name: ")


@pytest.mark.parametrize("twins", [(BODILESS_400, None)], indirect=True)
def test_a_problem_naming_control_characters_is_still_a_valid_header(twins: Twins) -> None:
    """A fuzzer's field names hold NULs, newlines and non-ASCII; the header escapes them
    (unescaped, the server failed the response and dropped the connection)."""
    response = answer(twins, "POST", "/pets", json={"name": "x", "a\x00\nb\x7fé": 1})
    assert response.status_code == 400
    problem = response.headers["mockyard-problem"]
    assert "a\\x00\\nb\\x7f\\xe9" in problem
    assert all(" " <= c <= "~" for c in problem)
