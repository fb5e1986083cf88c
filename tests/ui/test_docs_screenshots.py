"""The screenshots in docs/screenshots/, taken from a finished demo by the same headless Chromium as the UI test.

Runs only when THUNDERLINE_DOCS_SCREENSHOTS=1 (``make docs-screenshots``): it writes into the repository.
It reads the session's demo (``tests/demo_support.py``: a fresh ``thunderline demo`` in a temporary home,
or the finished home named by THUNDERLINE_DEMO_HOME), serves its instance with dagster-webserver and its
MLflow store with ``mlflow ui``, renders the global asset graph, a ``decision_traces`` partition and the
MLflow model registry, checks what each page shows, and writes the PNGs to docs/screenshots/ (also the
``learning`` group's graph).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from test_dagster_ui import CHROMIUM, GROUP_PAGE, REPO, free_port, graphql, render, stop, ui_env, webserver  # noqa: F401 (fixture)

DOCS = REPO / "docs" / "screenshots"


@pytest.fixture(scope="module", autouse=True)
def wanted():
    if os.environ.get("THUNDERLINE_DOCS_SCREENSHOTS") != "1":
        pytest.skip("writes docs/screenshots/: run `make docs-screenshots` (THUNDERLINE_DOCS_SCREENSHOTS=1)")


@pytest.fixture(scope="module")
def mlflow_ui(demo_home, tmp_path_factory):
    """``mlflow ui`` over the demo's tracking store: its base URL."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("mlflow") / "mlflow.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(Path(sys.executable).with_name("mlflow")), "ui", "--backend-store-uri",
                                 f"sqlite:///{demo_home / 'mlflow.db'}", "--host", "127.0.0.1", "--port", str(port)],
                                cwd=REPO, env=ui_env(demo_home), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"mlflow ui exited: {log_path.read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        else:
            pytest.fail("mlflow ui not ready within 120 s")
        yield base
    finally:
        stop(proc)


def test_screenshots_for_the_docs(webserver, mlflow_ui, tmp_path):  # noqa: F811 (the imported fixture)
    base, location = webserver
    DOCS.mkdir(parents=True, exist_ok=True)
    graph = render(f"{base}/asset-groups", DOCS / "dagster_asset_graph.png", tmp_path / "p1")
    for group in ("market", "edgar", "decisions", "observability", "learning"):  # the global graph: one box each
        assert group in graph, f"group {group!r} not in the global asset graph"
    learning = render(f"{base}/{GROUP_PAGE.format(location=location, group='learning')}",
                      DOCS / "dagster_learning_graph.png", tmp_path / "p4")
    for text in ("labels", "pnl", "training_sl", "promotion"):
        assert text in learning, f"{text!r} not rendered in the learning asset graph"

    parts = graphql(base, '{ assetNodeOrError(assetKey: {path: ["decision_traces"]}) { ... on AssetNode { '
                          'assetMaterializations(limit: 1) { partition } } } }')
    (latest,) = parts["assetNodeOrError"]["assetMaterializations"]
    key = latest["partition"]
    page = render(f"{base}/assets/decision_traces?view=partitions&partition={quote(key)}",
                  DOCS / "dagster_decision_traces_partition.png", tmp_path / "p2")
    assert key.split("|")[1] in page

    registry = asyncio.run(render_dismissing(f"{mlflow_ui}/#/models", DOCS / "mlflow_registry.png",
                                             tmp_path / "p3", ready="thunderline.expert.", js=DISMISS_MLFLOW))
    assert "thunderline.expert." in registry and "champion" in registry


#: MLflow 3.17 opens its registry page under a "new Model Registry UI" announcement and an assistant panel: take
#: the new UI (it shows the aliases) and close both, as a person would before looking
DISMISS_MLFLOW = ("Array.from(document.querySelectorAll('button')).filter(b => b.innerText.trim() === 'Try it now' "
                  "|| b.getAttribute('aria-label') === 'Close').forEach(b => b.click())")


async def render_dismissing(url: str, shot: Path, profile: Path, *, ready: str, js: str, bound_s: float = 120) -> str:
    """Chromium over its DevTools protocol: load ``url``, wait until the page's text contains ``ready``, run ``js``
    (close what covers the page), then save a screenshot; returns the page's text. Every wait is bounded."""
    import websockets

    port = free_port()
    proc = subprocess.Popen([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                             "--disable-dev-shm-usage", f"--remote-debugging-port={port}", f"--user-data-dir={profile}",
                             "--window-size=1400,900", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + bound_s
    try:
        page = await _devtools_page(port, deadline)
        async with websockets.connect(page, max_size=64 << 20, open_timeout=30) as ws:
            counter = iter(range(1, 1 << 30))

            async def call(method: str, **params) -> dict:
                n = next(counter)
                await ws.send(json.dumps({"id": n, "method": method, "params": params}))
                while True:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), max(1.0, deadline - time.monotonic())))
                    if msg.get("id") == n:
                        return msg.get("result", {})

            async def text() -> str:
                r = await call("Runtime.evaluate", expression="document.body.innerText", returnByValue=True)
                return r.get("result", {}).get("value", "")

            await call("Page.navigate", url=url)
            while ready not in await text():
                assert time.monotonic() < deadline, f"{url}: {ready!r} not on the page within {bound_s} s"
                await asyncio.sleep(2)
            await asyncio.sleep(2)  # late dialogs
            await call("Runtime.evaluate", expression=js)
            await asyncio.sleep(2)
            shot.write_bytes(base64.b64decode((await call("Page.captureScreenshot", format="png"))["data"]))
            return await text()
    finally:
        stop(proc)


async def _devtools_page(port: int, deadline: float) -> str:
    """The DevTools websocket URL of the browser's page, once it answers."""
    while True:
        try:
            targets = httpx.get(f"http://127.0.0.1:{port}/json", timeout=2).json()
            return next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        except (httpx.HTTPError, StopIteration, ValueError):
            assert time.monotonic() < deadline, "Chromium's DevTools endpoint did not answer"
            await asyncio.sleep(0.5)
