"""``thunderline ingest --workers 2``: the symbols' partitions on two forked processes give the serial result.

Three symbols of synthetic canonical ticks (a 10-level book) are ingested with two workers on the
parametrised warehouse (SQLite and PostgreSQL), then the same landing area with the serial loop into a
second home (SQLite): the same partitions succeed, with the same lake batches and the same windows.
"""

from __future__ import annotations

import dagster as dg
import pyarrow as pa

from thunderline.market import write_canonical_parquet
from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks
from thunderline.store import Warehouse

SYMBOLS = ("AAA", "BBB", "CCC")


def _land(landing) -> None:
    for i, sym in enumerate(SYMBOLS):
        spec = SyntheticSpec(n_ticks=6_000, seed=10 + i, symbol=sym, depth=10)
        path = landing / "ticks" / f"{sym}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_canonical_parquet(iter(pa.Table.from_batches(list(synthetic_ticks(spec, "x"))).to_batches()), path)


def _state(settings) -> dict:
    wh = Warehouse(settings.warehouse_url)
    try:
        with wh.session(settings.tenant_id) as s:
            windows = s.select("feature_windows", columns=["id", "content_hash"])
            batches = s.select("raw_tick_batches", columns=["id", "rows"])
    finally:
        wh.dispose()
    return {"windows": sorted((w["id"], w["content_hash"]) for w in windows),
            "batches": sorted((b["id"], b["rows"]) for b in batches)}


def _ingest(settings, workers: int):
    from thunderline_cli.ingest import run_ingest

    with dg.instance_for_test() as instance:
        return run_ingest(settings, show_progress=False, instance=instance, expectations=False, workers=workers)


def test_two_workers_materialize_what_the_serial_loop_does(settings_env, tmp_path, monkeypatch):
    from thunderline.config import load_settings

    _land(settings_env.landing_dir)
    report = _ingest(settings_env, 2)
    assert report.failure_line() is None and report.error is None, report.failure_reasons
    assert sorted(p.split("|")[1] for p in report.partitions) == list(SYMBOLS)
    assert report.totals and min(report.totals.values()) >= 0
    parallel = _state(settings_env)
    assert len(parallel["windows"]) > 10 and sum(r for _, r in parallel["batches"]) == 3 * 6_000

    monkeypatch.setenv("THUNDERLINE_HOME", str(tmp_path / "serial"))
    monkeypatch.setenv("THUNDERLINE_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'serial.db'}")
    monkeypatch.setenv("THUNDERLINE_LANDING_DIR", str(settings_env.landing_dir))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'serial-mlflow.db'}")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "serial" / "dagster"))
    serial_settings = load_settings()
    serial = _ingest(serial_settings, 1)
    assert serial.failure_line() is None and serial.totals == report.totals
    assert _state(serial_settings) == parallel
