"""The live page in headless Chromium: it loads offline, the numbers change after ticks are posted, a screenshot is saved.

Chromium is Debian's ``chromium`` package (``.ci/run`` installs it); without it the test skips and
says so. The browser is driven over the DevTools protocol on a pipe (no extra package), talks
only to the server on 127.0.0.1, and is closed by the test. The screenshot goes to the
test's tmp dir and, when ``THUNDERLINE_ARTIFACTS`` is set, is copied there as ``dashboard.png``.
"""

from __future__ import annotations

import base64
import fcntl
import itertools
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from ingress.ticks import JSONL, jsonl, rows_of, ticks

from .seeding import seed_pipeline

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (Debian: apt-get install -y chromium)")


class Cdp:
    """A minimal DevTools-protocol client over Chromium's ``--remote-debugging-pipe`` (fds 3 and 4).

    No websocket library: commands are NUL-terminated JSON written to the browser's fd 3, replies
    and events come back on its fd 4. One page is created and attached (flat sessions).
    """

    def __init__(self, write_fd: int, read_fd: int) -> None:
        self.w, self.r = write_fd, read_fd
        self.ids = itertools.count(1)
        self.buf = b""
        self.session = None
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]

    def _next(self, timeout: float = 60.0) -> dict:
        while b"\0" not in self.buf:
            ready, _, _ = select.select([self.r], [], [], timeout)
            if not ready:
                raise TimeoutError("no reply from Chromium")
            chunk = os.read(self.r, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed its DevTools pipe")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method: str, **params):
        i = next(self.ids)
        msg = {"id": i, "method": method, "params": params}
        if self.session:
            msg["sessionId"] = self.session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._next()
            if reply.get("id") == i:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def eval(self, expr: str):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True)
        return r.get("result", {}).get("value")


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
    to_browser_r, to_browser_w = os.pipe()
    from_browser_r, from_browser_w = os.pipe()

    def fds_3_and_4():  # Chromium reads commands on fd 3 and writes replies on fd 4
        a = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)  # out of the way first: the pipes may be 3 or 4
        b = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
        os.dup2(a, 3)
        os.dup2(b, 4)

    proc = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
         "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'chromium-profile'}", "--remote-debugging-pipe",
         "--window-size=1280,1000", "about:blank"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        pass_fds=(3, 4), preexec_fn=fds_3_and_4)
    os.close(to_browser_r)
    os.close(from_browser_w)
    try:
        yield Cdp(to_browser_w, from_browser_r)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        os.close(to_browser_w)
        os.close(from_browser_r)


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
