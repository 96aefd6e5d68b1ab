"""Loading the specs people have (issue 16, point 1): several files, Swagger 2.0, untidy YAML,
big generated specs; anything still refused is one line naming the file and the JSON pointer."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import ROOT
from workspaces import served

from mockyard import loader
from mockyard.errors import SpecError

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from mockyard.cli import main

if str(ROOT) not in sys.path:  # `bench` lives beside src/
    sys.path.insert(0, str(ROOT))
from bench import bigspec

DATA = Path(__file__).parent / "specdata"
SHOP = DATA / "multifile" / "shop.yaml"
PETSTORE = DATA / "petstore-swagger2.yaml"
UNTIDY = DATA / "untidy.yaml"


def _external_refs(node: object) -> list[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        own = [ref] if isinstance(ref, str) and not ref.startswith("#") else []
        return own + [r for v in node.values() for r in _external_refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _external_refs(v)]
    return []


# --- several files ------------------------------------------------------------------------------


def test_a_spec_split_over_files_is_bundled_and_served(tmp_path: Path) -> None:
    document = loader.load(SHOP).document
    assert _external_refs(document) == []
    assert document["info"]["description"].startswith("A shop whose pets")  # a text's $ref
    schemas = document["components"]["schemas"]
    assert schemas["Owner"]["properties"]["pets"]["items"] == {
        "$ref": "#/components/schemas/pet"
    }  # the cycle through two files is a cycle of local refs
    assert schemas["pet"]["properties"]["owner"] == {"$ref": "#/components/schemas/Owner"}
    with served(tmp_path, specs=(str(SHOP),), strict=True) as client:  # strict: answers checked
        assert _external_refs(client.get("/openapi.json").json()) == []
        pets = client.get("/pets", params={"limit": 3})
        assert pets.status_code == 200 and pets.json()
        assert all(p["kind"] in ("dog", "cat", "bird") for p in pets.json() if "kind" in p)
        assert client.get("/pets", params={"limit": 0}).status_code == 400  # shared parameter
        assert "owner" in client.get("/pets/4").json()
        # a fresh id: the pets collection is inferred and starts with seeded pets
        created = client.post("/pets", json={"id": 4242, "name": "Rex", "owner": {"name": "Ada"}})
        assert created.status_code == 201
        assert client.post("/pets", json={"id": 1, "name": "Rex"}).status_code == 400


def _split(tmp_path: Path, ref: str) -> Path:
    shutil.copytree(SHOP.parent, tmp_path / "shop")
    root = tmp_path / "shop" / "shop.yaml"
    doc = yaml.safe_load(root.read_text())
    doc["paths"]["/pets/{petId}"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ] = {"$ref": ref}
    root.write_text(yaml.safe_dump(doc, sort_keys=False))
    return root


@pytest.mark.parametrize(
    ("ref", "problem"),
    [
        ("parts/schemas/missing.yaml", "names a file that does not exist"),
        ("parts/schemas/pet.yaml#/definitions/Nope", "points at nothing in pet.yaml"),
        ("https://example.com/pet.yaml", "is a URL: mockyard reads local files only"),
    ],
)
def test_a_bad_reference_names_the_file_the_pointer_and_the_target(
    tmp_path: Path, ref: str, problem: str
) -> None:
    root = _split(tmp_path, ref)
    with pytest.raises(SpecError) as info:
        loader.load(root)
    pointer = "/paths/~1pets~1{petId}/get/responses/200/content/application~1json/schema"
    assert str(info.value) == f"{root}: {pointer}: $ref {ref!r} {problem}" or (
        problem in str(info.value) and pointer in str(info.value)
    )


def test_a_bad_reference_inside_a_part_file_names_that_file(tmp_path: Path) -> None:
    root = _split(tmp_path, "parts/schemas/pet.yaml")
    owner = tmp_path / "shop" / "parts" / "schemas" / "owner.yaml"
    owner.write_text(owner.read_text().replace("pet.yaml", "pets.yaml"))
    with pytest.raises(SpecError) as info:
        loader.load(root)
    assert str(info.value).startswith(f"{owner}: /properties/pets/items: $ref 'pets.yaml'")


# --- Swagger 2.0 --------------------------------------------------------------------------------


def test_swagger_2_is_converted_keeping_its_meaning(tmp_path: Path) -> None:
    converted = loader.load(PETSTORE)
    doc = converted.document
    assert doc["openapi"] == "3.0.3" and converted.notes[0].startswith("converted from Swagger")
    assert doc["servers"] == [{"url": "https://petstore.example.com/v2"}]
    assert doc["components"]["securitySchemes"]["basic"] == {"type": "http", "scheme": "basic"}
    assert doc["components"]["schemas"]["Pet"]["properties"]["tag"]["nullable"] is True
    add = doc["paths"]["/pet"]["post"]
    assert add["requestBody"] == {"$ref": "#/components/requestBodies/PetBody"}
    status = doc["paths"]["/pet/findByStatus"]["get"]["parameters"][0]
    assert (status["style"], status["explode"], status["schema"]["type"]) == (
        "form",
        False,
        "array",
    )
    form = doc["paths"]["/pet/{petId}"]["post"]["requestBody"]["content"]
    assert form["application/x-www-form-urlencoded"]["schema"]["required"] == ["name"]
    header = doc["paths"]["/pet/findByStatus"]["get"]["responses"]["200"]["headers"]
    assert header["X-Rate-Limit"]["schema"] == {"type": "integer", "format": "int32"}


def test_swagger_2_is_served_with_its_validation_and_security(tmp_path: Path) -> None:
    auth = {"Authorization": "Basic dXNlcjpwYXNz"}
    with served(tmp_path, specs=(str(PETSTORE),), strict=True) as client:
        assert client.get("/pet/7").status_code == 401
        rex = {"id": 7, "name": "Rex", "photoUrls": [], "status": "available"}
        assert client.post("/pet", json=rex, headers=auth).status_code == 200  # the pets are
        pet = client.get("/pet/7", headers=auth)  # a resource inferred from the converted spec
        assert pet.status_code == 200
        assert pet.json() == {"id": 7, "name": "Rex", "photoUrls": [], "status": "available"}
        assert client.get("/pet/7", headers={"api_key": "any"}).status_code == 200
        listed = client.get("/pet/findByStatus?status=available,sold", headers=auth)
        assert listed.status_code == 200 and isinstance(listed.json(), list)
        assert client.get("/pet/findByStatus?status=lost", headers=auth).status_code == 400
        body = {"name": "doggie", "photoUrls": ["https://example.com/a.png"]}
        assert client.post("/pet", json=body, headers=auth).status_code == 200
        assert client.post("/pet", json={"name": "doggie"}, headers=auth).status_code == 400
        form = client.post("/pet/7", data={"name": "Rex"}, headers=auth)
        assert form.status_code == 200
        assert client.post("/pet/7", data={"status": "sold"}, headers=auth).status_code == 400


# --- untidy YAML --------------------------------------------------------------------------------


def test_untidy_yaml_is_served_and_every_repair_is_listed(tmp_path: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(main, ["specs", "--spec", str(UNTIDY), "--json"])
    assert listed.exit_code == 0, listed.output
    notes = json.loads(listed.output)["notes"]["untidy"]
    assert any(n.startswith("info: missing") for n in notes)
    assert any("/ping.get: no responses" in n for n in notes)
    assert any("items.note: default null dropped" in n for n in notes)
    assert any('items.rank: example "first" dropped' in n for n in notes)
    with served(tmp_path, specs=(str(UNTIDY),), strict=True) as client:
        countries = client.get("/countries")
        assert countries.status_code == 200
        for country in countries.json():
            assert country["code"] in ("GB", "NO", "SE")  # YAML 1.2: NO is Norway, not False
            assert country["since"] == "2024-06-01"  # a date in YAML is still the text written
            assert country.get("answer", "yes") in ("yes", "no")
        one = client.get("/countries/NO")
        assert one.status_code == 200 and set(one.json()) >= {"code", "since"}  # merge key
        assert client.get("/ping").status_code == 200
        assert client.get("/openapi.json").status_code == 200


def test_yaml_integer_codes_and_aliases_become_plain_json(tmp_path: Path) -> None:
    doc = loader.load(UNTIDY).document
    responses = doc["paths"]["/countries"]["get"]["responses"]
    assert list(responses) == ["200", "404"]
    items = responses["200"]["content"]["application/json"]["schema"]["items"]
    merged = doc["paths"]["/countries/{code}"]["get"]["responses"]["200"]["content"]
    assert merged["application/json"]["schema"]["properties"] is not items["properties"]


# --- refusals: one line, exit 2 -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("openapi: 3.0.3\npaths: {/x: {get: {responses: {200: {description: [1]}}}}}\n",
         "/paths/~1x/get/responses/200/description: [1] is not of type"),
        ("openapi: 3.0.3\npaths:\n  /x: [\n", "invalid YAML: YAML parse error at line"),
        ("swagger: '2.0'\ninfo: {title: t, version: '1'}\npaths: {/x: {get: {}}}\n",
         "/paths/~1x/get: \"responses\" is a required property"),
        ("openapi: 3.0.3\npaths: {/x: {get: {parameters: [{name: q, in: query, schema: "
         "{$ref: '#/components/schemas/Q'}}], responses: {200: {description: ok}}}}}\n",
         "$ref: '#/components/schemas/Q' points at nothing"),
        ("openapi: 3.0.3\npaths: {}\ncomponents: {schemas: {A: {allOf: [{$ref: "
         "'#/components/schemas/A'}]}}}\n", "/components/schemas/A: is made only of itself"),
    ],
)  # fmt: skip
def test_a_refused_spec_is_one_line_naming_file_and_pointer(
    tmp_path: Path, text: str, problem: str
) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(text)
    result = CliRunner().invoke(main, ["serve", "--spec", str(spec), "--port", "1"])
    assert result.exit_code == 2
    (line,) = result.output.splitlines()
    assert line.startswith(f"error: {spec}: ") and problem in line, line
    assert len(line) < 400


def test_a_huge_invalid_operation_is_not_dumped(tmp_path: Path) -> None:
    doc = bigspec.document(operations=5, seed=3)
    route = next(iter(doc["paths"]))
    doc["paths"][route]["get"]["responses"]["200"]["content"] = "not a mapping"
    spec = tmp_path / "big.json"
    spec.write_text(json.dumps(doc))
    done = subprocess.run(
        [sys.executable, "-m", "mockyard.cli", "specs", "--spec", str(spec)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    (line,) = done.stderr.splitlines()
    assert "/responses/200/content" in line and len(line) < 400, line


# --- big specs ----------------------------------------------------------------------------------


def test_a_generated_big_spec_is_served_and_its_load_is_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOCKYARD_CACHE_DIR", str(tmp_path / "cache"))
    spec = bigspec.write(tmp_path / "big.yaml", bigspec.Size(60, 80, 15), seed=5)
    cold = loader.load(spec)
    assert len(list((tmp_path / "cache" / "loaded-specs").iterdir())) == 1
    assert loader.load(spec).document == cold.document  # the warm start reads the entry
    ops = sum(len(item) for item in cold.document["paths"].values())
    assert ops == 60
    with served(tmp_path, specs=(str(spec),), strict=True) as client:
        for route in list(cold.document["paths"])[:6]:
            path = route.replace("{", "").replace("}", "")
            answer = client.get(path, headers={"Authorization": "Bearer t"})
            # an item path names an id no record has: its inferred resource's documented 404
            expected = {200} if "{" not in route else {200, 404}
            assert answer.status_code in expected, (route, answer.text[:300])


def test_keys_beside_a_references_ref_are_dropped_with_a_note(tmp_path: Path) -> None:
    """Vendors' generated specs (Chargebee's own) repeat a parameter beside its `$ref`: OpenAPI
    3.1 ignores such keys and its JSON Schema refuses them; the spec is served, with a note."""
    param = {"name": "x-device", "in": "header", "schema": {"type": "string"}}
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/ping": {
                "get": {
                    "parameters": [{"$ref": "#/components/parameters/device", **param}],
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
        "components": {"parameters": {"device": param}},
    }
    spec = tmp_path / "vendor.yaml"
    spec.write_text(yaml.safe_dump(doc))
    loaded = loader.load(spec)
    parameters = loaded.document["paths"]["/ping"]["get"]["parameters"]
    assert parameters == [{"$ref": "#/components/parameters/device"}]
    assert any("beside $ref" in n and "in, name, schema" in n for n in loaded.notes)
    official = ROOT / "specs" / "upstream" / "chargebee" / "apply_payments.yaml"
    assert loader.load(official).document["paths"]  # the vendor's own file loads
