"""Credentials of a contract run: which ones, where each security scheme puts them, and how a
report may show them.

Catalogue credentials (a local sandbox's public `credentials:` from the fixture file) are shown
as they are. Anything the user passes (`--token`, a credential-like `--header`) is a secret: no
report shows it, and each reproducing `curl` reads it from an environment variable it names
(`-H "Authorization: Bearer ${MOCKYARD_CONTRACT_TOKEN}"`), so the line runs as printed once
that variable is set. `Secrets` does both, on every text the run emits.

Security scheme names are matched case-insensitively (`basicAuth` in a fixture finds a vendor
spec's `BasicAuth`); what goes to Schemathesis uses the name the tested spec spells.
"""

from __future__ import annotations

import base64
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus

from mockyard import specs
from mockyard.errors import ContractError, FixtureError

TOKEN_ENV = "MOCKYARD_CONTRACT_TOKEN"
# Header names whose values are credentials (Schemathesis's sanitization markers, plus cookie).
_SECRET_MARKERS = ("auth", "token", "key", "secret", "session", "passw", "credential", "cookie")
FILTERED = "[Filtered]"


@dataclass(frozen=True)
class Secret:
    """A value no report may show, and the environment variable reproduce lines read it from."""

    value: str
    env: str
    # For HTTP basic: the `user:password` pair as sent (its base64 is what goes on the wire).
    basic: str | None = None


@dataclass
class Credentials:
    """What to merge into an API's Schemathesis settings, and how the report describes it."""

    settings: dict[str, Any] = field(default_factory=dict)
    description: str = "none"
    secrets: tuple[Secret, ...] = ()


