"""A hostile-input corpus across every served API: each request gets a 4xx in its API's own
documented error format, the server stays up, and no state changes.

Categories (each covered for every API where it applies): invalid and truncated JSON, non-UTF-8,
wrong content types, numbers out of range, 10,000 levels of nesting, 10 MB bodies (sized and
chunked), NUL bytes and control characters, overlong strings, path traversal and odd characters
in path and query parameters, duplicate and malformed bracket keys, oversized headers, malformed
`Prefer` preferences (400 in problem JSON, as Prism answers them), and foreign, `null` and
malformed `Origin` headers (the documented answer, with no CORS approval).
`test_bad_input.py` holds more CargoExtra cases (types, missing fields, the query's enums).

`ADMIN_CORPUS` does the same for the admin API and the browser's side of the wire: drive-by
origins, preflights (private-network ones too), rebinding `Host` names, and records or reset
bodies JSON cannot carry back (NaN, 1e400, lone surrogates, 10,000 levels, 2 MiB): each gets a
4xx and changes nothing, on a state that a reset would change.

Each request is one that would change state if the server accepted it (a good pay, payment or
application plus the hostile part), so "state unchanged" can fail. Requests go over a raw socket:
the bytes on the wire are exactly the ones written here (no client normalises `..` or encodes).

The limit: a request the HTTP parser itself rejects (a raw 0xFF byte or a NUL in the request
line or a header, a broken Content-Length or chunk, a request line over 64 KiB, an unknown method)
never reaches the application, so it is answered by uvicorn with a plain-text 400, not in the
API's format. `test_requests_the_http_parser_rejects_get_a_plain_400_and_change_nothing` proves
that much: a 400, no state change, the server still up.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from conftest import LiveSandbox, snapshot

CE, IX, CB = "cargoextra", "invoicexpress", "chargebee"
JSON = b"application/json"
FORM = b"application/x-www-form-urlencoded"
MB10 = 10 * 1024 * 1024
DEEP = 10_000

PAY = "/api/v1/billing/invoice/pay"
PART = "/api/v1/billing/invoice/part-process"
VALIDATE = "/api/v1/billing/invoice/validate"
IX_KEY = "api_key=sandbox-api-key"
CB_BASIC = b"Basic " + base64.b64encode(b"sandbox_api_key:")
GOOD_PAY = b'{"invoice": 100127, "currency": "NGN"}'  # Bola's unpaid 5,000 NGN; she can pay it
GOOD_IX = b'{"partial_payment": {"amount": 10}}'
GOOD_CB = b"transactions[id][0]=txn_sandbox_1b&transactions[amount][0]=4000"
VALIDATE_QUERY = {
    "invoiceNo": "100123",
    "amount": "15000",
    "currencyPaid": "642f1a3e9b1e8a0012345678",
    "type": "start",  # a start records a pending online payment: it changes state
    "processor": "paystack",
    "partPaymentFromWalletBalanceBefore": "0",
    "partPaymentFromWalletBalanceCurrent": "0",
}
MISSING = "Missing One or More Required Parameters"


@dataclass(frozen=True)
class Hostile:
    """One hostile request and the answer its API documents for it."""

    api: str
    name: str
    target: str | bytes  # the request target exactly as sent (path and query)
    body: bytes = b""
    content_type: bytes | None = JSON
    headers: tuple[tuple[bytes, bytes], ...] = ()
    method: bytes = b"POST"
    chunked: bool = False
    status: int = 400
    detail: str | None = None  # CargoExtra: the message; Chargebee: the api_error_code
    kind: str = "api"  # "prefer": problem JSON; "admin": {"error"}; "cors": a refused preflight

    @property
    def id(self) -> str:
        return f"{self.api}: {self.name}"


def ce(name: str, body: bytes, status: int = 400, message: str = MISSING, **kw) -> Hostile:
    """A CargoExtra pay (Bola's token) unless `target` says otherwise."""
    kw.setdefault("target", PAY)
    auth = (b"Authorization", b"Bearer sandbox-token-rich")
    kw["headers"] = (auth, *kw.get("headers", ()))
    return Hostile(CE, name, body=body, status=status, detail=message, **kw)


def ce_query(
    name: str, status: int = 400, message: str = MISSING, drop: str = "", **replace: str
) -> Hostile:
    """A CargoExtra validate (Ada) with some query parameters replaced (already URL-encoded),
    `drop` left out and any others added."""
    query = "&".join(f"{k}={replace.get(k, v)}" for k, v in VALIDATE_QUERY.items() if k != drop)
    query += "".join(f"&{k}={v}" for k, v in replace.items() if k not in VALIDATE_QUERY)
    auth = (b"Authorization", b"Bearer sandbox-token")
    return Hostile(
        CE,
        name,
        target=f"{VALIDATE}?{query}",
        method=b"GET",
        content_type=None,
        headers=(auth,),
        status=status,
        detail=message,
    )


def ix(name: str, body: bytes = GOOD_IX, status: int = 422, document: str = "1", **kw) -> Hostile:
    """An InvoiceXpress payment against document 1 (open, 107.00) unless told otherwise."""
    kw.setdefault("target", f"/documents/{document}/partial_payments.json?{IX_KEY}")
    return Hostile(IX, name, body=body, status=status, **kw)


def cb(
    name: str,
    body: bytes = GOOD_CB,
    code: str = "param_wrong_value",
    status: int = 400,
    invoice: str = "inv_sandbox_1",
    **kw,
) -> Hostile:
    """A Chargebee application to inv_sandbox_1 (payment_due, 10000) unless told otherwise."""
    kw.setdefault("target", f"/api/v2/invoices/{invoice}/apply_payments")
    kw.setdefault("content_type", FORM)
    kw["headers"] = ((b"Authorization", CB_BASIC), *kw.get("headers", ()))
    return Hostile(CB, name, body=body, status=status, detail=code, **kw)


def deep_array() -> bytes:
    return b"[" * DEEP + b"]" * DEEP


def deep_object(leaf: bytes = b"1") -> bytes:
    return b'{"a": ' * DEEP + leaf + b"}" * DEEP


def part_payment(before: str, current: str, rate: str = "1") -> bytes:
    return (
        b'{"invoice": 100123, "currency": "NGN", "partPaymentFromWalletBalance": '
        b'{"currency": "NGN", "exchangeRate": '
        + rate.encode()
        + b', "chargeTotalBefore": '
        + before.encode()
        + b', "chargeTotalCurrent": '
        + current.encode()
        + b"}}"
    )


def payment(**fields: object) -> bytes:
    return json.dumps({"partial_payment": {"amount": 10, **fields}}).encode()


BIG_HEADER = ((b"X-Padding", b"a" * 64 * 1024),)
MANY_HEADERS = tuple((f"X-H{i}".encode(), b"v" * 16) for i in range(3000))
TEN_MB_JSON = b'{"note": "' + b"a" * MB10 + b'"}'
TEN_MB_FORM = b"comment=" + b"a" * MB10

CORPUS = [
    # --- CargoExtra: every failure is {"message": <documented text>} --------------------------
    ce("truncated JSON", b'{"invoice": 100127, "curr'),
    ce("JSON cut before its brace", b'{"invoice": 100127, "currency": "NGN"'),
    ce("unquoted keys", b"{invoice: 100127, currency: NGN}"),
    ce("trailing garbage", GOOD_PAY + b"}}"),
    ce("non-UTF-8 bytes", b'{"invoice": 100127, "currency": "NG\xff\xfeN"}'),
    ce("UTF-16 JSON", GOOD_PAY.decode().encode("utf-16")),
    ce("lone surrogate", b'{"invoice": 100127, "currency": "\\ud800"}'),
    ce("text/plain", GOOD_PAY, content_type=b"text/plain"),
    ce("form-encoded", b"invoice=100127&currency=NGN", content_type=FORM),
    ce("no content type", GOOD_PAY, content_type=None),
    ce("multipart", b"--x\r\n\r\n100127\r\n--x--\r\n", content_type=b"multipart/form-data"),
    ce("invoice past int64", b'{"invoice": 9223372036854775808, "currency": "NGN"}'),
    ce("invoice of 5,000 digits", b'{"invoice": ' + b"9" * 5000 + b', "currency": "NGN"}'),
    ce("infinite invoice", b'{"invoice": 1e400, "currency": "NGN"}'),
    ce("NaN part-payment", part_payment("NaN", "0")),
    ce("part-payment past the maximum", part_payment("1e308", "1e308")),
    ce("infinite exchange rate", part_payment("15000", "5000", rate="-Infinity")),
    ce("10,000 nested arrays", deep_array()),
    ce("10,000 nested objects", deep_object()),
    ce(
        "10,000 levels inside the part-payment",
        b'{"invoice": 100127, "currency": "NGN", "partPaymentFromWalletBalance": '
        + deep_object()
        + b"}",
    ),
    ce("10 MB body", TEN_MB_JSON),
    ce("10 MB chunked body", TEN_MB_JSON, chunked=True),
    ce("raw NUL byte", b'{"invoice": 100127,\x00 "currency": "NGN"}'),
    ce("raw control character", b'{"invoice": 100127, "currency": "NG\x01N"}'),
    ce(
        "escaped NUL in the currency",
        b'{"invoice": 100127, "currency": "NGN\\u0000"}',
        404,
        "Currency not found",
    ),
    ce(
        "escaped bell in the currency",
        b'{"invoice": 100127, "currency": "\\u0007NGN"}',
        404,
        "Currency not found",
    ),
    ce(
        "5,000-character currency", json.dumps({"invoice": 100127, "currency": "N" * 5000}).encode()
    ),
    ce(
        "100,000-character cloneId",
        json.dumps({"invoice": 100127, "currency": "NGN", "cloneId": "a" * 100_000}).encode(),
    ),
    ce("traversal to pay", GOOD_PAY, 404, "Not Found", target=PART + "/..%2F..%2Fpay"),
    ce("dot segments to pay", GOOD_PAY, 404, "Not Found", target=PART + "/../pay"),
    ce("NUL in the path", GOOD_PAY, 404, "Not Found", target=PAY + "%00"),
    ce("unicode in the path", GOOD_PAY, 404, "Not Found", target=PAY.replace("pay", "p%C3%A4y")),
    ce("64 KiB header", GOOD_PAY, headers=BIG_HEADER),
    ce("3,000 headers", GOOD_PAY, headers=MANY_HEADERS),
    ce_query("Arabic-Indic invoice number", invoiceNo="%D9%A1%D9%A0%D9%A0%D9%A1%D9%A2%D9%A3"),
    ce_query("invoice number with underscores", invoiceNo="100_123"),
    ce_query("NUL in the invoice number", invoiceNo="100123%00"),
    ce_query("non-UTF-8 invoice number", invoiceNo="%FF%FE"),
    ce_query("traversal in the currency id", currencyPaid="..%2F..%2Fetc%2Fpasswd"),
    ce_query("5,000-character currency id", currencyPaid="a" * 5000),
    ce_query("bracketed invoice number", drop="invoiceNo", **{"invoiceNo[]": "100123"}),
    ce_query("invoice number as an object", drop="invoiceNo", **{"invoiceNo[a]": "100123"}),
    # --- InvoiceXpress: 401 / 404 / 422 with an empty body ------------------------------------
    ix("truncated JSON", b'{"partial_payment": {"amount": 10'),
    ix("trailing garbage", GOOD_IX + b"]"),
    ix("non-UTF-8 note", b'{"partial_payment": {"amount": 10, "note": "\xe9t\xe9"}}'),
    ix("UTF-16 JSON", GOOD_IX.decode().encode("utf-16")),
    ix("lone surrogate in the note", b'{"partial_payment": {"amount": 10, "note": "\\udfff"}}'),
    ix("form-encoded", b"partial_payment[amount]=10", content_type=FORM),
    ix("text/plain", GOOD_IX, content_type=b"text/plain"),
    ix("no content type", GOOD_IX, content_type=None),
    ix("amount past the maximum", b'{"partial_payment": {"amount": 1e13}}'),
    ix("amount of 5,000 digits", b'{"partial_payment": {"amount": ' + b"9" * 5000 + b"}}"),
    ix("infinite amount", b'{"partial_payment": {"amount": 1e400}}'),
    ix("NaN amount", b'{"partial_payment": {"amount": NaN}}'),
    ix("negative amount", b'{"partial_payment": {"amount": -0.01}}'),
    ix("amount as a string", b'{"partial_payment": {"amount": "10"}}'),
    ix("10,000 nested arrays", deep_array()),
    ix("10,000 levels in the payment", b'{"partial_payment": ' + deep_object() + b"}"),
    ix("10 MB body", TEN_MB_JSON),
    ix("10 MB chunked body", TEN_MB_JSON, chunked=True),
    ix("raw NUL byte", b'{"partial_payment": {"amount": 10}}\x00'),
    ix("NUL in the serie", b'{"partial_payment": {"amount": 10, "serie": "A\\u0000"}}'),
    ix("control characters in the serie", b'{"partial_payment": {"amount": 10, "serie": "\x01"}}'),
    ix("2,001-character note", payment(note="n" * 2001)),
    ix("overlong date", payment(payment_date="1" * 10_000)),
    ix("traversal as the document", document="..%2F..%2Fetc%2Fpasswd", status=404),
    ix("dot segments around the document", document="2/../1", status=404),
    ix("NUL as the document", document="%00", status=404),
    ix("Arabic-Indic document id", document="%D9%A1", status=404),
    # The path parameter is `format: int64`: past its bounds it is invalid input, not absent.
    ix("document id of 400 digits", document="9" * 400, status=422),
    ix("document id past int64", document="9223372036854775808", status=422),
    ix("negative document id", document="-1", status=404),
    ix(
        "NUL after the api_key",
        target=f"/documents/1/partial_payments.json?{IX_KEY}%00",
        status=401,
    ),
    ix("non-UTF-8 api_key", target="/documents/1/partial_payments.json?api_key=%FF", status=401),
    ix("64 KiB header", headers=BIG_HEADER),
    ix("3,000 headers", headers=MANY_HEADERS),
    # --- Chargebee: its error object, with api_error_code ---------------------------------------
    cb(
        "JSON body",
        b'{"transactions": {"id": ["txn_sandbox_1b"]}}',
        "invalid_request",
        content_type=JSON,
    ),
    cb("text/plain", GOOD_CB, "invalid_request", content_type=b"text/plain"),
    cb("no content type", GOOD_CB, "invalid_request", content_type=None),
    cb("10,000 levels of JSON", deep_array(), "invalid_request", content_type=JSON),
    cb("percent-encoded non-UTF-8", GOOD_CB + b"&comment=%FF%FE"),
    cb("raw non-UTF-8", GOOD_CB + b"&comment=\xe9"),
    cb("non-UTF-8 key", GOOD_CB + b"&%C3=1"),
    cb(
        "amount past int64",  # the official format; any smaller amount is valid
        b"transactions[id][0]=txn_sandbox_1b&transactions[amount][0]=9223372036854775808",
    ),
    cb(
        "amount of 400 digits",
        b"transactions[id][0]=txn_sandbox_1b&transactions[amount][0]=" + b"9" * 400,
    ),
    cb("infinite amount", b"transactions[id][0]=txn_sandbox_1b&transactions[amount][0]=1e999"),
    cb("fractional amount", b"transactions[id][0]=txn_sandbox_1b&transactions[amount][0]=0.5"),
    cb("negative amount", b"transactions[id][0]=txn_sandbox_1b&transactions[amount][0]=-4000"),
    cb("Arabic-Indic amount", b"transactions[id][0]=txn_sandbox_1b&transactions[amount][0]=%D9%A1"),
    cb("index past any list", b"transactions[id][99999999999999999999]=txn_sandbox_1b"),
    cb("10,000 levels of brackets", b"transactions" + b"[id]" * DEEP + b"=txn_sandbox_1b"),
    cb("10 MB body", TEN_MB_FORM, "invalid_request"),
    cb("10 MB chunked body", TEN_MB_FORM, "invalid_request", chunked=True),
    cb(
        "NUL in a transaction id",
        b"transactions[id][0]=txn_sandbox_1b%00",
        "resource_not_found",
        404,
    ),
    cb(
        "control characters in a transaction id",
        b"transactions[id][0]=%01%02%7F",
        "resource_not_found",
        404,
    ),
    cb("NUL in a key", b"transactions%00[id][0]=txn_sandbox_1b"),
    cb("301-character comment", GOOD_CB + b"&comment=" + b"c" * 301),
    cb("41-character transaction id", b"transactions[id][0]=" + b"t" * 41),
    cb(
        "251 transactions",
        b"&".join(b"transactions[id][%d]=txn_sandbox_1b" % i for i in range(251)),
    ),
    cb("1,001 fields", b"&".join([b"comment=x"] * 1001)),
    cb(
        "traversal as the invoice",
        invoice="..%2F..%2Fetc%2Fpasswd",
        code="resource_not_found",
        status=404,
    ),
    cb(
        "dot segments around the invoice",
        invoice="inv_sandbox_2/../inv_sandbox_1",
        code="resource_not_found",
        status=404,
    ),
    cb("NUL as the invoice", invoice="%00", code="resource_not_found", status=404),
    cb("emoji as the invoice", invoice="%F0%9F%92%B8", code="resource_not_found", status=404),
    cb("non-UTF-8 invoice id", invoice="%FF%FE", code="resource_not_found", status=404),
    cb(
        "invoice id with a trailing blank",
        invoice="inv_sandbox_1%20",
        code="resource_not_found",
        status=404,
    ),
    cb(
        "5,000-character invoice id",  # no such invoice: the official spec sets no id limit
        invoice="i" * 5000,
        code="resource_not_found",
        status=404,
    ),
    cb(
        "an id given twice at one index",
        b"transactions[id][0]=txn_sandbox_1b&transactions[id][0]=txn_sandbox_1a",
    ),
    cb(
        "one transaction named twice",
        b"transactions[id][0]=txn_sandbox_1b&transactions[id][1]=txn_sandbox_1b",
    ),
    cb("comment given twice", GOOD_CB + b"&comment=a&comment=b"),
    cb("unbalanced bracket", b"transactions[id]]=txn_sandbox_1b"),
    cb("doubled bracket", b"transactions[[id]][0]=txn_sandbox_1b"),
    cb("bracket without a name", b"[id][0]=txn_sandbox_1b"),
    cb("empty key", GOOD_CB + b"&=1"),
    cb("value and list under one name", b"transactions=1&" + GOOD_CB),
    cb("index that is not a number", b"transactions[id][x]=txn_sandbox_1b"),
    cb("index with a leading zero", b"transactions[id][01]=txn_sandbox_1b"),
    cb(
        "appended then indexed",
        b"transactions[id][]=txn_sandbox_1a&transactions[id][0]=txn_sandbox_1b",
    ),
    cb("amount without an id", b"transactions[amount][0]=4000"),
    cb("64 KiB header", headers=BIG_HEADER, code="invalid_request"),
    cb("3,000 headers", headers=MANY_HEADERS, code="invalid_request"),
]
PREFERS = [
    b"delay=abc",
    b"delay=-5",
    b"delay=1e400",
    b"delay=NaN",
    b"delay=",
    b"code=abc",
    b"code=99",
    b"code=1" + b"0" * 400,
    b"dynamic=maybe",
    b'delay="10", code=4o4',
]
ORIGINS = [
    b"http://drive-by.example.test",
    b"null",
    b"http://localhost.drive-by.example.test",
    b"http://127.0.0.1.nip.example.test:9000",
    b"javascript:alert(1)",
    b"http://" + b"a" * 10_000,
    b"http://[::1",
    b"HTTP://LOCALHOST:5173",
    b"http://localhost:5173, http://drive-by.example.test",
]
for _make, _good in ((ce, GOOD_PAY), (ix, GOOD_IX), (cb, GOOD_CB)):
    for _value in PREFERS:
        _kw = {"body": _good, "headers": ((b"Prefer", _value),), "kind": "prefer", "status": 400}
        CORPUS.append(_make(f"Prefer: {_value.decode()[:40]}", **_kw))
for _value in ORIGINS:
    _name = f"Origin {_value.decode()[:40]} with a truncated body"
    CORPUS.append(ce(_name, b'{"invoice": 1', headers=((b"Origin", _value),)))
    CORPUS.append(ix(_name, b'{"partial_payment": {', headers=((b"Origin", _value),)))
    CORPUS.append(cb(_name, b"transactions[id]]=x", headers=((b"Origin", _value),)))


DRIVE_BY = (b"Origin", b"http://127.0.0.1:5555")  # a page on another loopback port
INVOICE_URL = "/__mockyard/state/cargoextra/invoices/100127"
BOLA_INVOICE = (
    b'{"invoiceNo": 100127, "owner": "cus_bola", "currency": "NGN", "total": 5000, '
    b'"status": "unpaid", "issuedAt": "2024-05-05T10:00:00Z", "dueAt": "2024-06-04"'
)


def admin(name: str, target: str, body: bytes = b"", status: int = 400, **kw) -> Hostile:
    """A request to the admin API; the answer is {"error": ...}."""
    kw.setdefault("method", b"PUT" if target.startswith("/__mockyard/state/") else b"POST")
    return Hostile("admin", name, target, body=body, status=status, kind="admin", **kw)


def record(name: str, tail: bytes, status: int = 400, **kw) -> Hostile:
    """A PUT of Bola's unpaid invoice 100127 (which would undo her payment) with `tail` added."""
    return admin(name, INVOICE_URL, BOLA_INVOICE + tail + b"}", status, **kw)


def preflight(name: str, target: str, origin: bytes, *extra: tuple[bytes, bytes], **kw) -> Hostile:
    headers = ((b"Origin", origin), (b"Access-Control-Request-Method", b"POST"), *extra)
    kw.setdefault("kind", "admin")
    return Hostile(
        "admin",
        name,
        target,
        method=b"OPTIONS",
        content_type=None,
        headers=headers,
        status=kw.pop("status", 403),
        **kw,
    )


PRIVATE = (b"Access-Control-Request-Private-Network", b"true")
ADMIN_CORPUS = [
    admin("reset from a drive-by page", "/__mockyard/reset", status=403, headers=(DRIVE_BY,)),
    admin(
        "no-cors reset as text/plain",
        "/__mockyard/reset",
        b"{}",
        403,
        content_type=b"text/plain",
        headers=(DRIVE_BY,),
    ),
    admin(
        "reset from a null origin", "/__mockyard/reset", status=403, headers=((b"Origin", b"null"),)
    ),
    admin(
        "reset from a local frontend",
        "/__mockyard/reset",
        status=403,
        headers=((b"Origin", b"http://localhost:5173"),),
    ),
    admin(
        "reset through a rebinding name",
        "/__mockyard/reset",
        status=403,
        headers=((b"Host", b"rebound.example.test:9000"),),
    ),
    admin(
        "record write from a drive-by page",
        INVOICE_URL,
        BOLA_INVOICE + b"}",
        403,
        headers=(DRIVE_BY,),
    ),
    admin(
        "record delete from a drive-by page",
        INVOICE_URL,
        status=403,
        method=b"DELETE",
        content_type=None,
        headers=(DRIVE_BY,),
    ),
    admin(
        "journal delete from a drive-by page",
        "/__mockyard/requests",
        status=403,
        method=b"DELETE",
        content_type=None,
        headers=(DRIVE_BY,),
    ),
    preflight("preflight to reset, local frontend", "/__mockyard/reset", b"http://localhost:5173"),
    preflight("preflight to a record, drive-by", INVOICE_URL, DRIVE_BY[1]),
    preflight("private-network preflight to pay", PAY, b"https://drive-by.example.test", PRIVATE),
    preflight(
        "private-network preflight from a local origin", PAY, b"http://localhost:5173", PRIVATE
    ),
    preflight(
        "preflight to pay from a foreign origin",
        PAY,
        b"https://drive-by.example.test",
        kind="cors",
        status=400,
    ),
    admin("reset with a NaN seed", "/__mockyard/reset", b'{"seed": NaN}'),
    admin("reset with an infinite seed", "/__mockyard/reset", b'{"seed": 1e400}'),
    admin("reset with a string seed", "/__mockyard/reset", b'{"seed": "7"}'),
    admin("reset with a list", "/__mockyard/reset", b"[7]"),
    admin("reset with a lone surrogate", "/__mockyard/reset", b'{"seed": "\\ud800"}'),
    admin("reset 10,000 levels deep", "/__mockyard/reset", deep_object()),
    admin(
        "reset with 2 MiB", "/__mockyard/reset", b'{"x": "' + b"a" * 2 * 1024 * 1024 + b'"}', 413
    ),
    admin("reset, non-UTF-8", "/__mockyard/reset", b'{"seed": "\xff"}'),
    record("record with a NaN", b', "paidFromWallet": NaN'),
    record("record with 1e400", b', "paidFromWallet": 1e400'),
    record("record with a lone surrogate", b', "description": "\\udfff"'),
    record("record 10,000 levels deep", b', "description": ' + deep_object()),
    record("record 65 levels deep", b', "onlinePayments": ' + b"[" * 65 + b"]" * 65),
    record("record of 2 MiB", b', "description": "' + b"d" * 2 * 1024 * 1024 + b'"', 413),
    record("record with a 5,000-digit number", b', "paidOnline": ' + b"9" * 5000),
    record(
        "record with a fraction for an integer",
        b', "invoiceNo": 100127.5',
    ),
    record("record of another key", b', "invoiceNo": 100128'),
    record("record with an unknown status", b', "status": "refunded"'),
    record("record with a typo", b', "stauts": "paid"'),
    record("record, non-UTF-8", b', "description": "\xe9"'),
    admin("record that is a list", INVOICE_URL, b"[" + BOLA_INVOICE + b"}]"),
    admin("record in an unknown collection", "/__mockyard/state/cargoextra/parcels/1", b"{}", 404),
    admin("record of an unknown API", "/__mockyard/state/nope/invoices/1", b"{}", 404),
    admin("record of engine bookkeeping", "/__mockyard/state/_mockyard/rate-limits/x", b"{}", 404),
    admin(
        "journal limit not a number",
        "/__mockyard/requests?limit=abc",
        method=b"GET",
        content_type=None,
    ),
    admin("journal limit 0", "/__mockyard/requests?limit=0", method=b"GET", content_type=None),
    admin(
        "journal status 6xx", "/__mockyard/requests?status=6xx", method=b"GET", content_type=None
    ),
    admin(
        "listing limit -1",
        "/__mockyard/state/cargoextra/invoices?limit=-1",
        method=b"GET",
        content_type=None,
    ),
    admin(
        "listing offset of 5,000 digits",
        "/__mockyard/state/cargoextra/invoices?offset=" + "9" * 5000,
        method=b"GET",
        content_type=None,
    ),
]


def send(sandbox: LiveSandbox, case: Hostile) -> tuple[int, dict[str, str], bytes]:
    """Send `case` as raw bytes; return the status, headers (lower-cased) and body."""
    target = case.target if isinstance(case.target, bytes) else case.target.encode()
    head = [case.method + b" " + target + b" HTTP/1.1"]
    if not any(name.lower() == b"host" for name, _ in case.headers):
        head.append(b"Host: 127.0.0.1")
    head += [name + b": " + value for name, value in case.headers]
    if case.content_type is not None:
        head.append(b"Content-Type: " + case.content_type)
    if case.chunked:
        head.append(b"Transfer-Encoding: chunked")
    elif case.body or case.method == b"POST":
        head.append(b"Content-Length: %d" % len(case.body))
    return _exchange(sandbox, b"\r\n".join(head) + b"\r\n\r\n", _framed(case))


def _framed(case: Hostile) -> Iterator[bytes]:
    if not case.chunked:
        yield case.body
        return
    for start in range(0, len(case.body), 256 * 1024):
        piece = case.body[start : start + 256 * 1024]
        yield b"%x\r\n" % len(piece) + piece + b"\r\n"
    yield b"0\r\n\r\n"


def _exchange(
    sandbox: LiveSandbox, head: bytes, body: Iterator[bytes]
) -> tuple[int, dict[str, str], bytes]:
    port = int(sandbox.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        # The server may answer before it has read a large body; keep writing from a thread so
        # neither side waits on the other, and stop quietly if the server hangs up.
        def write() -> None:
            try:
                sock.sendall(head)
                for piece in body:
                    sock.sendall(piece)
            except OSError:
                pass

        writer = threading.Thread(target=write)
        writer.start()
        response = _read_response(sock)
        writer.join(timeout=60)
    return response


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed before a response: {data!r}")
        data += chunk
    raw_head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *lines = raw_head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return int(status_line.split()[1]), headers, rest[:length]


def assert_documented(case: Hostile, status: int, headers: dict[str, str], body: bytes) -> None:
    assert 400 <= case.status < 500
    assert status == case.status, body[:300]
    assert "access-control-allow-origin" not in headers  # no page of a foreign origin reads it
    if case.kind == "prefer":
        assert headers.get("content-type") == "application/problem+json"
        assert json.loads(body)["status"] == 400
        return
    if case.kind == "admin":
        assert headers.get("content-type") == "application/json"
        assert isinstance(json.loads(body)["error"], str)
        return
    if case.kind == "cors":  # Starlette's answer to a preflight it does not approve
        assert body.startswith(b"Disallowed CORS")
        return
    if case.api == IX:
        assert body == b""
        return
    assert headers.get("content-type") == "application/json"
    document = json.loads(body)
    if case.api == CE:
        assert document == {"message": case.detail}
    else:
        assert document["api_error_code"] == document["error_code"] == case.detail
        assert document["http_status_code"] == status
        assert document["message"] and document["message"] == document["error_msg"]


@pytest.fixture(scope="module")
def corpus_sandbox(live_sandbox: LiveSandbox) -> LiveSandbox:
    live_sandbox.reset()
    return live_sandbox


def test_the_corpus_is_large_and_covers_every_api() -> None:
    assert len(CORPUS) >= 60
    assert {case.api for case in CORPUS} == {CE, IX, CB}
    assert all(sum(case.api == api for case in CORPUS) >= 20 for api in (CE, IX, CB))
    assert len({case.id for case in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("case", CORPUS, ids=[case.id for case in CORPUS])
def test_hostile_request_gets_a_documented_4xx_and_changes_nothing(
    corpus_sandbox: LiveSandbox, case: Hostile
) -> None:
    before = snapshot(corpus_sandbox.state)
    status, headers, body = send(corpus_sandbox, case)
    assert_documented(case, status, headers, body)
    assert snapshot(corpus_sandbox.state) == before
    assert corpus_sandbox.process.poll() is None


@pytest.fixture
def drifted(corpus_sandbox: LiveSandbox) -> LiveSandbox:
    """Bola has paid invoice 100127: a reset, or a PUT of the unpaid invoice, would show."""
    corpus_sandbox.reset()
    assert send(corpus_sandbox, ce("good pay", GOOD_PAY, 200))[0] == 200
    return corpus_sandbox


def test_the_admin_corpus_covers_origins_preflights_records_and_reset() -> None:
    assert len(ADMIN_CORPUS) >= 40
    assert len({case.id for case in ADMIN_CORPUS}) == len(ADMIN_CORPUS)
    assert sum(case.status == 403 for case in ADMIN_CORPUS) >= 10


@pytest.mark.parametrize("case", ADMIN_CORPUS, ids=[case.id for case in ADMIN_CORPUS])
def test_hostile_admin_request_gets_a_4xx_and_changes_nothing(
    drifted: LiveSandbox, case: Hostile
) -> None:
    before = snapshot(drifted.state)
    status, headers, body = send(drifted, case)
    assert_documented(case, status, headers, body)
    assert snapshot(drifted.state) == before
    assert drifted.process.poll() is None


def test_after_the_corpus_every_api_still_serves_good_requests(corpus_sandbox: LiveSandbox) -> None:
    corpus_sandbox.reset()
    for case in CORPUS + ADMIN_CORPUS:  # once more, back to back, without resetting in between
        send(corpus_sandbox, case)
    good = [
        ce("good pay", GOOD_PAY, 200),
        ix("good payment", GOOD_IX, 200),
        cb("good application", GOOD_CB, status=200),
    ]
    assert [send(corpus_sandbox, case)[0] for case in good] == [200, 200, 200]
    assert "Traceback" not in corpus_sandbox.log_text()


PARSER_REJECTS = [
    ("raw 0xFF in the target", b"POST /documents/\xff/partial_payments.json HTTP/1.1\r\n"),
    ("raw NUL in a header", b"POST " + PAY.encode() + b" HTTP/1.1\r\nX-A: a\x00b\r\n"),
    (
        "Content-Length not a number",
        b"POST " + PAY.encode() + b" HTTP/1.1\r\nContent-Length: x\r\n",
    ),
    (
        "request line over 64 KiB",
        b"GET " + VALIDATE.encode() + b"?x=" + b"a" * 70_000 + b" HTTP/1.1\r\n",
    ),
    ("an unknown method", b"BREW " + PAY.encode() + b" HTTP/1.1\r\n"),
]


@pytest.mark.parametrize(("name", "start"), PARSER_REJECTS, ids=[p[0] for p in PARSER_REJECTS])
def test_requests_the_http_parser_rejects_get_a_plain_400_and_change_nothing(
    corpus_sandbox: LiveSandbox, name: str, start: bytes
) -> None:
    corpus_sandbox.reset()
    before = snapshot(corpus_sandbox.state)
    head = start + b"Host: 127.0.0.1\r\nAuthorization: Bearer sandbox-token-rich\r\n"
    head += b"Content-Type: application/json\r\n\r\n"
    status, headers, body = _exchange(corpus_sandbox, head, iter([GOOD_PAY]))
    assert (status, body) == (400, b"Invalid HTTP request received.")
    assert headers["content-type"].startswith("text/plain")
    assert snapshot(corpus_sandbox.state) == before
    good = ce("good pay", GOOD_PAY, 200)
    assert send(corpus_sandbox, good)[0] == 200
