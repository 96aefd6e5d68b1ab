"""A crash never loses an acknowledged payment, and never leaves one half-applied.

The sandbox runs on a state file under a concurrent pay load and is killed with SIGKILL mid-load,
then restarted on the same file, several times over. After each restart every payment that was
acknowledged with 200 is there, and the wallet was debited exactly once per paid invoice.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import httpx
from conftest import snapshot, start_sandbox, wallet_workspace

PAY = "/api/v1/billing/invoice/pay"
WALLET = 1_000_000
INVOICES = {n: 1000 + n % 7 for n in range(400001, 400301)}  # distinct totals catch mix-ups
ROUNDS = 4


def ledger(state: Path) -> tuple[float, dict[int, dict]]:
    docs = snapshot(state)
    account = json.loads(docs[("cargoextra", "accounts", "sandbox-token")])
    invoices = {
        int(key): json.loads(body) for (api, coll, key), body in docs.items() if coll == "invoices"
    }
    return account["wallets"]["NGN"], invoices


def hammer(url: str, numbers: list[int], acked: list[int], stop: threading.Event) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": "Bearer sandbox-token"}) as client:
        for number in numbers:
            if stop.is_set():
                return
            try:
                response = client.post(PAY, json={"invoice": number, "currency": "NGN"}, timeout=10)
            except httpx.TransportError:
                return  # the server died under us: this pay was never acknowledged
            if response.status_code == 200:
                acked.append(number)


def test_sigkill_mid_load_loses_no_acknowledged_payment(tmp_path: Path) -> None:
    workspace = wallet_workspace(tmp_path / "ws", INVOICES, wallet=WALLET)
    state = tmp_path / "state.sqlite3"
    acknowledged: list[int] = []
    remaining = sorted(INVOICES)
    for _ in range(ROUNDS):
        sandbox = start_sandbox(state, workspace=workspace)
        acked: list[int] = []
        stop = threading.Event()
        lanes = [remaining[i::6] for i in range(6)]
        threads = [
            threading.Thread(target=hammer, args=(sandbox.url, lane, acked, stop)) for lane in lanes
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 20
        while len(acked) < 15 and time.monotonic() < deadline:
            time.sleep(0.01)
        sandbox.stop(signal.SIGKILL)  # mid-load: requests are in flight
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        assert acked, "no payment was acknowledged before the kill"
        acknowledged += acked

        wallet, invoices = ledger(state)
        paid = {n for n, inv in invoices.items() if inv["status"] == "paid"}
        assert set(acknowledged) <= paid  # nothing acknowledged was lost
        assert wallet == WALLET - sum(INVOICES[n] for n in paid)  # each paid once, none half-paid
        assert all(invoices[n]["paidFromWallet"] == INVOICES[n] for n in paid)
        remaining = [n for n in remaining if n not in paid]

    restarted = start_sandbox(state, workspace=workspace)
    try:
        with restarted.client() as client:
            again = client.post(PAY, json={"invoice": acknowledged[0], "currency": "NGN"})
    finally:
        restarted.stop()
    assert again.json() == {"message": "Invoice already paid"}