def schemes(spec: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The spec's `components.securitySchemes`, by name."""
    found = (spec.get("components") or {}).get("securitySchemes") or {}
    return {k: v for k, v in found.items() if isinstance(v, dict)}


def find_scheme(
    declared: Mapping[str, dict[str, Any]], name: str
) -> tuple[str, dict[str, Any]] | None:
    """The scheme called `name`, whatever its case, with the name as the spec spells it."""
    wanted = name.casefold()
    return next(((k, v) for k, v in declared.items() if k.casefold() == wanted), None)


def requires_auth(spec: Mapping[str, Any]) -> bool:
    if spec.get("security"):
        return True
    return any(op.spec.get("security") for op in specs.operations(dict(spec)))


def explicit(
    spec: Mapping[str, Any],
    effective: Mapping[str, Any],
    token: str | None,
    headers: tuple[tuple[str, str], ...],
) -> Credentials:
    """--token goes wherever the spec's security schemes say; --header as given."""
    creds = Credentials()
    parts = []
    secrets: list[Secret] = []
    if headers:
        creds.settings["headers"] = dict(headers)
        parts.append("--header " + ", ".join(k for k, _ in headers))
        secrets += [Secret(v, header_env(k)) for k, v in headers if is_secret_header(k) and v]
    if token:
        declared = schemes(spec)
        if declared:
            for scheme_name, scheme in declared.items():
                secrets.append(_place(creds, scheme_name, scheme, token, "", declared=True))
            parts.append("--token for " + ", ".join(declared))
        else:
            known = schemes(effective)
            if len(known) == 1:
                scheme_name, scheme = next(iter(known.items()))
                secrets.append(_place(creds, scheme_name, scheme, token, "", declared=False))
                parts.append(f"--token as {scheme_name} (the workspace spec's scheme)")
            else:
                creds.settings.setdefault("headers", {}).setdefault(
                    "Authorization", f"Bearer {token}"
                )
                secrets.append(Secret(token, TOKEN_ENV))
                parts.append("--token as Authorization: Bearer")
    creds.description = "; ".join(parts)
    creds.secrets = tuple(dict.fromkeys(secrets))
    return creds


def catalogue(
    spec: Mapping[str, Any],
    effective: Mapping[str, Any],
    fixture: Mapping[str, Any],
    where: str,
) -> Credentials | None:
    """The fixture's default sandbox credential, placed per the spec; None if it has none."""
    entries = [c for c in fixture.get("credentials") or [] if isinstance(c, dict)]
    if not entries:
        return None
    cred = next((c for c in entries if c.get("default")), entries[0])
    wanted = str(cred.get("scheme", ""))
    declared = schemes(spec)
    found = find_scheme(declared, wanted) or find_scheme(schemes(effective), wanted)
    if found is None:
        raise FixtureError(
            f"credential scheme {wanted!r} is not in the spec's securitySchemes", path=where
        )
    scheme_name, scheme = found
    in_spec = find_scheme(declared, wanted) is not None
    value, password = str(cred.get("value", "")), str(cred.get("password", ""))
    creds = Credentials()
    _place(creds, scheme_name, scheme, value, password, declared=in_spec)
    shown = f"{value}:{password}" if password else value
    creds.description = f"{scheme_name} = {shown} (sandbox catalogue default, {where})"
    if not in_spec:
        creds.description += "; sent with every request, as the tested spec declares no such scheme"
    return creds  # public sandbox values: shown as they are, so reproduce lines run as printed


def _place(
    creds: Credentials,
    scheme_name: str,
    scheme: Mapping[str, Any],
    value: str,
    password: str,
    *,
    declared: bool,
) -> Secret:
    """Put one credential where `scheme` says; returns it as a secret (if the caller needs one).

    A scheme the tested spec declares goes to Schemathesis's `auth.openapi`, so it applies the
    credential per operation and knows what `ignored_auth` should remove. A scheme only the
    workspace's spec knows (e.g. a vendor spec that forgot it) is sent on every request instead.
    """
    kind = str(scheme.get("type", "")).lower()
    http_scheme = str(scheme.get("scheme", "")).lower()
    basic = kind == "http" and http_scheme == "basic"
    given = value
    if basic and password == "" and ":" in value:
        value, password = value.split(":", 1)
    secret = Secret(given, TOKEN_ENV, basic=f"{value}:{password}" if basic else None)
    settings = creds.settings
    if declared:
        if basic:
            entry = {"username": value, "password": password}
        elif kind == "http" and http_scheme == "bearer":
            entry = {"bearer": value}
        elif kind == "apikey":
            entry = {"api_key": value}
        else:
            raise _unsupported(scheme_name, kind)
        settings.setdefault("auth", {}).setdefault("openapi", {})[scheme_name] = entry
        return secret
    headers = settings.setdefault("headers", {})
    if basic:
        pair = base64.b64encode(f"{value}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {pair}"
    elif kind == "http" and http_scheme == "bearer":
        headers["Authorization"] = f"Bearer {value}"
    elif kind == "apikey" and scheme.get("in") == "header":
        headers[str(scheme["name"])] = value
    elif kind == "apikey" and scheme.get("in") == "cookie":
        headers["Cookie"] = f"{scheme['name']}={value}"
    elif kind == "apikey" and scheme.get("in") == "query":
        settings.setdefault("parameters", {})[f"query.{scheme['name']}"] = value
    else:
        raise _unsupported(scheme_name, kind)
    return secret


def _unsupported(scheme_name: str, kind: str) -> ContractError:
    return ContractError(f"security scheme {scheme_name!r} of type {kind!r} is not supported")


def is_secret_header(name: str) -> bool:
    lowered = name.lower()
    return any(marker in lowered for marker in _SECRET_MARKERS)


def header_env(name: str) -> str:
    """The variable a reproduce line reads a --header's value from: MOCKYARD_HEADER_X_API_KEY."""
    return "MOCKYARD_HEADER_" + re.sub(r"[^A-Z0-9]+", "_", name.upper()).strip("_")


class Secrets:
    """Keeps secrets out of every text a run emits; makes reproduce lines read them from env."""

    def __init__(self, secrets: tuple[Secret, ...] = ()) -> None:
        self.secrets = tuple(s for s in secrets if s.value)
        # (pattern, variable): the value as sent, URL-encoded, or base64 in a basic header.
        self._patterns: list[tuple[re.Pattern[str], Secret]] = []
        for secret in self.secrets:
            forms = {secret.value, quote(secret.value, safe=""), quote_plus(secret.value)}
            if secret.basic is not None:
                forms.add(base64.b64encode(secret.basic.encode()).decode())
            for form in sorted(forms, key=len, reverse=True):
                # Whole values only: not part of a longer word, URL-safe run or base64 string.
                pattern = re.compile(rf"(?<![\w\-.~+/]){re.escape(form)}(?![\w\-.~+/=])")
                self._patterns.append((pattern, secret))

    @property
    def variables(self) -> list[str]:
        return list(dict.fromkeys(s.env for s in self.secrets))

    def mask(self, text: str) -> str:
        """`text` with every secret replaced by [Filtered] (curl lines: see `reproduce`)."""
        if not self.secrets:
            return text
        return "\n".join(
            self.reproduce(line) if line.lstrip().startswith("curl ") else self._mask(line)
            for line in text.split("\n")
        )

    def _mask(self, text: str) -> str:
        for pattern, _ in self._patterns:
            text = pattern.sub(FILTERED, text)
        return text

    def reproduce(self, line: str) -> str:
        """A curl line that reads each secret from its environment variable, quoted to run."""
        indent = line[: len(line) - len(line.lstrip())]
        try:
            words = shlex.split(line)
        except ValueError:
            return self._mask(line)
        out: list[str] = []
        index = 0
        while index < len(words):
            word = words[index]
            nxt = words[index + 1] if index + 1 < len(words) else ""
            basic = self._basic(nxt) if word == "-H" else None
            if basic is not None:
                out += ["-u", _double_quoted([("ref", basic.env), *_colon(basic)])]
                index += 2
                continue
            out.append(self._word(word))
            index += 1
        return indent + " ".join(out)

    def _basic(self, header: str) -> Secret | None:
        name, _, value = header.partition(":")
        scheme, _, encoded = value.strip().partition(" ")
        if name.strip().lower() != "authorization" or scheme.lower() != "basic":
            return None
        return next(
            (
                secret
                for secret in self.secrets
                if secret.basic is not None
                and base64.b64encode(secret.basic.encode()).decode() == encoded.strip()
            ),
            None,
        )

    def _word(self, word: str) -> str:
        pieces: list[tuple[str, str]] = [("text", word)]
        for pattern, secret in self._patterns:
            split: list[tuple[str, str]] = []
            for kind, text in pieces:
                if kind != "text":
                    split.append((kind, text))
                    continue
                last = 0
                for match in pattern.finditer(text):
                    split += [("text", text[last : match.start()]), ("ref", secret.env)]
                    last = match.end()
                split.append(("text", text[last:]))
            pieces = [p for p in split if p[1]]
        if all(kind == "text" for kind, _ in pieces):
            return shlex.quote(word)
        return _double_quoted(pieces)


def _colon(secret: Secret) -> list[tuple[str, str]]:
    """`-u "$VAR:"` for a key used as the user name with no password; `-u "$VAR"` for u:p."""
    return [] if ":" in secret.value else [("text", ":")]


def _double_quoted(pieces: list[tuple[str, str]]) -> str:
    """A shell word in double quotes: text escaped, each ("ref", VAR) expanded as ${VAR}."""
    body = "".join(
        "${" + text + "}" if kind == "ref" else re.sub(r'([\\"$`])', r"\\\1", text)
        for kind, text in pieces
    )
    return f'"{body}"'
