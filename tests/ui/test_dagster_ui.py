"""What a person sees in the Dagster UI, checked in headless Chromium against a small real instance.

One tick file of one symbol goes through ``run_ingest`` — the same path ``thunderline demo``
takes — into a fresh THUNDERLINE_HOME; then the venv's ``dagster-webserver`` serves that
instance on a free loopback port. Chromium loads the market group's asset graph and the
``raw_ticks`` asset page (``--dump-dom`` after a virtual-time budget, so React has rendered),
and the test asserts that the assets and their latest materialization (partition and run id)
are on the page; the webserver's GraphQL endpoint is asked the same facts. Screenshots go to
the test's tmp dir (and to ``$THUNDERLINE_ARTIFACTS`` when set).

Chromium is Debian's ``chromium`` package at /usr/bin/chromium: without it the test skips and
says so, except in CI (``CI=true``) where a missing browser is a failure. Every wait is bounded;
the webserver's process group is stopped at the end whatever happened.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SYMBOL = "UITST"
MONTH_START_US = 1_704_205_800_000_000  # 2024-01-02 14:30 UTC
STARTUP_S = 150  # loading the code location imports numba, mlflow, GX: slow on a busy 2-core machine
CHROMIUM_TIMEOUT_S = 90
GROUP_PAGE = "locations/{location}/asset-groups/market/lineage"
ASSET_PAGE = "assets/raw_ticks"


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    why = f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) to run the UI test"
    if os.environ.get("CI") == "true":
        pytest.fail(why)
    pytest.skip(why)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_ticks(path: Path, tenant: str) -> None:
    from thunderline.market import write_canonical_parquet
    from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks

    spec = SyntheticSpec(n_ticks=3_000, seed=7, symbol=SYMBOL, venue="UI", start_us=MONTH_START_US)
    write_canonical_parquet(synthetic_ticks(spec, tenant), path)


@pytest.fixture(scope="module")
def ui_instance(tmp_path_factory):
    """A THUNDERLINE_HOME with one ingested month × symbol and its Dagster instance (closed again)."""
    require_chromium()
    import dagster as dg

    from thunderline.config import load_settings
    from thunderline_cli.ingest import run_ingest

    home = tmp_path_factory.mktemp("ui") / "home"
    settings = load_settings({"THUNDERLINE_HOME": str(home)})
    settings.ensure_dirs()
    # what `thunderline` writes for a new home, plus no first-visit newsletter modal over the pages
    (settings.dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\nnux:\n  enabled: false\n")
    write_ticks(settings.ticks_landing / f"synthetic_{SYMBOL}.parquet", settings.tenant_id)
    with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        report = run_ingest(settings, show_progress=False, instance=instance)
        assert not report.runs_failed, report.lines()
        latest = {name: instance.get_latest_materialization_event(dg.AssetKey(name))
                  for name in ("raw_ticks", "market_feature_windows", "decision_traces")}
        # the month's drift report as a backfill (what the demo does for its two months)
        from thunderline_cli.drift import run_drift_reports

        assert run_drift_reports(settings, ["2024-01"], instance=instance) == [("2024-01", True)]
        (backfill,) = instance.get_backfills()
    assert all(latest.values())
    return settings, {**{k: v.run_id for k, v in latest.items()}, "backfill": backfill.backfill_id}


@pytest.fixture(scope="module")
def webserver(ui_instance, tmp_path_factory):
    settings, _ = ui_instance
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THUNDERLINE_", "MLFLOW_TRACKING", "DAGSTER_"))}
    env.update(THUNDERLINE_HOME=str(settings.home), DAGSTER_HOME=str(settings.dagster_home))
    log_path = tmp_path_factory.mktemp("webserver") / "webserver.log"
    exe = Path(sys.executable).with_name("dagster-webserver")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(exe), "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"], cwd=REPO,
                                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        location = wait_until_loaded(base, proc, log_path)
        yield base, location
    finally:
        stop(proc)


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


def test_asset_graph_and_asset_page_show_the_assets_and_their_latest_materialization(ui_instance, webserver,
                                                                                      tmp_path):
    _, run_ids = ui_instance
    base, location = webserver

    # the same facts the pages render, straight from the webserver's GraphQL
    data = graphql(base, "{ assetNodes { assetKey { path } groupName "
                         "assetMaterializations(limit: 1) { runId partition timestamp } } }")
    nodes = {"/".join(n["assetKey"]["path"]): n for n in data["assetNodes"]}
    assert {"raw_ticks", "market_feature_windows", "decision_traces", "drift_reports"} <= set(nodes)
    for name, run_id in run_ids.items():
        if name == "backfill":
            continue
        (mat,) = nodes[name]["assetMaterializations"]
        assert mat["runId"] == run_id and mat["partition"] == f"2024-01-01|{SYMBOL}" and int(mat["timestamp"]) > 0

    graph_url = f"{base}/{GROUP_PAGE.format(location=location)}"
    graph_dom = render(graph_url, tmp_path / "dagster_market_graph.png", tmp_path / "p1")
    keep(tmp_path / "dagster_market_graph.png")
    for text in ("raw_ticks", "market_fe", "decision_traces"):  # long names are shortened in graph nodes
        assert text in graph_dom, f"{text!r} not rendered in the market asset graph"

    asset_dom = render(f"{base}/{ASSET_PAGE}", tmp_path / "dagster_raw_ticks.png", tmp_path / "p2")
    keep(tmp_path / "dagster_raw_ticks.png")
    assert "Latest materialization" in asset_dom
    assert run_ids["raw_ticks"] in asset_dom  # the latest run is linked from the asset page
    assert SYMBOL in asset_dom and "rows_read" in asset_dom  # its partition and its metadata
    assert "team:market-data" in asset_dom or "market-data" in asset_dom  # owners render



def test_learning_group_and_a_backfill(ui_instance, webserver, tmp_path):
    """The learning group's graph renders its assets; the drift backfill is listed and its page shows its runs."""
    _, ids = ui_instance
    base, location = webserver
    data = graphql(base, "{ partitionBackfillsOrError { ... on PartitionBackfills { results { id status title "
                         "assetSelection { path } } } } }")
    backfills = {b["id"]: b for b in data["partitionBackfillsOrError"]["results"]}
    b = backfills[ids["backfill"]]
    assert b["status"] == "COMPLETED_SUCCESS" and b["title"] == "drift_reports 2024-01..2024-01"
    assert b["assetSelection"] == [{"path": ["drift_reports"]}]

    learning_dom = render(f"{base}/{GROUP_PAGE.format(location=location).replace('/market/', '/learning/')}",
                          tmp_path / "dagster_learning_graph.png", tmp_path / "p3")
    keep(tmp_path / "dagster_learning_graph.png")
    for text in ("labels", "pnl", "training_sl", "promotion"):
        assert text in learning_dom, f"{text!r} not rendered in the learning asset graph"

    backfill_dom = render(f"{base}/runs/b/{ids['backfill']}", tmp_path / "dagster_backfill.png", tmp_path / "p4")
    keep(tmp_path / "dagster_backfill.png")
    assert ids["backfill"] in backfill_dom and "drift_reports" in backfill_dom
