"""Market assets against a real Dagster instance, on SQLite and PostgreSQL warehouses.

The real AMZN LOBSTER day goes end to end (landing → lake → windows) with counts
that match the files exactly; malformed rows land in quarantine with reasons;
re-materializing replaces (same ids and hashes), never duplicates.
"""

from __future__ import annotations

import shutil

import dagster as dg
import pyarrow.parquet as pq

from resources import build_resources
from thunderline.flow.landing import candidate_files, index_files
from thunderline.flow.tick_files import classify_tick_file
from thunderline.store import Warehouse
from thunderline_assets.definitions import build_definitions

LOBSTER = "market/lobster/AMZN_2012-06-21_34200000_57600000_{}_1.csv"


def _ingest(settings, instance, key: str):
    wh = Warehouse(settings.warehouse_url)
    wh.init_schema()
    with wh.session(settings.tenant_id) as s:
        landed = index_files(s, "ticks", candidate_files(settings.ticks_landing), classify_tick_file)
    wh.dispose()
    month, symbol = key.split("|")
    instance.add_dynamic_partitions("symbols", [symbol])
    resources = build_resources(settings)
    job = build_definitions(resources=resources).resolve_job_def("market_partition_job")
    result = job.execute_in_process(partition_key=dg.MultiPartitionKey({"month": f"{month}-01", "symbol": symbol}),
                                    instance=instance, resources=resources)
    assert result.success
    mats = {e.asset_key.path[-1]: e.materialization.metadata for e in result.get_asset_materialization_events()}
    return landed, mats


def _rows(settings, table, **where):
    wh = Warehouse(settings.warehouse_url)
    with wh.session(settings.tenant_id) as s:
        t = s.table(table)
        rows = s.select(table, *[t.c[k] == v for k, v in where.items()])
    wh.dispose()
    return rows


def test_real_lobster_day_end_to_end(settings_env, datasets):
    settings = settings_env
    for kind in ("message", "orderbook"):
        (settings.ticks_landing / "lobster").mkdir(exist_ok=True)
        shutil.copy(datasets / LOBSTER.format(kind), settings.ticks_landing / "lobster")
    with dg.instance_for_test() as instance:
        landed, mats = _ingest(settings, instance, "2012-06|AMZN")
        # the orderbook file is the message file's partner, not a second source
        assert [f.partitions for f in landed if f.format == "lobster"][0] == ["2012-06|AMZN"]
        raw = mats["raw_ticks"]
        assert raw["rows_read"].value == 57_515
        assert raw["rows_kept"].value + raw["rows_rejected"].value == 57_515
        batches = _rows(settings, "raw_tick_batches", symbol="AMZN")
        assert sum(b["rows"] for b in batches) == raw["rows_kept"].value
        lake_rows = sum(pq.ParquetFile(b["path"]).metadata.num_rows for b in batches)
        assert lake_rows == raw["rows_kept"].value
        windows = _rows(settings, "feature_windows", kind="market", key="AMZN")
        assert len(windows) == mats["market_feature_windows"]["windows"].value > 10_000
        # every window starts on a multiple of the 125 ms step and lasts 250 ms
        assert all(w["window_start"] % 125_000 == 0 and w["window_end"] - w["window_start"] == 250_000 for w in windows)
        first_hash = mats["market_feature_windows"]["windows_hash"].value

        # re-materializing replaces: same rows, same ids, same hashes
        _, mats2 = _ingest(settings, instance, "2012-06|AMZN")
        assert mats2["market_feature_windows"]["windows_hash"].value == first_hash
        assert len(_rows(settings, "feature_windows", kind="market", key="AMZN")) == len(windows)
        assert len(_rows(settings, "raw_tick_batches", symbol="AMZN")) == len(batches)


BAD_CSV = """venue,symbol,ts,seq,event_type,bid_px,bid_sz,ask_px,ask_sz,trade_px,trade_sz,trade_side,book_bid_px,book_bid_sz,book_ask_px,book_ask_sz
X,BAD,1704205800000000,1,0,100.00,5,100.01,5,,0,0,,,,
X,BAD,1704205800001000,2,0,abc,5,100.01,5,,0,0,,,,
X,BAD,1704205800002000,3,0,100.00,-5,100.01,5,,0,0,,,,
X,BAD,1704205800003000,4,0,NaN,5,100.01,5,,0,0,,,,
X,BAD,1704205800004000,5,0,100.00,5,100.01
X,BAD,1704205800005000,6,0,100.00,5,100.01,5,,0,0,,,,
X,BAD,1704205800006000,5,0,100.00,5,100.01,5,,0,0,,,,
X,BAD,1704205800007000,8,1,100.00,5,100.01,5,100.01,2,1,,,,
"""


def test_malformed_rows_are_quarantined_with_reasons(settings_env):
    settings = settings_env
    (settings.ticks_landing / "bad.csv").write_text(BAD_CSV)
    with dg.instance_for_test() as instance:
        _, mats = _ingest(settings, instance, "2024-01|BAD")
    raw = mats["raw_ticks"]
    assert raw["rows_read"].value == 8
    assert raw["rows_kept"].value + raw["rows_rejected"].value == 8
    q = _rows(settings, "quarantine")
    assert raw["rows_rejected"].value == len(q) >= 4
    assert all(r["source"].endswith("bad.csv") and r["row_number"] and r["reason"] for r in q)
    rejected_rows = {r["row_number"] for r in q}
    # file lines (header = line 1): bad number, negative size, NaN price, truncated line, seq going backwards
    assert rejected_rows == {3, 4, 5, 6, 8}


def test_ingest_keeps_each_tenants_landing_files_to_that_tenant(settings_env, tmp_path):
    """Files under ticks/tenant=<t>/ (written by the ingress from the API key) belong to t alone."""
    from thunderline.market import write_canonical_parquet
    from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks
    from thunderline_cli.ingest import run_ingest

    settings = settings_env
    acme = settings.ticks_landing / "tenant=acme"
    acme.mkdir()
    write_canonical_parquet(synthetic_ticks(SyntheticSpec(n_ticks=3_000, seed=1, symbol="ACM"), "x"),
                            acme / "acme.parquet")
    write_canonical_parquet(synthetic_ticks(SyntheticSpec(n_ticks=2_000, seed=2, symbol="DEF"), "x"),
                            settings.ticks_landing / "default.parquet")
    with dg.instance_for_test() as instance:
        report = run_ingest(settings, show_progress=False, instance=instance)
    assert not report.runs_failed
    assert sorted(report.partitions) == ["2024-01|DEF", "acme:2024-01|ACM"]
    wh = Warehouse(settings.warehouse_url)
    for tenant, symbol, rows in (("default", "DEF", 2_000), ("acme", "ACM", 3_000)):
        with wh.session(tenant) as s:
            batches = s.select("raw_tick_batches")
            assert {b["symbol"] for b in batches} == {symbol}
            assert sum(b["rows"] for b in batches) == rows
            assert {w["key"] for w in s.select("feature_windows")} == {symbol}
            assert all(f"tenant={tenant}" in b["path"] for b in batches)
    wh.dispose()
