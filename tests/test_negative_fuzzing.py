"""Negative fuzzing: Schemathesis, in negative mode, finds no server error in any served API, nor
in the admin API (described by the sandbox itself at /__mockyard/openapi.json: every collection's
record schema, the journal's filters, reset's body).

For every API of the workspace, Schemathesis generates requests that break its effective spec
(wrong types, missing and extra fields, out-of-range values, odd strings, unsupported methods)
and sends them to the live, response-validating sandbox with the API's default sandbox
credentials (the fixture's `credentials:` entry, presented as the spec's security scheme says).
Only `not_a_server_error` is checked: whatever the input, the answer is never a 5xx.

The one documented 500 (CargoExtra's invoice 100500, whose downstream always fails) is the only
exclusion: a case that names it may get its documented `Unexpected Error`. Schema-invalid data
practically never reaches it (every other parameter must be valid too), but the exclusion keeps
the test honest should a case do so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from conftest import ROOT, LiveSandbox
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import HealthCheck

from mockyard import admin_spec, record_schemas, workspace
from mockyard.admin import PREFIX
from mockyard.controls import DEFAULT_JOURNAL_SIZE

pytestmark = pytest.mark.slow  # the fast tier (make test-fast) leaves this module out

MAX_EXAMPLES = 60
ADMIN_EXAMPLES = 25  # per operation: the admin API has three per collection
DOCUMENTED_500 = {"cargoextra": ("100500", {"message": "Unexpected Error"})}
WS = workspace.load(ROOT)


def credentials(source: workspace.ApiSource, spec: dict[str, Any]) -> dict[str, Any]:
    """requests keyword arguments that present the API's default sandbox credentials."""
    entries = (workspace.read_yaml(source.fixtures) or {}).get("credentials", [])
    chosen = next((c for c in entries if c.get("default")), entries[0])
    scheme = spec["components"]["securitySchemes"][chosen["scheme"]]
    value = chosen["value"]
    if scheme["type"] == "http" and scheme["scheme"].lower() == "bearer":
        return {"headers": {"Authorization": f"Bearer {value}"}}
    if scheme["type"] == "http" and scheme["scheme"].lower() == "basic":
        return {"auth": (value, "")}
    if scheme["type"] == "apiKey":
        where = {"query": "params", "header": "headers", "cookie": "cookies"}[scheme["in"]]
        return {where: {scheme["name"]: value}}
    raise AssertionError(f"no way to present {scheme} for {source.name}")


def negative_config(max_examples: int = MAX_EXAMPLES) -> schemathesis.Config:
    config = schemathesis.Config()
    project = config.projects.default
    project.update(suppress_health_check=[HealthCheck.all])
    project.generation.update(
        modes=[GenerationMode.NEGATIVE],
        max_examples=max_examples,
        with_security_parameters=False,  # the sandbox credentials are added to every call
        database="none",
    )
    return config


def negative_schema(source: workspace.ApiSource) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_path(source.spec, config=negative_config())


@pytest.fixture(scope="module")
def fuzzed(live_sandbox: LiveSandbox) -> Iterator[LiveSandbox]:
    live_sandbox.reset()
    yield live_sandbox
    live_sandbox.reset()


def fuzz_test(source: workspace.ApiSource) -> Callable[..., None]:
    schema = negative_schema(source)
    auth = credentials(source, schema.raw_schema)
    documented = DOCUMENTED_500.get(source.name)

    @schema.parametrize()
    def test(case: schemathesis.Case, fuzzed: LiveSandbox) -> None:
        response = case.call(base_url=fuzzed.url + (source.prefix or ""), **auth)
        names_it = documented and documented[0] in repr(
            (case.query, case.body, case.path_parameters)
        )
        if names_it and response.status_code == 500 and response.json() == documented[1]:
            return  # the documented failure of that record
        case.validate_response(response, checks=[not_a_server_error])

    return test


for _source in WS.apis:
    globals()[f"test_negative_{_source.name}_gets_no_server_error"] = fuzz_test(_source)


ADMIN_DOC = admin_spec.document(
    PREFIX,
    record_schemas.load({s.name: (s.fixtures, workspace.read_yaml(s.fixtures)) for s in WS.apis}),
    apis=[s.name for s in WS.apis],
    journal_size=DEFAULT_JOURNAL_SIZE,
    guarded=False,
)
# Operations whose only input is a free-form string (a record's key) or nothing at all have no
# invalid request to make; Schemathesis would skip each of them.
NOTHING_TO_NEGATE = r"^(get|delete)-.*|^(health|catalogue|state|clear-requests)$"
ADMIN = schemathesis.openapi.from_dict(ADMIN_DOC, config=negative_config(ADMIN_EXAMPLES)).exclude(
    operation_id_regex=NOTHING_TO_NEGATE
)


def test_the_admin_api_fuzzed_is_the_one_served(fuzzed: LiveSandbox) -> None:
    assert httpx.get(f"{fuzzed.url}/__mockyard/openapi.json").json() == ADMIN_DOC


@ADMIN.parametrize()
def test_negative_admin_api_gets_no_server_error(
    case: schemathesis.Case, fuzzed: LiveSandbox
) -> None:
    response = case.call(base_url=fuzzed.url)
    case.validate_response(response, checks=[not_a_server_error])


def test_every_api_is_fuzzed() -> None:
    fuzzed_apis = {
        name.split("_")[2]
        for name in globals()
        if name.startswith("test_negative_")
        and name != "test_negative_admin_api_gets_no_server_error"
    }
    assert (
        fuzzed_apis
        == {source.name for source in WS.apis}
        == {
            "cargoextra",
            "invoicexpress",
            "chargebee",
        }
    )


def test_no_traceback_after_fuzzing(fuzzed: LiveSandbox) -> None:
    assert "Traceback" not in fuzzed.log_text()
