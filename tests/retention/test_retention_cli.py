"""``thunderline retention tier`` (through the Dagster instance), ``status``, ``purge`` and ``thunderline restore``."""

from __future__ import annotations

import hashlib

from tiering_home import MONTH, SYMBOL

from thunderline.store.lake import Lake
from thunderline_cli.main import main


def test_tier_status_restore_and_a_purge_plan_from_the_command_line(alpha_lake, tmp_path, monkeypatch, capsys):
    home = alpha_lake
    for k, v in {"THUNDERLINE_HOME": str(tmp_path / "tl"), "THUNDERLINE_WAREHOUSE_URL": home.warehouse.url,
                 "THUNDERLINE_LAKE_DIR": str(home.lake_dir), "THUNDERLINE_TENANT": "alpha",
                 "THUNDERLINE_COLD_URL": home.cold_url, "DAGSTER_HOME": str(tmp_path / "tl" / "dagster"),
                 "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
                 "THUNDERLINE_RETENTION": "*.raw_ticks.keep=3650"}.items():
        monkeypatch.setenv(k, v)
    lake = Lake(home.lake_dir)
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in lake.batch_files("alpha", MONTH, SYMBOL)}

    assert main(["retention", "tier", "--month", MONTH]) == 0
    out = capsys.readouterr().out
    assert f"{MONTH}: {len(before)} files" in out and "manifest.json" in out
    assert lake.batch_files("alpha", MONTH, SYMBOL) == []
    assert main(["retention", "status"]) == 0
    out = capsys.readouterr().out
    assert f"{MONTH} cold      {len(before)} files" in out and "raw_ticks  hot      - days   keep 3650" in out

    assert main(["restore", MONTH]) == 0
    out = capsys.readouterr().out
    assert f"sha256 identical to ingest for {len(before)} of {len(before)}" in out
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in lake.batch_files("alpha", MONTH, SYMBOL)} \
        == before
    assert main(["retention", "purge", "--today", "2030-01-01"]) == 0
    out = capsys.readouterr().out
    assert f"raw_ticks  before 2020-01: would delete 0 rows, {len(before)} files" in out and "--yes" in out
    assert len(lake.batch_files("alpha", MONTH, SYMBOL)) == len(before)  # a plan deletes nothing
    assert main(["restore", "2011-01"]) == 2
    assert "nothing of 2011-01 in cold storage" in capsys.readouterr().err
