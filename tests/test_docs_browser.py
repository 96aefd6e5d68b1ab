"""The docs UI out of the box, in a real browser: `/` leads to it, each API has its own tag, the
Authorize dialog names the sandbox credentials (filled in already), and Try it out with the
catalogue's own defaults succeeds for every operation of every API.

Headless Debian `chromium` (installed as `test_browser` does) is driven over the Chrome DevTools
Protocol: the test clicks Swagger UI's own buttons (expand, Try it out, Execute) and reads the
answer it shows. Everything is on 127.0.0.1.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import LiveSandbox
from test_browser import chromium  # noqa: F401  (the fixture: Debian chromium, installed if missing)
from websockets.sync.client import ClientConnection, connect
from workspaces import served, spec, write_workspace

from mockyard.specs import METHODS

pytestmark = pytest.mark.slow  # the fast tier (make test-fast) leaves this module out

OPERATIONS = [  # in the order a user would try them: the part-payment before the pay
    ("cargoextra", "validate-invoice-payment"),
    ("cargoextra", "prepare-invoice-part-payment-from-wallet"),
    ("cargoextra", "pay-invoice-from-wallet"),
    ("invoicexpress", "generate-payment"),
    ("invoicexpress", "get-invoice"),
    ("invoicexpress", "get-simplified-invoice"),
    ("invoicexpress", "get-receipt"),
    ("chargebee", "apply-payments"),
    ("chargebee", "retrieve-invoice"),
    ("chargebee", "retrieve-customer"),
    ("chargebee", "retrieve-transaction"),
    ("chargebee", "list-transactions"),
]

# Expand the operation, press Try it out and Execute, wait for the answer Swagger UI shows.
TRY_IT_OUT = """
(async (id) => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const wait = async (what, find) => {
    for (let i = 0; i < 400; i++) {
      const found = find();
      if (found) return found;
      await sleep(50);
    }
    throw new Error("timed out waiting for " + what);
  };
  const block = await wait("the operation " + id, () => document.getElementById(id));
  if (!block.classList.contains("is-open")) block.querySelector(".opblock-summary-control").click();
  (await wait("Try it out", () => block.querySelector(".try-out__btn"))).click();
  (await wait("Execute", () => block.querySelector(".execute"))).click();
  const status = await wait("the answer", () =>
    block.querySelector(".live-responses-table .response .response-col_status"));
  const body = block.querySelector(".live-responses-table .response-col_description pre");
  return {status: Number(status.textContent.trim()), body: body ? body.textContent : ""};
})
"""


class Browser:
    """One headless chromium page, driven over the DevTools Protocol."""

    def __init__(self, executable: str, profile: Path) -> None:
        cmd = [
            executable,
            *("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"),
            *("--disable-background-networking", "--disable-component-update", "--disable-sync"),
            *("--disable-dev-shm-usage", "--remote-debugging-address=127.0.0.1"),
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "about:blank",
        ]
        self.process = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        self.ids = itertools.count(1)
        self.page_url = self._page_url(profile / "DevToolsActivePort")
        self.socket: ClientConnection | None = None  # set while `open`

    def _page_url(self, port_file: Path) -> str:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            lines = port_file.read_text().split() if port_file.exists() else []
            if lines:
                pages = httpx.get(f"http://127.0.0.1:{lines[0]}/json/list", timeout=10).json()
                page = next((p for p in pages if p["type"] == "page"), None)
                if page is not None:
                    return str(page["webSocketDebuggerUrl"])
            time.sleep(0.1)
        raise RuntimeError("chromium opened no DevTools page within 60 s")

    @contextmanager
    def open(self) -> Iterator[Browser]:
        with connect(self.page_url, max_size=None) as socket:
            self.socket = socket
            yield self

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        assert self.socket is not None, "Browser.open() first"
        n = next(self.ids)
        self.socket.send(json.dumps({"id": n, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=60))
            if message.get("id") == n:
                if "error" in message:
                    raise RuntimeError(message["error"])
                return message["result"]  # type: ignore[no-any-return]

    def run(self, script: str) -> Any:
        result = self.call(
            "Runtime.evaluate", expression=script, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in result:
            raise AssertionError(result["exceptionDetails"].get("exception", {}).get("description"))
        return result["result"].get("value")

    def wait_for(self, script: str, timeout: float = 30) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.run(script)
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"never true in the page: {script}")

    def close(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


@pytest.fixture
def browser(chromium: str, tmp_path: Path) -> Iterator[Browser]:  # noqa: F811
    page = Browser(chromium, tmp_path / "profile")
    try:
        with page.open():
            yield page
    finally:
        page.close()


def test_the_root_leads_to_the_docs(sandbox: LiveSandbox) -> None:
    response = httpx.get(f"{sandbox.url}/", timeout=30)
    assert response.status_code == 307 and response.headers["location"].endswith("/ui/")


def test_try_it_out_with_the_defaults_succeeds_for_every_operation(
    browser: Browser, sandbox: LiveSandbox
) -> None:
    browser.call("Page.navigate", url=f"{sandbox.url}/")
    served = httpx.get(f"{sandbox.url}/openapi.json", timeout=30).json()["paths"]
    count = sum(1 for item in served.values() for key in item if key in METHODS)
    assert count == len(OPERATIONS)  # every operation is tried
    browser.wait_for(f"document.querySelectorAll('.opblock').length === {count}")
    assert browser.run("location.pathname") == "/ui/"
    tags = browser.run("[...document.querySelectorAll('.opblock-tag')].map(t => t.dataset.tag)")
    assert tags == ["cargoextra", "invoicexpress", "chargebee"]

    answers = {}
    for api, operation in OPERATIONS:
        answer = browser.run(f"{TRY_IT_OUT}({json.dumps(f'operations-{api}-{operation}')})")
        answers[operation] = (answer["status"], json.loads(answer["body"]))
    assert {op: status for op, (status, _) in answers.items()} == {op: 200 for _, op in OPERATIONS}

    # what each click did, as the APIs' own records show it
    assert answers["pay-invoice-from-wallet"][1]["message"] == "Invoice payment successful"
    assert sandbox.record("cargoextra", "invoices", 100123)["status"] == "paid"
    assert answers["generate-payment"][1]["receipt"]["total"] == 100
    assert sandbox.record("invoicexpress", "documents", 1)["paid"] == 100
    invoice = answers["apply-payments"][1]["invoice"]
    assert (invoice["id"], invoice["amount_due"]) == ("inv_sandbox_1", 6000)
    assert sandbox.record("chargebee", "transactions", "txn_sandbox_1b")["amount_unused"] == 6000


def test_the_authorize_dialog_names_the_sandbox_credentials(
    browser: Browser, sandbox: LiveSandbox
) -> None:
    browser.call("Page.navigate", url=f"{sandbox.url}/ui/")
    browser.wait_for("!!document.querySelector('.btn.authorize')")
    browser.run("document.querySelector('.btn.authorize').click()")
    text = browser.wait_for("document.querySelector('.modal-ux-content')?.innerText")
    for credential in ("sandbox-token", "sandbox-token-limited", "sandbox-api-key"):
        assert f"{credential}:" in text
    assert "sandbox_api_key: site sandbox-test" in text
    assert text.count("Authorized") == 3  # every API's default credential is filled in


def test_an_api_with_a_root_path_keeps_it(tmp_path: Path) -> None:
    ok = {
        "200": {"description": "ok", "content": {"application/json": {"example": {"at": "root"}}}}
    }
    root = write_workspace(tmp_path / "ws", {"home.yaml": spec({"/": {"get": {"responses": ok}}})})
    with served(tmp_path, root) as client:
        assert client.get("/", follow_redirects=False).json() == {"at": "root"}
        assert client.get("/ui/").status_code == 200
