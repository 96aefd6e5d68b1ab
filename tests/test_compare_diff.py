"""`compare_diff`: what counts as two deployments answering differently, and what is noise."""

from __future__ import annotations

import json
from typing import Any

from mockyard.compare_diff import Answer, differences, excerpt

JSON = {"content-type": "application/json"}


def answer(status: int, body: Any = None, **headers: str) -> Answer:
    """An answer with a JSON body; `x_request_id="a"` is the header `x-request-id: a`."""
    names = {**JSON, **{k.replace("_", "-").lower(): v for k, v in headers.items()}}
    content = b"" if body is None else json.dumps(body).encode()
    return Answer(status, names, content)


def details(sandbox: Answer, real: Answer, documented: tuple[str, ...] = ()) -> list[str]:
    return [f"{d.aspect}: {d.detail}" for d in differences(sandbox, real, documented)]


def test_values_ids_and_timestamps_are_not_differences() -> None:
    ours = answer(200, {"id": "inv_1", "total": 100, "at": "2024-01-01T00:00:00Z", "tags": []})
    theirs = answer(200, {"id": "inv_9", "total": 250.5, "at": "2026-12-02T08:00:00Z", "tags": []})
    assert details(ours, theirs) == []


def test_noise_headers_are_ignored_and_charset_is_not_the_media_type() -> None:
    ours = answer(200, {}, date="Mon", server="uvicorn", content_length="2", x_request_id="a")
    theirs = answer(200, {}, date="Tue", server="nginx", content_length="9", x_request_id="b")
    charset = {**theirs.headers, "content-type": "application/json; charset=utf-8"}
    theirs = Answer(200, charset, theirs.content)
    assert details(ours, theirs) == []


def test_a_missing_field_and_a_type_change_are_named_by_path() -> None:
    ours = answer(200, {"list": [{"item": {"id": "a", "amount": 1}}]})
    theirs = answer(200, {"list": [{"item": {"id": 1}}, {"item": {"id": 2, "extra": True}}]})
    assert details(ours, theirs) == [
        "body shape: $.list[].item.amount: present in the sandbox, absent in the real answer",
        "body shape: $.list[].item.extra: absent in the sandbox, present in the real answer",
        "body shape: $.list[].item.id: string in the sandbox, number in the real answer",
    ]


def test_null_is_a_type_and_empty_arrays_say_nothing_of_their_items() -> None:
    ours = answer(200, {"name": "Ada", "items": []})
    theirs = answer(200, {"name": None, "items": [{"id": 1}]})
    assert details(ours, theirs) == [
        "body shape: $.name: string in the sandbox, null in the real answer"
    ]


def test_a_different_status_is_reported_alone_unless_both_are_errors() -> None:
    assert details(answer(200, {"a": 1}), answer(404, {"message": "no"})) == [
        "status: sandbox 200, real 404"
    ]
    assert details(answer(400, {"message": "bad"}), answer(422, {"error": {"msg": "bad"}})) == [
        "status: sandbox 400, real 422",
        "error format: $.message: present in the sandbox, absent in the real answer",
        "error format: $.error: absent in the sandbox, present in the real answer",
    ]


def test_error_messages_and_codes_are_compared_when_the_format_agrees() -> None:
    ours = answer(404, {"message": "Not found", "code": "resource_not_found", "id": "x"})
    theirs = answer(404, {"message": "No such invoice", "code": "resource_not_found", "id": "y"})
    assert details(ours, theirs) == [
        'error message: $.message: sandbox "Not found", real "No such invoice"'
    ]


def test_a_json_error_against_a_text_one_is_an_error_format_difference() -> None:
    text = Answer(500, {"content-type": "text/plain"}, b"Internal Server Error")
    assert details(answer(500, {"message": "boom"}), text) == [
        "error format: $: sandbox JSON, real text/plain (not JSON)",
        "headers: Content-Type: sandbox application/json, real text/plain",
    ]


def test_the_headers_that_matter() -> None:
    ours = answer(405, None, allow="GET, POST", www_authenticate="Basic realm=x")
    theirs = answer(
        405,
        None,
        allow="POST,GET,DELETE",
        www_authenticate="Bearer",
        retry_after="3",
        x_ratelimit_remaining="9",
    )
    assert details(ours, theirs) == [
        "headers: Allow: sandbox GET, POST, real DELETE, GET, POST",
        "headers: Retry-After: absent in the sandbox, present in the real answer",
        "headers: WWW-Authenticate: scheme basic in the sandbox, bearer in the real answer",
        "headers: X-Ratelimit-Remaining: absent in the sandbox, present in the real answer",
    ]


def test_a_header_the_spec_documents_matters() -> None:
    ours = answer(200, {}, x_idempotency_replayed="true")
    theirs = answer(200, {})
    assert details(ours, theirs) == []
    assert details(ours, theirs, ("X-Idempotency-Replayed",)) == [
        "headers: X-Idempotency-Replayed: present in the sandbox, absent in the real answer"
    ]


def test_no_answer_against_an_answer_is_a_status_difference() -> None:
    gone = Answer(None, error="connection refused")
    assert details(answer(200, {}), gone) == ["status: sandbox 200, real no answer"]
    assert details(Answer(None, error="x"), Answer(None, error="y")) == []


def test_the_excerpt_shows_the_json_where_the_answers_differ() -> None:
    ours = answer(200, {"list": [{"item": {"id": "a", "amount": 1}}], "more": "x" * 500})
    found = differences(ours, answer(200, {"list": [{"item": {"id": "a"}}], "more": ""}))
    assert [excerpt(ours, d.where) for d in found] == ["$.list[0].item.amount = 1"]
    theirs = answer(200, {"list": [{"item": {"id": "a"}}], "more": ""})
    assert excerpt(theirs, found[0].where) == '$.list[0].item = {"id": "a"}'
