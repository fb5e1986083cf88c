"""The screenshots in docs/screenshots/, taken from a finished demo by the same headless Chromium as the UI test.

Runs only when THUNDERLINE_DOCS_SCREENSHOTS=1 (``make docs-screenshots``): it writes into the repository.
It reads the session's demo (``tests/demo_support.py``: a fresh ``thunderline demo`` in a temporary home,
or the finished home named by THUNDERLINE_DEMO_HOME), serves its instance with dagster-webserver and its
MLflow store with ``mlflow ui``, renders the global asset graph, a ``decision_traces`` partition and the
MLflow model registry, checks what each page shows, and writes the PNGs to docs/screenshots/.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from test_dagster_ui import REPO, free_port, graphql, render, stop, ui_env, webserver  # noqa: F401 (fixture)

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
    base, _ = webserver
    DOCS.mkdir(parents=True, exist_ok=True)
    graph = render(f"{base}/asset-groups", DOCS / "dagster_asset_graph.png", tmp_path / "p1")
    assert "decision_traces" in graph

    parts = graphql(base, '{ assetNodeOrError(assetKey: {path: ["decision_traces"]}) { ... on AssetNode { '
                          'assetMaterializations(limit: 1) { partition } } } }')
    (latest,) = parts["assetNodeOrError"]["assetMaterializations"]
    key = latest["partition"]
    page = render(f"{base}/assets/decision_traces?view=partitions&partition={quote(key)}",
                  DOCS / "dagster_decision_traces_partition.png", tmp_path / "p2")
    assert key.split("|")[1] in page

    registry = render(f"{mlflow_ui}/#/models", DOCS / "mlflow_registry.png", tmp_path / "p3")
    assert "thunderline.expert." in registry
