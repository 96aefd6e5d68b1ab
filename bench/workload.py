"""What the load generator sends: request lists built from the workspace's own bulk data.

Every request in a list is a 200 on a fresh sandbox:

- `validate`: a `type=confirm` validation (read-only) of an unpaid bulk invoice by its owner, with
  the exact amount and the currency's ObjectId and first processor. Repeating one is harmless.
- `pay`: a full wallet pay of an unpaid bulk invoice by its owner. A pay can succeed only once, so
  the list holds each invoice once and, per (owner, currency), never more than the wallet holds.
- `resource create` and `resource read`: `POST /pets` and `GET /pets/{id}` of the pet store in
  `tests/resource_workspace/`, a spec with no handler: an inferred resource. The reads run on the
  state the creates left, one per stored pet.

The seeded bulk data has a few hundred payable invoices: seconds of load. So the pay scenarios run
on a state file built here: the workspace's records exactly as `mockyard fixtures` prints them,
plus `copies` replicas of every payable bulk invoice (new numbers from `COPY_BASE`), each owner's
wallet raised by what its replicas cost. The server is the unchanged `mockyard serve --state FILE`
of the real workspace; only the number of invoices in the state differs.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

API = "cargoextra"
VALIDATE = "/api/v1/billing/invoice/validate"
PAY = "/api/v1/billing/invoice/pay"
BULK_FIRST = 200001  # the generated invoices; the catalogue's are 100123…
COPY_BASE = 10_000_000  # replica k of bulk invoice n is COPY_BASE * k + n


@dataclass(frozen=True)
class Request:
    """One line of a wrk request list."""

    method: str
    path: str
    token: str
    body: str = ""

    def line(self) -> str:
        return f"{self.method}\t{self.path}\t{self.token}\t{self.body}"


def load_records(root: Path, seed: int | None = None) -> dict[str, Any]:
    """The workspace's records (catalogue + bulk), as `mockyard fixtures` prints them."""
    cmd = [sys.executable, "-m", "mockyard.cli", "fixtures", "--workspace", str(root)]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120).stdout
    return json.loads(out)


