"""The screenshots in docs/screenshots/, taken from a finished demo by the same headless Chromium as the UI test.

Runs only when THUNDERLINE_DEMO_HOME names the home of a finished ``make demo`` (a demo takes minutes;
``make docs-screenshots`` runs it and then this test). It serves that instance with dagster-webserver
and the demo's MLflow store with ``mlflow ui``, renders the global asset graph, a ``decision_traces``
partition and the MLflow model registry, checks what each page shows, and writes the PNGs to
docs/screenshots/.
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
from test_dagster_ui import REPO, free_port, graphql, render, require_chromium, stop, wait_until_loaded

DOCS = REPO / "docs" / "screenshots"


@pytest.fixture(scope="module")
def demo_home() -> Path:
    given = os.environ.get("THUNDERLINE_DEMO_HOME")
    if not given:
        pytest.skip("THUNDERLINE_DEMO_HOME is not set: run `make docs-screenshots` to refresh docs/screenshots/")
    require_chromium()
    home = Path(given).resolve()
    assert (home / "dagster").is_dir() and (home / "mlflow.db").is_file(), f"{home} is not a finished demo home"
    return home


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THUNDERLINE_", "MLFLOW_", "DAGSTER_"))}
    env.update(THUNDERLINE_HOME=str(home), DAGSTER_HOME=str(home / "dagster"))
    return env


@pytest.fixture(scope="module")
def dagster_ui(demo_home, tmp_path_factory):
    port = free_port()
    log_path = tmp_path_factory.mktemp("webserver") / "webserver.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(Path(sys.executable).with_name("dagster-webserver")), "-h", "127.0.0.1", "-p",
                                 str(port), "-w", "workspace.yaml"], cwd=REPO, env=_env(demo_home), stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        yield base, wait_until_loaded(base, proc, log_path)
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def mlflow_ui(demo_home, tmp_path_factory):
    port = free_port()
    log_path = tmp_path_factory.mktemp("mlflow") / "mlflow.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(Path(sys.executable).with_name("mlflow")), "ui", "--backend-store-uri",
                                 f"sqlite:///{demo_home / 'mlflow.db'}", "--host", "127.0.0.1", "--port", str(port)],
                                cwd=REPO, env=_env(demo_home), stdout=log, stderr=subprocess.STDOUT,
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


def test_screenshots_for_the_docs(dagster_ui, mlflow_ui, tmp_path):
    base, location = dagster_ui
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
