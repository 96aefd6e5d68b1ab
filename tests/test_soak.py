"""Soak: a bounded 60-second mixed load leaves no 5xx and no memory growth.

Six client threads mix validations, part-payments, pays, malformed requests and resets against one
sandbox for 60 s (10 s warm-up, then 50 s measured). The server's resident memory at the end must be
within 10% of its level after warm-up.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
from conftest import ROOT, start_sandbox

from mockyard import fixtures, workspace

WARM_UP, MEASURED = 10.0, 50.0
VALIDATE = "/api/v1/billing/invoice/validate"
PART = "/api/v1/billing/invoice/part-process"
PAY = "/api/v1/billing/invoice/pay"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def mixed_load(url: str, records: dict, seed: int, until: float, statuses: Counter) -> None:
    rng = random.Random(seed)
    owners = {a["id"]: token for token, a in records["accounts"].items()}
    invoices = [i for i in records["invoices"].values() if i["invoiceNo"] >= 200000]
    with httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(100_000):  # bounded in count as well as in time
            if time.monotonic() >= until:
                return
            invoice = rng.choice(invoices)
            auth = {"Authorization": f"Bearer {owners[invoice['owner']]}"}
            currency = records["currencies"][invoice["currency"]]
            roll = rng.random()
            if roll < 0.4:
                response = client.get(
                    VALIDATE,
                    headers=auth,
                    params={
                        "invoiceNo": invoice["invoiceNo"],
                        "amount": invoice["total"],
                        "currencyPaid": currency["id"],
                        "type": rng.choice(["start", "confirm"]),
                        "processor": currency["processors"][0],
                        "partPaymentFromWalletBalanceBefore": 0,
                        "partPaymentFromWalletBalanceCurrent": 0,
                    },
                )
            elif roll < 0.6:
                response = client.post(
                    PART,
                    headers=auth,
                    json={"invoice": invoice["invoiceNo"], "currency": invoice["currency"]},
                )
            elif roll < 0.85:
                response = client.post(
                    PAY,
                    headers=auth,
                    json={"invoice": invoice["invoiceNo"], "currency": invoice["currency"]},
                )
            elif roll < 0.995:
                response = client.post(
                    PAY,
                    headers={**auth, "Content-Type": "application/json"},
                    content=rng.choice([b"{", b"[]", b'{"invoice": "x"}']),
                )
            else:
                response = client.post("/__mockyard/reset")
            statuses[response.status_code] += 1


def test_sixty_seconds_of_mixed_load(tmp_path: Path) -> None:
    ws = workspace.load(ROOT)
    records = fixtures.build(workspace.read_yaml(ws.api("cargoextra").fixtures), ws.seed)
    sandbox = start_sandbox(tmp_path / "state.sqlite3")
    statuses: Counter = Counter()
    try:
        start = time.monotonic()
        until = start + WARM_UP + MEASURED
        threads = [
            threading.Thread(target=mixed_load, args=(sandbox.url, records, n, until, statuses))
            for n in range(6)
        ]
        for thread in threads:
            thread.start()
        time.sleep(WARM_UP)
        warm = rss_kib(sandbox.process.pid)
        for thread in threads:
            thread.join(timeout=MEASURED + 60)
        end = rss_kib(sandbox.process.pid)
    finally:
        sandbox.stop()
    served = sum(statuses.values())
    print(f"soak: {served} requests {dict(statuses)}; RSS {warm} KiB -> {end} KiB")
    assert served > 1000
    assert not [s for s in statuses if s >= 500], statuses
    assert statuses[200] > served / 10
    assert end <= warm * 1.10, f"RSS grew from {warm} KiB to {end} KiB"
