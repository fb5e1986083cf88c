"""What a person sees in the Dagster UI, checked in headless Chromium against the demo's instance.

The session's ``thunderline demo`` (``tests/demo_support.py``, shared with the instance test) leaves
a THUNDERLINE_HOME behind; the venv's ``dagster-webserver`` serves that instance on a free loopback
port. Chromium loads the market group's asset graph, the ``raw_ticks`` asset page, the ``learning``
group's graph and the page of the learning loop's labels + pnl backfill (``--dump-dom`` after a
virtual-time budget, so React has rendered), and the tests assert that the assets, their latest
materialization (partition and run id) and the backfill's runs are on the pages; the webserver's
GraphQL endpoint is asked the same facts. Screenshots go to the test's tmp dir (and to
``$THUNDERLINE_ARTIFACTS`` when set).

Chromium is Debian's ``chromium`` package at /usr/bin/chromium: without it the test skips and
says so, except in CI (``CI=true``) where a missing browser is a failure. Every wait is bounded;
the webserver's process group is stopped at the end whatever happened.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from proc_support import kill_instance_processes
from xdist_support import free_port

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
STARTUP_S = 150  # loading the code location imports numba, mlflow, GX: slow on a busy 2-core machine
CHROMIUM_TIMEOUT_S = 90
GROUP_PAGE = "locations/{location}/asset-groups/{group}/lineage"
ASSET_PAGE = "assets/raw_ticks"


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    why = f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) to run the UI test"
    if os.environ.get("CI") == "true":
        pytest.fail(why)
    pytest.skip(why)


def ui_env(home: Path) -> dict[str, str]:
    """The environment that serves ``home`` (and nothing of the caller's THUNDERLINE_/MLFLOW_/DAGSTER_)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THUNDERLINE_", "MLFLOW_", "DAGSTER_"))}
    env.update(THUNDERLINE_HOME=str(home), DAGSTER_HOME=str(home / "dagster"))
    return env


@pytest.fixture(scope="module")
def webserver(demo_home, tmp_path_factory):
    """dagster-webserver over the demo's instance: (base URL, code location name)."""
    require_chromium()
    nux = demo_home / "dagster" / "dagster.yaml"  # no first-visit newsletter modal over the pages
    if "nux:" not in nux.read_text():
        nux.write_text(nux.read_text() + "nux:\n  enabled: false\n")
    port = free_port()
    log_path = tmp_path_factory.mktemp("webserver") / "webserver.log"
    exe = Path(sys.executable).with_name("dagster-webserver")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(exe), "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"], cwd=REPO,
                                env=ui_env(demo_home), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        location = wait_until_loaded(base, proc, log_path)
        yield base, location
    finally:
        stop(proc)
        if not os.environ.get("THUNDERLINE_DEMO_HOME"):  # a given home may be served by the user's own `make ui`
            kill_instance_processes(demo_home / "dagster")  # code servers outliving the group (proc_support)


def log_tail(path: Path, n: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-n:]) if path.exists() else "(no log)"


def graphql(base: str, query: str) -> dict:
    r = httpx.post(f"{base}/graphql", json={"query": query}, timeout=30)
    r.raise_for_status()
    body = r.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


def wait_until_loaded(base: str, proc: subprocess.Popen, log_path: Path) -> str:
    """Poll until the webserver answers and the code location is LOADED (bounded); return the location name."""
    deadline = time.monotonic() + STARTUP_S
    last = "no answer yet"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"dagster-webserver exited with {proc.returncode}:\n{log_tail(log_path)}")
        try:
            data = graphql(base, "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus "
                                 "locationOrLoadError { __typename ... on PythonError { message } } } } } }")
            entries = data["workspaceOrError"]["locationEntries"]
            errors = [e for e in entries if e["locationOrLoadError"]
                      and e["locationOrLoadError"]["__typename"] == "PythonError"]
            if errors:
                pytest.fail(f"code location failed to load: {errors[0]['locationOrLoadError']['message']}")
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                return entries[0]["name"]
            last = f"locations {[(e['name'], e['loadStatus']) for e in entries]}"
        except (httpx.HTTPError, ValueError) as exc:
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(1)
    pytest.fail(f"dagster-webserver not ready within {STARTUP_S}s ({last}):\n{log_tail(log_path)}")


