"""After ``thunderline demo`` the Dagster instance shows everything a Dagster user looks for (issue 17).

Every asset of every group (learning included) has a materialization, the demo's drift months and
learning partitions are backfills (Backfills tab), every run carries the run tags (tenant, source,
router version, code version), and the monthly partitions begin at the first month with data.

The demo runs once per session into a temporary THUNDERLINE_HOME (several minutes on a busy
2-core machine); set THUNDERLINE_DEMO_HOME to the home of a finished ``make demo`` to read that
instance instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from thunderline.run_tags import ALL_TAGS, SOURCE_TAG, TENANT_TAG

REPO = Path(__file__).resolve().parents[2]
DEMO_BOUND_S = 3600


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory) -> Path:
    given = os.environ.get("THUNDERLINE_DEMO_HOME")
    if given:
        return Path(given)
    home = tmp_path_factory.mktemp("demo") / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THUNDERLINE_", "MLFLOW_", "DAGSTER_"))}
    env["THUNDERLINE_HOME"] = str(home)
    p = subprocess.run([sys.executable, "-m", "thunderline_cli.main", "demo"], cwd=REPO, env=env, text=True,
                       capture_output=True, timeout=DEMO_BOUND_S)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "Traceback" not in p.stderr and "Warning" not in p.stderr, p.stderr[-3000:]
    return home


@pytest.fixture(scope="module")
def instance(demo_home):
    with dg.DagsterInstance.from_config(str(demo_home / "dagster")) as inst:
        yield inst


@pytest.fixture(scope="module")
def asset_keys(demo_home) -> dict[str, list[dg.AssetKey]]:
    """Asset keys by group, from the definitions the demo's environment builds."""
    code = ("from thunderline_assets.definitions import build_definitions\n"
            "g = build_definitions().resolve_asset_graph()\n"
            "for k in g.materializable_asset_keys: print(g.get(k).group_name, k.to_user_string())\n"
            "from jobs.keys import months\n"
            "print('MONTHS', *months.get_partition_keys())\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THUNDERLINE_", "MLFLOW_", "DAGSTER_"))}
    env["THUNDERLINE_HOME"] = str(demo_home)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    groups: dict[str, list[dg.AssetKey]] = {}
    for line in out.stdout.splitlines():
        if line.startswith("MONTHS"):
            groups["__months__"] = line.split()[1:]
            continue
        group, key = line.split(" ", 1)
        groups.setdefault(group, []).append(dg.AssetKey.from_user_string(key))
    return groups


def test_every_asset_in_every_group_is_materialized(instance, asset_keys):
    groups = {g: keys for g, keys in asset_keys.items() if g != "__months__"}
    assert {"market", "edgar", "decisions", "observability", "learning"} <= set(groups)
    never = [f"{g}:{k.to_user_string()}" for g, keys in groups.items() for k in keys
             if instance.get_latest_materialization_event(k) is None]
    assert not never, f"never materialized after the demo: {never}"


def test_backfills_with_their_runs(instance):
    backfills = instance.get_backfills()
    titles = {b.title for b in backfills}
    assert any(t and t.startswith("drift_reports") for t in titles), titles
    assert any(t and t.startswith("labels + pnl") for t in titles), titles
    for b in backfills:
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": b.backfill_id}))
        expected = 2 if b.title.startswith("drift_reports") else 4  # 2025-03/04; 2 months × 2 symbols
        assert len(runs) == expected and all(r.is_success for r in runs), b.title
        assert str(b.status).endswith("COMPLETED_SUCCESS"), (b.title, b.status)
        assert b.asset_selection, b.title


def test_every_run_carries_the_run_tags(instance):
    runs = instance.get_runs()
    assert len(runs) >= 10
    missing = [(r.job_name, sorted(set(ALL_TAGS) - set(r.tags))) for r in runs if not set(ALL_TAGS) <= set(r.tags)]
    assert not missing, missing
    assert {r.tags[TENANT_TAG] for r in runs} == {"default"}
    assert {"cli:ingest", "cli:demo"} <= {r.tags[SOURCE_TAG] for r in runs}
    assert not [r for r in runs if r.job_name.startswith("__ephemeral")]
    learning = {r.job_name for r in runs} & {"learning_labels_job", "monthly_retrain_job", "promotion_job",
                                             "gate_retraining_job", "learning_evaluation_job"}
    assert len(learning) == 5, learning


def test_partitions_begin_at_the_first_month_with_data(instance, asset_keys):
    """The demo's data: EDGAR filings from 2024-02, ticks in 2025-03/04; months run to the current one."""
    import datetime as dt

    months = asset_keys["__months__"]
    now = dt.datetime.now(dt.timezone.utc).date().replace(day=1)
    assert months[0] == "2024-02-01" and months[-1] == now.isoformat()
    span = (now.year - 2024) * 12 + now.month - 2 + 1
    assert len(months) == span


def test_ingest_on_the_demo_landing_is_quiet(demo_home):
    """`thunderline ingest` over the demo's landing area: no Python warning, no traceback, exit 0."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THUNDERLINE_", "MLFLOW_", "DAGSTER_"))}
    env["THUNDERLINE_HOME"] = str(demo_home)
    p = subprocess.run([sys.executable, "-m", "thunderline_cli.main", "ingest"], cwd=REPO, env=env, text=True,
                       capture_output=True, timeout=900)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "Warning" not in p.stderr and "Traceback" not in p.stderr, p.stderr[-3000:]
    assert "partitions materialized" in p.stdout
