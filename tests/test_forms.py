"""Bracketed form keys are nested and typed by the schema before validation (mockyard.forms)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import LiveSandbox, start_sandbox

from mockyard.forms import MalformedForm, nest, parse, split_key

SCHEMA = {
    "type": "object",
    "properties": {
        "comment": {"type": "string"},
        "transactions": {
            "type": "object",
            "properties": {
                "id": {"type": "array", "items": {"type": "string"}},
                "amount": {"type": "array", "items": {"type": "integer"}},
            },
        },
        "flags": {"type": "object", "properties": {"dry_run": {"type": "boolean"}}},
        "rate": {"type": "number"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
}


def test_split_key_reads_brackets() -> None:
    assert split_key("transactions[id][0]") == ["transactions", "id", "0"]
    assert split_key("comment") == ["comment"]
    assert split_key("tags[]") == ["tags", ""]


@pytest.mark.parametrize(
    "key",
    ["transactions[id]]", "transactions[id", "[id]", "a]b", "a[b[c]]", "a[][b]", "a[b]c", ""],
)
def test_malformed_key_is_refused(key: str) -> None:
    with pytest.raises(MalformedForm):
        split_key(key)


def test_key_deeper_than_the_limit_is_refused() -> None:
    with pytest.raises(MalformedForm, match="deeper"):
        split_key("a" + "[b]" * 40)


def test_indexed_keys_become_typed_lists() -> None:
    fields = [
        ("transactions[id][0]", "txn_1"),
        ("transactions[amount][0]", "500"),
        ("transactions[id][1]", "txn_2"),
        ("transactions[amount][1]", "250"),
        ("comment", "Applied by support"),
    ]
    assert parse(fields, SCHEMA) == {
        "transactions": {"id": ["txn_1", "txn_2"], "amount": [500, 250]},
        "comment": "Applied by support",
    }


def test_indices_are_ordered_by_number_not_by_arrival() -> None:
    fields = [(f"transactions[id][{i}]", f"t{i}") for i in (10, 2, 0, 1, 3, 4, 5, 6, 7, 8, 9)]
    assert parse(fields, SCHEMA)["transactions"]["id"] == [f"t{i}" for i in range(11)]


def test_repeated_and_appended_keys_fill_arrays() -> None:
    assert parse([("tags", "a"), ("tags", "b")], SCHEMA) == {"tags": ["a", "b"]}
    assert parse([("tags[]", "a"), ("tags[]", "b")], SCHEMA) == {"tags": ["a", "b"]}


def test_leaves_are_typed_by_the_schema() -> None:
    fields = [("flags[dry_run]", "true"), ("rate", "0.25"), ("comment", "42")]
    assert parse(fields, SCHEMA) == {"flags": {"dry_run": True}, "rate": 0.25, "comment": "42"}


def test_leaves_that_do_not_parse_stay_strings_for_validation_to_report() -> None:
    fields = [("transactions[amount][0]", "lots"), ("rate", "nan"), ("flags[dry_run]", "yes")]
    assert parse(fields, SCHEMA) == {
        "transactions": {"amount": ["lots"]},
        "rate": "nan",
        "flags": {"dry_run": "yes"},
    }
    for loose in ("1_000", "0x10", "1e999", "", "1.2.3"):
        assert parse([("rate", loose)], SCHEMA) == {"rate": loose}
    assert parse([("rate", "-2.5e3")], SCHEMA) == {"rate": -2500.0}


def test_unknown_keys_are_nested_untyped() -> None:
    assert parse([("extra[a][b]", "1")], SCHEMA) == {"extra": {"a": {"b": "1"}}}


def test_value_and_container_under_one_name_conflict() -> None:
    with pytest.raises(MalformedForm, match="conflicts"):
        nest([("a", "1"), ("a[b]", "2")])
    with pytest.raises(MalformedForm, match="conflicts"):
        nest([("a[b]", "2"), ("a", "1")])


def test_non_index_under_an_array_is_refused() -> None:
    with pytest.raises(MalformedForm, match="indices"):
        parse([("transactions[id][x]", "txn_1")], SCHEMA)


def test_indices_with_gaps_are_refused() -> None:
    with pytest.raises(MalformedForm, match="without gaps"):
        parse([("transactions[id][0]", "a"), ("transactions[id][2]", "b")], SCHEMA)
    with pytest.raises(MalformedForm, match="without gaps"):
        parse([("transactions[id][1]", "a")], SCHEMA)


def test_huge_index_is_refused_without_allocating() -> None:
    with pytest.raises(MalformedForm):
        parse([("transactions[id][99999999999999]", "a")], SCHEMA)


def test_scalar_given_twice_is_refused() -> None:
    with pytest.raises(MalformedForm, match="2 times"):
        parse([("comment", "a"), ("comment", "b")], SCHEMA)
    with pytest.raises(MalformedForm, match="2 times"):
        parse([("transactions[id][0]", "a"), ("transactions[id][0]", "b")], SCHEMA)


def test_all_of_schemas_are_followed() -> None:
    schema = {"allOf": [{"type": "object", "properties": {"n": {"type": "integer"}}}]}
    assert parse([("n", "7")], schema) == {"n": 7}


# --- through a live server: any workspace, no vendor code ----------------------------------------

_SPEC = """\
openapi: 3.0.3
info: {title: Forms, version: "1"}
paths:
  /echo:
    post:
      operationId: echo
      requestBody:
        required: false
        content:
          application/x-www-form-urlencoded:
            schema:
              type: object
              additionalProperties: false
              properties:
                note: {type: string}
                lines:
                  type: object
                  additionalProperties: false
                  properties:
                    sku: {type: array, items: {type: string}}
                    qty: {type: array, items: {type: integer, minimum: 1}}
            encoding:
              lines: {style: deepObject, explode: true}
      responses:
        "200":
          description: The body the handler received.
          content:
            application/json:
              schema: {type: object}
        "400":
          description: Refused.
          content:
            application/json:
              schema:
                type: object
                required: [error]
                properties: {error: {type: string}}
