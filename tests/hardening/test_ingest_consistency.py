"""Ingest consistency on SQLite and PostgreSQL (issue 16, items 3 and 9).

* item 3 — a partition whose tick step committed but whose windows step never ran (a
  crash between them) is completed by the next ``ingest``; its landing file is not
  ``processed`` until then;
* item 9 — landing files are known by content: a processed file deleted or archived from
  the landing area does not break later runs of its partition; a file rewritten with
  more rows supersedes its earlier content instead of being read on top of it (no good
  row quarantined); the same content seen again is never re-read.
"""

from __future__ import annotations

import dagster as dg
import pyarrow as pa

from thunderline.market import write_canonical_parquet
from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks
from thunderline.store import Warehouse


def _ticks(n: int, seed: int, symbol: str) -> pa.Table:
    return pa.Table.from_batches(list(synthetic_ticks(SyntheticSpec(n_ticks=n, seed=seed, symbol=symbol), "x")))


def _write(table: pa.Table, path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_canonical_parquet(iter(table.to_batches()), path)


def _ingest(settings):
    from thunderline_cli.ingest import run_ingest

    with dg.instance_for_test() as instance:
        return run_ingest(settings, show_progress=False, instance=instance, expectations=False)


def _state(settings, symbol: str) -> dict:
    wh = Warehouse(settings.warehouse_url)
    try:
        with wh.session(settings.tenant_id) as s:
            fw, rb, lf = s.table("feature_windows"), s.table("raw_tick_batches"), s.table("landing_files")
            windows = s.select("feature_windows", fw.c.kind == "market", fw.c.key == symbol,
                               columns=["id", "content_hash"])
            batches = s.select("raw_tick_batches", rb.c.symbol == symbol)
            files = s.select("landing_files", lf.c.kind == "ticks", columns=["id", "status", "path"])
            quarantine = s.select("quarantine")
    finally:
        wh.dispose()
    return {"windows": sorted((w["id"], w["content_hash"]) for w in windows),
            "rows": sum(b["rows"] for b in batches), "files": files, "quarantine": quarantine}


def test_crash_between_tick_and_window_steps_is_completed_by_the_next_ingest(settings_env):
    """The reported bug: the tick step ran, the process died; the re-run used to exit 0 with 0 windows."""
    from resources import build_resources
    from thunderline.flow.landing import candidate_files, index_files
    from thunderline.flow.tick_files import classify_tick_file
    from thunderline_assets.definitions import build_definitions

    settings = settings_env
    _write(_ticks(5_000, 3, "CRSH"), settings.ticks_landing / "crsh.parquet")
    # what a crash after raw_ticks leaves: the landing index and the tick step's commit, nothing downstream
    wh = Warehouse(settings.warehouse_url)
    wh.init_schema()
    with wh.session(settings.tenant_id) as s:
        index_files(s, "ticks", candidate_files(settings.ticks_landing), classify_tick_file)
    wh.dispose()
    resources = build_resources(settings)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("symbols", ["CRSH"])
        job = build_definitions(settings, resources=resources).resolve_job_def("market_partition_job")
        result = job.execute_in_process(partition_key=dg.MultiPartitionKey({"month": "2024-01-01", "symbol": "CRSH"}),
                                        instance=instance, resources=resources, asset_selection=[dg.AssetKey("raw_ticks")],
                                        run_config={"ops": {"raw_ticks": {"config": {"run_expectations": False}}}})
        assert result.success
    half = _state(settings, "CRSH")
    assert half["rows"] == 5_000 and half["windows"] == []
    assert [f["status"] for f in half["files"]] == ["indexed"], "processed before its windows existed"

    report = _ingest(settings)
    assert report.partitions == ["2024-01|CRSH"] and not report.runs_failed
    done = _state(settings, "CRSH")
    assert len(done["windows"]) > 0 and done["rows"] == 5_000
    assert [f["status"] for f in done["files"]] == ["processed"]
    # nothing left to do: the next ingest plans no partition
    assert _ingest(settings).partitions == []


def test_deleted_processed_landing_file_does_not_break_its_partition(settings_env):
    settings = settings_env
    t = _ticks(6_000, 4, "DELT")
    first, second = settings.ticks_landing / "delt_1.parquet", settings.ticks_landing / "delt_2.parquet"
    _write(t.slice(0, 3_000), first)
    assert not _ingest(settings).runs_failed
    first.unlink()  # the operator archives what was processed
    _write(t.slice(3_000), second)  # more of the same partition lands
    report = _ingest(settings)
    assert report.partitions == ["2024-01|DELT"]
    assert not report.runs_failed, report.lines()
    st = _state(settings, "DELT")
    assert st["rows"] == 6_000 and st["quarantine"] == []
    # the same as both files ingested together, never deleted
    ref = settings.model_copy(update={"tenant_id": "reference"})
    ref_landing = settings.ticks_landing / "tenant=reference"
    _write(t.slice(0, 3_000), ref_landing / "delt_1.parquet")
    _write(t.slice(3_000), ref_landing / "delt_2.parquet")
    assert not _ingest(settings).runs_failed
    ref_st = _state(ref, "DELT")
    assert (ref_st["rows"], len(ref_st["windows"])) == (st["rows"], len(st["windows"]))


def test_landing_file_rewritten_with_more_rows_is_read_once(settings_env):
    settings = settings_env
    t = _ticks(6_000, 5, "GROW")
    path = settings.ticks_landing / "grow.parquet"
    _write(t.slice(0, 4_000), path)
    assert not _ingest(settings).runs_failed
    _write(t, path)  # rewritten in place with 2,000 more rows
    report = _ingest(settings)
    assert not report.runs_failed and report.tick_files_new == 1
    st = _state(settings, "GROW")
    assert st["quarantine"] == [], [q["reason"] for q in st["quarantine"]][:3]
    assert st["rows"] == 6_000
    assert sorted(f["status"] for f in st["files"]) == ["processed", "superseded"]


def test_csv_landing_file_appended_to_supersedes_its_prefix(settings_env, tmp_path):
    from thunderline.market.canonical import write_canonical_csv

    settings = settings_env
    t = _ticks(3_000, 6, "APND")
    path = settings.ticks_landing / "apnd.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_canonical_csv(iter(t.slice(0, 2_000).to_batches()), path)
    assert not _ingest(settings).runs_failed
    full = tmp_path / "full.csv"
    write_canonical_csv(iter(t.to_batches()), full)
    assert full.read_bytes().startswith(path.read_bytes())
    path.write_bytes(full.read_bytes())  # the writer appended 1,000 rows
    assert not _ingest(settings).runs_failed
    st = _state(settings, "APND")
    assert st["quarantine"] == [] and st["rows"] == 3_000
    assert sorted(f["status"] for f in st["files"]) == ["processed", "superseded"]


def test_same_content_is_never_read_again(settings_env):
    settings = settings_env
    t = _ticks(2_000, 9, "SAME")
    _write(t, settings.ticks_landing / "same.parquet")
    assert _ingest(settings).partitions == ["2024-01|SAME"]
    _write(t, settings.ticks_landing / "copy_of_same.parquet")  # same bytes, another name
    report = _ingest(settings)
    assert report.tick_files_new == 0 and report.partitions == []
