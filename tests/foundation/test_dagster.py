"""The Dagster skeleton: definitions load and validate; a PostgreSQL-backed instance records runs."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg

from resources import build_resources
from thunderline.config import load_settings
from thunderline_assets.definitions import build_definitions

REPO = Path(__file__).resolve().parents[2]


def test_definitions_are_loadable(tmp_path):
    settings = load_settings({"THUNDERLINE_HOME": str(tmp_path)})
    defs = build_definitions(settings, resources=build_resources(settings))
    dg.Definitions.validate_loadable(defs)
    assert {"warehouse", "lake", "mlflow"} <= set(defs.resources)


def test_dagster_cli_validates_workspace(tmp_path):
    env = {**os.environ, "THUNDERLINE_HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path / "dg")}
    (tmp_path / "dg").mkdir()
    exe = Path(sys.executable).with_name("dagster")
    out = subprocess.run([str(exe), "definitions", "validate", "-w", "workspace.yaml"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr


def test_postgres_instance_records_a_materialization(pg_database, tmp_path, monkeypatch):
    app_url, _, _ = pg_database
    shutil.copy(REPO / "dagster.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_PG_URL", app_url)

    @dg.asset
    def probe() -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"rows": 3})

    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        result = dg.materialize([probe], instance=instance)
        assert result.success
        ev = instance.get_latest_materialization_event(dg.AssetKey("probe"))
        assert ev is not None and ev.asset_materialization.metadata["rows"].value == 3