"""

_HANDLER = """\
from mockyard import ApiError, Failure


def render_failure(failure: Failure) -> ApiError:
    return ApiError(
        failure.status, {"error": failure.detail or failure.title, "param": failure.param}
    )


def echo(ctx, body=None):
    return body
"""


@pytest.fixture(scope="module")
def form_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSandbox]:
    root: Path = tmp_path_factory.mktemp("forms-ws")
    (root / "specs").mkdir()
    (root / "handlers").mkdir()
    (root / "specs" / "forms.yaml").write_text(textwrap.dedent(_SPEC))
    (root / "handlers" / "forms.py").write_text(_HANDLER)
    sandbox = start_sandbox(root / "state.sqlite3", "--strict", workspace=root)
    yield sandbox
    sandbox.stop()


def _post(sandbox: LiveSandbox, content: str) -> tuple[int, dict]:
    with sandbox.client(token=None) as client:
        response = client.post(
            "/echo",
            content=content,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    return response.status_code, response.json()


def test_handler_receives_the_nested_typed_body(form_sandbox: LiveSandbox) -> None:
    status, body = _post(
        form_sandbox, "lines[sku][0]=A-1&lines[qty][0]=2&lines[sku][1]=B-2&lines[qty][1]=5&note=hi"
    )
    assert status == 200
    assert body == {"lines": {"sku": ["A-1", "B-2"], "qty": [2, 5]}, "note": "hi"}


def test_nested_values_are_validated(form_sandbox: LiveSandbox) -> None:
    status, body = _post(form_sandbox, "lines[sku][0]=A-1&lines[qty][0]=0")
    assert status == 400
    # the field as the form names it, and what is wrong with it: no schema dump
    assert body == {"error": "cannot be less than 1", "param": "lines[qty][0]"}
    status, body = _post(form_sandbox, "lines[colour][0]=red")
    assert status == 400
    assert body == {"error": "is not a parameter of this operation", "param": "lines[colour]"}


@pytest.mark.parametrize(
    "content",
    ["lines[sku]]=A-1", "lines[sku][x]=A-1", "note=a&note[b]=2", "lines[sku][3]=A", "[x]=1"],
)
def test_malformed_keys_are_a_400_in_the_apis_format(
    form_sandbox: LiveSandbox, content: str
) -> None:
    status, body = _post(form_sandbox, content)
    assert status == 400
    assert body["error"]
    assert "Traceback" not in form_sandbox.log_text()


def test_an_empty_form_reaches_the_handler_as_an_empty_body(form_sandbox: LiveSandbox) -> None:
    assert _post(form_sandbox, "") == (200, {})
