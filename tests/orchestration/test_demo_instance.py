"""After ``thunderline demo`` the Dagster instance shows everything a Dagster user looks for (issue 17).

Every asset of every group (learning included) has a materialization, made by a run of a named
job; the demo's multi-partition steps are backfills (Backfills tab) whose runs carry the backfill
tag; every run carries the run tags (tenant, source, router version, code version); the monthly
partitions are the months with data; and the demo's output is quiet (no Python warning, no
traceback). One demo per session, shared (``tests/demo_support.py``).
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest
from demo_support import clean_env, demo_output, thunderline

from thunderline.run_tags import ALL_TAGS, CODE_VERSION_TAG, ROUTER_VERSION_TAG, SOURCE_TAG, TENANT_TAG

LEARNING_JOBS = {"learning_labels_job", "learning_evaluation_job", "monthly_retrain_job", "promotion_job",
                 "gate_retraining_job", "signal_evaluation_job"}
#: the demo's backfills: title prefix → runs (two months; two months × two symbols; the decided month)
BACKFILLS = {"drift_reports": 2, "labels + pnl": 4, "learning_evaluation": 1, "signal_evaluation": 1}


@pytest.fixture(scope="module")
def instance(demo_home):
    with dg.DagsterInstance.from_config(str(demo_home / "dagster")) as inst:
        yield inst


@pytest.fixture(scope="module")
def code_location(demo_home) -> dict:
    """Asset keys by group and the months' partition keys, from the definitions the demo's environment loads
    (a subprocess with the demo's environment, as the code location loads them: the partitions depend on that
    home's data)."""
    import subprocess
    import sys

    from demo_support import REPO

    code = ("from thunderline_assets.definitions import build_definitions\n"
            "defs = build_definitions()\n"
            "g = defs.resolve_asset_graph()\n"
            "for k in g.materializable_asset_keys: print('ASSET', g.get(k).group_name, k.to_user_string())\n"
            "print('MONTHS', *defs.get_assets_def('drift_reports').partitions_def.get_partition_keys())\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=clean_env(demo_home), capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    groups: dict[str, list[dg.AssetKey]] = {}
    months: list[str] = []
    for line in out.stdout.splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "MONTHS":
            months = rest.split()
        elif kind == "ASSET":
            group, key = rest.split(" ", 1)
            groups.setdefault(group, []).append(dg.AssetKey.from_user_string(key))
    return {"groups": groups, "months": months}


def test_every_asset_in_every_group_is_materialized_by_a_named_job(instance, code_location):
    groups = code_location["groups"]
    assert {"market", "edgar", "decisions", "observability", "learning"} <= set(groups)
    never = [f"{g}:{k.to_user_string()}" for g, keys in groups.items() for k in keys
             if instance.get_latest_materialization_event(k) is None]
    assert not never, f"never materialized after the demo: {never}"
    for key in groups["learning"]:  # the learning loop ran as Dagster runs, not in the CLI's process
        run = instance.get_run_by_id(instance.get_latest_materialization_event(key).run_id)
        assert run.job_name in LEARNING_JOBS and run.is_success, (key, run.job_name)


def test_backfills_with_their_runs(instance):
    backfills = instance.get_backfills()
    by_prefix = {p: [b for b in backfills if (b.title or "").startswith(p)] for p in BACKFILLS}
    assert all(by_prefix.values()), {b.title for b in backfills}
    for prefix, expected in BACKFILLS.items():
        for b in by_prefix[prefix]:
            runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": b.backfill_id}))
            assert len(runs) == expected and all(r.is_success for r in runs), (b.title, len(runs))
            assert str(b.status).endswith("COMPLETED_SUCCESS") and b.asset_selection, (b.title, b.status)


def test_every_run_carries_the_run_tags(instance):
    runs = instance.get_runs()
    missing = [(r.job_name, sorted(set(ALL_TAGS) - set(r.tags))) for r in runs if not set(ALL_TAGS) <= set(r.tags)]
    assert not missing, missing
    assert {r.tags[TENANT_TAG] for r in runs} == {"default"}
    assert {"cli:ingest", "cli:demo"} <= {r.tags[SOURCE_TAG] for r in runs}
    assert all(r.tags[CODE_VERSION_TAG] for r in runs)
    assert not [r for r in runs if r.job_name.startswith("__ephemeral")]
    assert LEARNING_JOBS | {"router_promotion_job"} <= {r.job_name for r in runs}
    # the router version a run was tagged with is the one active when it started: none before the bootstrap,
    # a real version for the learning loop's runs
    learning = [r for r in runs if r.job_name in LEARNING_JOBS]
    assert learning and all(r.tags[ROUTER_VERSION_TAG] != "none" for r in learning)


def test_partitions_are_the_months_with_data(demo_home, code_location):
    """Issue 17: the demo's partition count in the UI equals the months with data (± the current month). The
    demo's data: EDGAR filings in 2024-02 and 2025-02..05, ticks in 2025-03/04 — five months, a hole of eleven
    (2024-03..2025-01) that is no partition (thunderline.flow.data_months.partitions_layout)."""
    from thunderline.config import load_settings
    from thunderline.flow.data_months import months_with_data

    data = sorted(months_with_data(load_settings({"THUNDERLINE_HOME": str(demo_home)}, create_dirs=False)))
    months = [m[:7] for m in code_location["months"]]
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m")
    assert set(data) <= set(months), sorted(set(data) - set(months))  # every month with data is a partition
    assert set(months) - set(data) <= {now}, sorted(set(months) - set(data))  # the rest: at most this month
    assert len(data) - 1 <= len(months) <= len(data) + 1, (months, data)
    assert {"2024-02", "2025-03", "2025-05"} <= set(data) and "2024-06" not in months  # the hole is no partition


def test_the_demo_and_a_second_ingest_are_quiet(demo_home):
    """No Python warning and no traceback: not from the demo (whose ingest reads the demo landing), not from
    `thunderline ingest` run again on that landing."""
    out = demo_output(demo_home)
    if out is not None:
        assert "Warning" not in out[1] and "Traceback" not in out[1], out[1][-3000:]
        assert " INFO mlflow" not in out[1], out[1][-3000:]  # MLflow's store set-up lines
        assert "[learn]" in out[0] and "promotion" in out[0] and "gates:" in out[0]
    p = thunderline(demo_home, "ingest", "--quiet")
    assert p.returncode == 0, p.stderr[-3000:]
    assert "Warning" not in p.stderr and "Traceback" not in p.stderr, p.stderr[-3000:]
    assert "partitions materialized" in p.stdout
