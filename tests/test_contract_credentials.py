"""Secrets stay out of reports, and reproduce lines read them from the variables they name."""

from __future__ import annotations

import base64
import shlex

import pytest
from conftest import curl_words

from mockyard.contract_credentials import TOKEN_ENV, Secret, Secrets, header_env

TOKEN = "s3cr3t-T0k3n"


@pytest.mark.parametrize(
    "line",
    [
        f"curl -X GET -H 'Authorization: Bearer {TOKEN}' http://127.0.0.1:1/items/1",
        f"curl -X GET 'http://127.0.0.1:1/items?api_key={TOKEN}&q=it'\"'\"'s $HOME'",
        f"curl -X POST -H 'Cookie: session={TOKEN}' -d '{{\"a\": \"$x`y`\"}}' http://h/i",
    ],
)
def test_a_reproduce_line_reads_the_secret_from_its_variable(line: str) -> None:
    secrets = Secrets((Secret(TOKEN, TOKEN_ENV),))
    shown = secrets.mask(line)
    assert TOKEN not in shown and "${MOCKYARD_CONTRACT_TOKEN}" in shown
    # Once the variable is set, the line sends exactly what the run sent.
    assert curl_words(shown, **{TOKEN_ENV: TOKEN}) == shlex.split(line)[1:]
    assert curl_words(shown, **{TOKEN_ENV: "other"}) != shlex.split(line)[1:]


def test_basic_credentials_become_curl_user_option() -> None:
    pair = base64.b64encode(f"{TOKEN}:".encode()).decode()
    secrets = Secrets((Secret(TOKEN, TOKEN_ENV, basic=f"{TOKEN}:"),))
    shown = secrets.mask(f"curl -X POST -H 'Authorization: Basic {pair}' http://h/x")
    assert shown == 'curl -X POST -u "${MOCKYARD_CONTRACT_TOKEN}:" http://h/x'
    assert curl_words(shown, **{TOKEN_ENV: TOKEN}) == [
        "-X",
        "POST",
        "-u",
        f"{TOKEN}:",
        "http://h/x",
    ]


def test_other_credentials_in_a_reproduction_are_kept() -> None:
    # ignored_auth reproduces with a made-up token: that one must stay as sent.
    secrets = Secrets((Secret(TOKEN, TOKEN_ENV),))
    line = "curl -X GET -H 'Authorization: Bearer 0' http://h/x"
    assert secrets.mask(line) == line


def test_secrets_are_filtered_from_messages_and_responses() -> None:
    secrets = Secrets((Secret(TOKEN, TOKEN_ENV), Secret("hdr-value", header_env("X-Api-Key"))))
    text = f"sent Bearer {TOKEN} and X-Api-Key: hdr-value; {TOKEN}x is another word"
    assert secrets.mask(text) == (
        f"sent Bearer [Filtered] and X-Api-Key: [Filtered]; {TOKEN}x is another word"
    )
    assert secrets.variables == [TOKEN_ENV, "MOCKYARD_HEADER_X_API_KEY"]
    assert Secrets().mask(text) == text
