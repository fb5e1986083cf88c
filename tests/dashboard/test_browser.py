"""The live page in headless Chromium: it loads offline, the numbers change after ticks are posted, a screenshot is saved.

Chromium is Debian's ``chromium`` package (``.ci/run`` installs it); without it the test skips and
says so. The browser is driven over the DevTools protocol (``websockets``, already installed),
talks only to the server on 127.0.0.1, and is closed by the test. The screenshot goes to the
test's tmp dir and, when ``THUNDERLINE_ARTIFACTS`` is set, is copied there as ``dashboard.png``.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from ingress.ticks import JSONL, jsonl, rows_of, ticks
from .seeding import seed_pipeline

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (Debian: apt-get install -y chromium)")


class Cdp:
    """A minimal DevTools-protocol client over one page's websocket."""

    def __init__(self, ws_url: str) -> None:
        from websockets.sync.client import connect

        self._conn = connect(ws_url, max_size=None, open_timeout=30)
        self.ws = self._conn.__enter__()
        self.ids = itertools.count(1)

    def call(self, method: str, **params):
        i = next(self.ids)
        self.ws.send(json.dumps({"id": i, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=60))
            if msg.get("id") == i:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def eval(self, expr: str):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True)
        return r.get("result", {}).get("value")

    def close(self) -> None:
        self._conn.__exit__(None, None, None)


def wait_for(fn, what: str, tries: int = 400, pause: float = 0.1):
    """Poll ``fn`` until truthy (bounded: tries × pause); fail naming ``what``."""
    for _ in range(tries):
        v = fn()
        if v:
            return v
        time.sleep(pause)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def chromium(tmp_path):
    profile = tmp_path / "chromium-profile"
    proc = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
         "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--remote-debugging-address=127.0.0.1",
         "--remote-debugging-port=0", "--window-size=1280,1000", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        wait_for(lambda: port_file.exists() and port_file.read_text().strip(), "Chromium's DevTools port")
        port = int(port_file.read_text().split()[0])
        pages = wait_for(lambda: [t for t in httpx.get(f"http://127.0.0.1:{port}/json/list").json()
                                  if t["type"] == "page"], "a page target")
        cdp = Cdp(pages[0]["webSocketDebuggerUrl"])
        yield cdp
        cdp.close()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def metric(cdp: Cdp, name: str) -> str:
    return cdp.eval(f"(document.querySelector('[data-metric=\"{name}\"]') || {{}}).textContent") or ""


def test_dashboard_updates_live_after_ticks_are_posted(api_factory, chromium, tmp_path):
    api = api_factory(dashboard_interval_s=0.2)
    cdp = chromium
    cdp.call("Page.enable")
    cdp.call("Page.navigate", url=f"{api.url}/dashboard?interval=0.2#key={api.keys['acme']}")
    wait_for(lambda: int(cdp.eval("Number(document.body.dataset.events || 0)") or 0) >= 1, "the first snapshot")
    assert metric(cdp, "ingress.ticks_accepted") == "0"
    assert metric(cdp, "router.entropy") == "—"
    assert cdp.eval("location.hash") == ""  # the key is taken out of the address bar

    r = api.client.post("/v1/ticks", content=jsonl(rows_of(ticks(1000))),
                        headers={**api.auth("acme"), "Content-Type": JSONL})
    assert r.status_code == 202
    seed_pipeline(api.warehouse, "acme", entropy=1.234, step=3)
    seed_pipeline(api.warehouse, "beta", entropy=9.999, step=5)  # another tenant's numbers never show

    wait_for(lambda: metric(cdp, "ingress.ticks_accepted") == "1,000", "ticks accepted to reach 1,000")
    wait_for(lambda: metric(cdp, "router.entropy") == "1.234", "router entropy to appear")
    assert metric(cdp, "backpressure.step") == "3"
    assert metric(cdp, "router.capacity_utilization") == "80.0 %"
    assert cdp.eval("document.querySelectorAll('#drift rect').length") == 3
    assert cdp.eval("document.querySelectorAll('#pnl rect').length") == 2
    assert cdp.eval("document.getElementById('tenant').textContent") == "tenant acme"
    assert "9.999" not in cdp.eval("document.body.innerText")

    shot = base64.b64decode(cdp.call("Page.captureScreenshot", format="png")["data"])
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 10_000
    out = tmp_path / "dashboard.png"
    out.write_bytes(shot)
    if os.environ.get("THUNDERLINE_ARTIFACTS"):
        dest = Path(os.environ["THUNDERLINE_ARTIFACTS"])
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(out, dest / "dashboard.png")
