"""The query string as the engine reads it: exactly what `parse_qsl` returns, however written."""

from __future__ import annotations

from urllib.parse import parse_qsl

from hypothesis import given
from hypothesis import strategies as st

from mockyard.asgi_scope import query_pairs

# Queries built from the characters that change how one is split or unquoted.
QUERIES = st.text(alphabet="ab=&%+;20é[]", max_size=30)


def _pairs(raw: str) -> list[tuple[str, str]]:
    return query_pairs({"query_string": raw.encode("latin-1", "replace")})


@given(QUERIES)
def test_every_query_reads_as_parse_qsl_reads_it(raw: str) -> None:
    raw = raw.encode("latin-1", "replace").decode("latin-1")
    assert _pairs(raw) == parse_qsl(raw, keep_blank_values=True)


def test_plain_and_escaped_queries() -> None:
    assert _pairs("a=1&&b&c=&=d&e=f=g") == [
        ("a", "1"),
        ("b", ""),
        ("c", ""),
        ("", "d"),
        ("e", "f=g"),
    ]
    assert _pairs("q=a+b&n=%C3%A9%20x") == [("q", "a b"), ("n", "é x")]
    assert _pairs("") == []


def test_a_scope_is_parsed_once() -> None:
    scope = {"query_string": b"a=1"}
    assert query_pairs(scope) is query_pairs(scope)