def _owners(records: Mapping[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Account id -> (token, account)."""
    return {acc["id"]: (token, acc) for token, acc in records["accounts"].items()}


def _unpaid_bulk(records: Mapping[str, Any]) -> list[dict[str, Any]]:
    invoices = (inv for inv in records["invoices"].values() if inv["invoiceNo"] >= BULK_FIRST)
    return sorted(
        (inv for inv in invoices if inv["status"] == "unpaid" and not inv.get("downstreamFails")),
        key=lambda inv: inv["invoiceNo"],
    )


def _money(value: Any) -> Decimal:
    return Decimal(str(value))


def payable_invoices(records: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(owner's token, invoice) for unpaid bulk invoices that can all be paid from the wallets.

    Per (owner, currency), the smallest invoices first while the wallet still covers them, so the
    chosen ones can be paid in any order and every pay succeeds. Sorted by invoice number.
    """
    owners = _owners(records)
    by_wallet: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for inv in _unpaid_bulk(records):
        by_wallet[(inv["owner"], inv["currency"])].append(inv)
    chosen = []
    for (owner, currency), invoices in by_wallet.items():
        token, account = owners[owner]
        balance = account.get("wallets", {}).get(currency)
        if balance is None:
            continue
        left = _money(balance)
        for inv in sorted(invoices, key=lambda i: (_money(i["total"]), i["invoiceNo"])):
            total = _money(inv["total"])
            if total <= 0 or total > left:
                break
            left -= total
            chosen.append((token, inv))
    return sorted(chosen, key=lambda pair: pair[1]["invoiceNo"])


def validate_requests(records: Mapping[str, Any]) -> list[Request]:
    """A read-only `type=confirm` validation per unpaid bulk invoice whose owner has an address."""
    owners = _owners(records)
    out = []
    for inv in _unpaid_bulk(records):
        token, account = owners[inv["owner"]]
        if not account.get("billingAddress"):
            continue  # 400 "You must set a billing address"
        currency = records["currencies"][inv["currency"]]
        query = {
            "invoiceNo": inv["invoiceNo"],
            "amount": inv["total"],
            "currencyPaid": currency["id"],
            "type": "confirm",
            "processor": currency["processors"][0],
            "partPaymentFromWalletBalanceBefore": 0,
            "partPaymentFromWalletBalanceCurrent": 0,
        }
        out.append(Request("GET", f"{VALIDATE}?{urlencode(query)}", token))
    return out


def scale_for_pay(
    records: Mapping[str, Any], copies: int
) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    """Records with `copies` replicas of every payable bulk invoice, wallets raised to match.

    Returns (records, payable): `payable` lists the originals, then replica 1 of each, and so on,
    so consecutive pays go to different invoices of different owners.
    """
    base = payable_invoices(records)
    scaled = json.loads(json.dumps(records))  # a deep copy; the input stays as seeded
    cost: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for token, inv in base:
        cost[(token, inv["currency"])] += _money(inv["total"])
    for (token, currency), amount in cost.items():
        wallets = scaled["accounts"][token]["wallets"]
        wallets[currency] = _number(_money(wallets[currency]) + amount * copies)
    payable = list(base)
    for k in range(1, copies + 1):
        for token, inv in base:
            replica = {**inv, "invoiceNo": COPY_BASE * k + inv["invoiceNo"]}
            scaled["invoices"][str(replica["invoiceNo"])] = replica
            payable.append((token, replica))
    return scaled, payable


def pay_requests(payable: Iterable[tuple[str, Mapping[str, Any]]]) -> list[Request]:
    """A full wallet pay (no part-payment) per invoice."""
    return [
        Request(
            "POST",
            PAY,
            token,
            json.dumps({"invoice": inv["invoiceNo"], "currency": inv["currency"]}),
        )
        for token, inv in payable
    ]


PETS = "/pets"
RESOURCE_API = "petstore"


def create_requests(count: int) -> list[Request]:
    """`count` distinct pets to create (a list may be walked again: each walk creates more)."""
    return [
        Request("POST", PETS, "none", json.dumps({"name": f"bench pet {n}", "tag": "bench"}))
        for n in range(count)
    ]


def read_requests(ids: Iterable[str]) -> list[Request]:
    return [Request("GET", f"{PETS}/{key}", "none") for key in ids]


def stored_keys(state: Path, api: str = RESOURCE_API, collection: str = "pets") -> list[str]:
    """The keys of one collection's records in a state file."""
    conn = sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=30)
    try:
        sql = "SELECT key FROM docs WHERE api = ? AND coll = ? ORDER BY key"
        return [row[0] for row in conn.execute(sql, (api, collection))]
    finally:
        conn.close()


def write_requests(path: Path, requests: Iterable[Request]) -> int:
    """Write a request list for `bench/wrk/walk.lua`; returns how many lines."""
    lines = [r.line() for r in requests]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


def write_state(path: Path | str, records: Mapping[str, Any], seed: int) -> None:
    """Write a sandbox state (a file, or a PostgreSQL URL) holding exactly `records`, with the
    engine's own store."""
    from mockyard.store import open_store  # the harness imports the engine only where it must

    store = open_store(str(path))
    try:
        store.replace_all({API: records}, seed=seed)
    finally:
        store.close()


def paid_count(state: Path | str) -> int:
    """How many invoices a state (a file, or a PostgreSQL URL) holds as paid."""
    if str(state).startswith("postgresql://"):
        import psycopg

        sql = (
            "SELECT COUNT(*) FROM mockyard_docs WHERE api = %s AND coll = 'invoices' "
            "AND body::jsonb->>'status' = 'paid'"
        )
        with psycopg.connect(str(state)) as pg:
            return int(pg.execute(sql, (API,)).fetchone()[0])
    conn = sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=30)
    try:
        sql = (
            "SELECT COUNT(*) FROM docs WHERE api = ? AND coll = 'invoices' "
            "AND json_extract(body, '$.status') = 'paid'"
        )
        return int(conn.execute(sql, (API,)).fetchone()[0])
    finally:
        conn.close()


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)
