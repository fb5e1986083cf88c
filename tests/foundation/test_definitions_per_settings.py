"""Definitions are made for one Settings: nothing in the Dagster packages reads settings when imported.

Why it matters: Dagster 1.13 cannot swap an asset's partitions once it has partitioned checks, so partitions
fixed at import (as they were) made every later Definitions of the process carry the first settings' months.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from resources import build_resources
from thunderline.config import load_settings
from thunderline_assets.definitions import build_definitions

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("thunderline_assets", "jobs", "sensors", "resources")
PARTITIONED = ("raw_ticks", "market_feature_windows", "raw_filings", "edgar_feature_windows", "decision_traces",
               "drift_reports", "labels", "pnl", "learning_evaluation", "signal_evaluation", "training_slices",
               "nas_candidates")


def _settings(tmp_path: Path, name: str, first: str, last: str):
    home = tmp_path / name
    return load_settings({"THUNDERLINE_HOME": str(home), "THUNDERLINE_WAREHOUSE_URL": f"sqlite:///{home / 'w.db'}",
                          "THUNDERLINE_FIRST_MONTH": first, "THUNDERLINE_LAST_MONTH": last}, create_dirs=False)


def _months(defs: dg.Definitions, key: str) -> list[str]:
    pdef = defs.get_assets_def(key).partitions_def
    if isinstance(pdef, dg.MultiPartitionsDefinition):
        pdef = pdef.get_partitions_def_for_dimension("month")
    return pdef.get_partition_keys()


def test_two_settings_in_one_process_give_two_sets_of_partitions(tmp_path):
    sa, sb = _settings(tmp_path, "a", "2023-01", "2023-03"), _settings(tmp_path, "b", "2024-05", "2024-06")
    a, b = build_definitions(sa, resources=build_resources(sa)), build_definitions(sb, resources=build_resources(sb))
    for key in PARTITIONED:  # every partitioned asset (and so its partitioned checks) carries its own settings' months
        want_a = ["2023-01-01", "2023-02-01", "2023-03-01"]
        want_b = ["2024-05-01", "2024-06-01"]
        if key in ("training_slices", "nas_candidates"):  # complete months: the last one ended before the next
            assert _months(a, key) == want_a and _months(b, key) == want_b, key
        else:
            assert _months(a, key)[:3] == want_a and _months(b, key)[:2] == want_b, key
            assert not set(_months(a, key)) & set(want_b) and not set(_months(b, key)) & set(want_a), key
    for defs in (a, b):  # partitioned checks are partitioned as their asset (what Dagster cannot swap later)
        specs = [(ad, spec) for ad in defs.assets if isinstance(ad, dg.AssetsDefinition) and ad.partitions_def
                 for spec in ad.check_specs]
        assert len(specs) >= 6 and all(spec.partitions_def == ad.partitions_def for ad, spec in specs)
    # a schedule built for b's months skips a month that is a partition for a only (and the other way round)
    with dg.instance_for_test() as instance:
        def edgar_tick(defs):
            repo = defs.get_repository_def()
            sched = repo.get_schedule_def("monthly_edgar_backfill")
            ctx = dg.build_schedule_context(instance=instance, repository_def=repo,
                                            scheduled_execution_time=dt.datetime(2023, 3, 1, 1, tzinfo=dt.timezone.utc))
            return sched.evaluate_tick(ctx)

        assert [r.partition_key for r in edgar_tick(a).run_requests] == ["2023-02-01"]
        assert not edgar_tick(b).run_requests and "outside the monthly partitions" in edgar_tick(b).skip_message


def test_importing_the_dagster_packages_reads_no_settings(tmp_path):
    """Every module of the Dagster packages imports with an invalid environment (load_settings would raise), and
    only building the definitions reads it — and then says which variable is wrong."""
    modules = sorted({".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
                      for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py")})
    env = {**os.environ, "THUNDERLINE_HOME": str(tmp_path / "nohome"), "THUNDERLINE_FIRST_MONTH": "not-a-month",
           "THUNDERLINE_LAST_MONTH": "never", "THUNDERLINE_WAREHOUSE_URL": "nosuchdb://poisoned",
           "THUNDERLINE_SENSOR_INTERVAL_S": "soon"}
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "print('IMPORTED', len(sys.modules))\n"
            "from thunderline.config import ConfigError\n"
            "from thunderline_assets.definitions import build_definitions\n"
            "try:\n    build_definitions()\nexcept ConfigError as exc:\n    print('BUILD', exc)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "IMPORTED" in out.stdout and "thunderline_assets.definitions" in modules and len(modules) > 30
    assert "BUILD THUNDERLINE_" in out.stdout, out.stdout  # the poison is real: building reads and rejects it
    assert not (tmp_path / "nohome").exists()  # nor did an import create a home