def stop(proc: subprocess.Popen) -> None:
    """Stop the webserver and its code server (its own process group), politely first, bounded."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    try:  # the code server is a child in the same group; make sure nothing is left behind
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def render(url: str, shot: Path, profile: Path) -> str:
    """The DOM after Chromium has run the page's scripts (15 s of virtual time); saves a screenshot too."""
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
           f"--user-data-dir={profile}", "--virtual-time-budget=15000", "--window-size=1400,900",
           f"--screenshot={shot}", "--dump-dom", url]
    out = subprocess.run(cmd, capture_output=True, timeout=CHROMIUM_TIMEOUT_S, cwd=shot.parent)
    assert out.returncode == 0, out.stderr.decode(errors="replace")[-2000:]
    assert shot.exists() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"no screenshot of {url}"
    return out.stdout.decode(errors="replace")


def keep(shot: Path) -> None:
    if os.environ.get("THUNDERLINE_ARTIFACTS"):
        dest = Path(os.environ["THUNDERLINE_ARTIFACTS"])
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, dest / shot.name)


def latest_materializations(base: str) -> dict[str, dict]:
    data = graphql(base, "{ assetNodes { assetKey { path } groupName "
                         "assetMaterializations(limit: 1) { runId partition timestamp } } }")
    return {"/".join(n["assetKey"]["path"]): n for n in data["assetNodes"]}


def test_asset_graph_and_asset_page_show_the_assets_and_their_latest_materialization(webserver, tmp_path):
    base, location = webserver
    nodes = latest_materializations(base)  # the same facts the pages render, straight from GraphQL
    assert {"raw_ticks", "market_feature_windows", "decision_traces", "drift_reports"} <= set(nodes)
    (mat,) = nodes["raw_ticks"]["assetMaterializations"]
    month, symbol = mat["partition"].split("|")
    assert symbol in ("TLDM", "TLDX") and month in ("2025-03-01", "2025-04-01") and int(mat["timestamp"]) > 0

    graph_url = f"{base}/{GROUP_PAGE.format(location=location, group='market')}"
    graph_dom = render(graph_url, tmp_path / "dagster_market_graph.png", tmp_path / "p1")
    keep(tmp_path / "dagster_market_graph.png")
    for text in ("raw_ticks", "market_fe", "decision_traces"):  # long names are shortened in graph nodes
        assert text in graph_dom, f"{text!r} not rendered in the market asset graph"

    asset_dom = render(f"{base}/{ASSET_PAGE}", tmp_path / "dagster_raw_ticks.png", tmp_path / "p2")
    keep(tmp_path / "dagster_raw_ticks.png")
    assert "Latest materialization" in asset_dom
    assert mat["runId"] in asset_dom  # the latest run is linked from the asset page
    assert symbol in asset_dom and "rows_read" in asset_dom  # its partition and its metadata
    assert "team:market-data" in asset_dom or "market-data" in asset_dom  # owners render


def test_learning_group_and_a_backfill(webserver, tmp_path):
    """The learning group's assets are materialized and its graph renders them; the learning loop's labels + pnl
    backfill is listed and its page shows it."""
    base, location = webserver
    nodes = latest_materializations(base)
    learning = {k: n for k, n in nodes.items() if n["groupName"] == "learning"}
    assert {"labels", "pnl", "learning_evaluation", "training_slices", "nas_candidates", "promotion"} <= set(learning)
    assert all(n["assetMaterializations"] for n in learning.values()), learning

    data = graphql(base, "{ partitionBackfillsOrError { ... on PartitionBackfills { results { id status title "
                         "assetSelection { path } } } } }")
    backfills = [b for b in data["partitionBackfillsOrError"]["results"] if b["title"].startswith("labels + pnl")]
    assert backfills, data
    b = backfills[0]
    assert b["status"] == "COMPLETED_SUCCESS"
    assert sorted(p["path"][0] for p in b["assetSelection"]) == ["labels", "pnl"]

    learning_dom = render(f"{base}/{GROUP_PAGE.format(location=location, group='learning')}",
                          tmp_path / "dagster_learning_graph.png", tmp_path / "p3")
    keep(tmp_path / "dagster_learning_graph.png")
    for text in ("labels", "pnl", "training_sl", "promotion"):
        assert text in learning_dom, f"{text!r} not rendered in the learning asset graph"

    backfill_dom = render(f"{base}/runs/b/{b['id']}", tmp_path / "dagster_backfill.png", tmp_path / "p4")
    keep(tmp_path / "dagster_backfill.png")
    assert b["id"] in backfill_dom and "labels" in backfill_dom
