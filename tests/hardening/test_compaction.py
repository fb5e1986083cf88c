"""Compaction of many small landed tick files (issue 16, item 10): same ticks and windows, crash-safe, exact accounting.

Each ingest runs in a forked child (``crash_harness.forked_ingest``), on SQLite and PostgreSQL;
the comparisons open the warehouses afterwards and dispose of them before the next child.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from thunderline.store.lake import read_lake_ticks

from .crash_harness import KILLED, Home, differences, forked_ingest, write_http_landed


def _landing(dst: Path) -> tuple[Path, Path]:
    """HTTP-landed small files of three symbols, and the cases compaction must leave alone."""
    from thunderline.market import write_canonical_parquet
    from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks

    write_http_landed(dst, "CMPA", files=12, ticks_per_file=150, seed=21)
    write_http_landed(dst, "CMPB", files=9, ticks_per_file=300, seed=22)
    c = write_http_landed(dst, "CMPC", files=6, ticks_per_file=200, seed=23)
    # a member with a row the reader rejects: ingested on its own, its neighbours' groups around it
    t = pq.read_table(c[2])
    bad = t.set_column(t.schema.get_field_index("bid_px"), "bid_px",
                       pa.array([-1.0] + t.column("bid_px").to_pylist()[1:], pa.float64()))
    pq.write_table(bad, c[2])
    # an operator's own file of a fourth symbol: never compacted (its per-file reports name it)
    ticks = dst / "ticks"
    d = pa.Table.from_batches(list(synthetic_ticks(SyntheticSpec(n_ticks=900, seed=24, symbol="CMPD"), "default")))
    write_canonical_parquet(iter(d.slice(0, 400).to_batches()), ticks / "cmpd_1.parquet")
    write_canonical_parquet(iter(d.slice(400).to_batches()), ticks / "cmpd_2.parquet")
    return dst, c[2]


@pytest.fixture(scope="module")
def small_landing(tmp_path_factory):
    return _landing(tmp_path_factory.mktemp("small_files"))


def _facts(home: Home) -> dict:
    """What compaction must not change (ticks, windows, quarantine) and what it must (files, batches)."""
    from thunderline.config import load_settings
    from thunderline.market.canonical import ticks_sha256
    from thunderline.store import Warehouse

    settings = load_settings(home.env(), create_dirs=False)
    wh = Warehouse(settings.warehouse_url)
    try:
        with wh.session(settings.tenant_id) as s:
            windows = sorted([r["id"], r["key"], str(r["window_start"]), r["features"],
                              r["provenance"]["tick_count"], r["provenance"]["seq_first"], r["provenance"]["seq_last"]]
                             for r in s.select("feature_windows"))
            quarantine = sorted((r["id"], r["source"], r["row_number"], r["field"], r["reason"])
                                for r in s.select("quarantine"))
            statuses = {Path(r["path"]).name: r["status"] for r in s.select("landing_files", columns=["path", "status"])}
            batches = s.count("raw_tick_batches")
            kept = sum(r["rows"] for r in s.select("raw_tick_batches", columns=["rows"]))
            members = s.count("compacted_members")
    finally:
        wh.dispose()
    lake = sorted((home.root / "lake").rglob("*.parquet"))
    ticks = pa.concat_tables([read_lake_ticks(p) for p in lake]).sort_by(
        [("symbol", "ascending"), ("source", "ascending"), ("source_row", "ascending")])
    return {"windows": hashlib.sha256(json.dumps(windows, sort_keys=True).encode()).hexdigest(),
            "n_windows": len(windows), "quarantine": quarantine, "ticks": ticks_sha256([ticks]),
            "n_ticks": ticks.num_rows, "kept": kept, "statuses": statuses, "batches": batches, "members": members}


def _run(home: Home, **kw) -> dict:
    out = home.root / "result.json"
    home.root.mkdir(parents=True, exist_ok=True)
    assert forked_ingest(home, result_path=out, snap=False, **kw) == 0, out.read_text() if out.exists() else ""
    return json.loads(out.read_text())


def test_compacted_ingest_equals_one_by_one(crash_backend, small_landing, tmp_path):
    small_landing, bad = small_landing
    """Same ticks (every column, each row citing its own landing file and row), windows (ids, features,
    tick counts, seq ranges) and quarantine, with fewer files and batches; accepted = landed = ingested."""
    _, make = crash_backend
    one = Home(tmp_path / "one_by_one", make(tmp_path / "one_by_one"), small_landing)
    comp = Home(tmp_path / "compacted", make(tmp_path / "compacted"), small_landing)
    _run(one, compact=False)
    result = _run(comp)
    a, b = _facts(one), _facts(comp)
    landed = 12 * 150 + 9 * 300 + 6 * 200 + 900
    assert a["n_ticks"] == b["n_ticks"] == a["kept"] == b["kept"] == landed - 1  # the one bad bid, quarantined
    assert (b["ticks"], b["windows"], b["quarantine"]) == (a["ticks"], a["windows"], a["quarantine"])
    assert b["n_windows"] > 0 and len(b["quarantine"]) == 1
    assert set(a["statuses"].values()) == {"processed"} and len(a["statuses"]) == 29
    # the operator's files and the member with a bad row are ingested as they are
    assert [b["statuses"].get(n) for n in ("cmpd_1.parquet", "cmpd_2.parquet", bad.name)] == ["processed"] * 3
    retired = [n for n, st in b["statuses"].items() if st == "compacted"]
    assert len(retired) == b["members"] >= 21 and b["batches"] < a["batches"]
    assert f"compacted: {len(retired)} small tick files" in "\n".join(result["lines"])


def test_a_second_ingest_reindexes_nothing(crash_backend, small_landing, tmp_path):
    small_landing, _ = small_landing
    """The retired small files are still in the landing area: seen again, they are known content, not new."""
    _, make = crash_backend
    home = Home(tmp_path / "home", make(tmp_path / "home"), small_landing)
    _run(home)
    again = _run(home)
    assert again["partitions"] == [] and again["lines"][0].startswith("files: 0 new tick files")
    assert not any(line.startswith("compacted:") for line in again["lines"])
    assert not list((home.root / "landed").rglob(".compacting"))


@pytest.mark.parametrize("fault", ["kill:compaction.stored@1", "kill:compaction.stored@2",
                                   "kill:compaction.committed@1"])
def test_a_kill_during_compaction_leaves_members_or_compacted_indexed(fault, crash_backend, small_landing, tmp_path):
    small_landing, _ = small_landing
    """Never both, never neither: after the kill every small file is either still indexed itself or
    retired into an indexed compacted file; the re-run then equals an uninterrupted run."""
    from thunderline.config import load_settings
    from thunderline.store import Warehouse

    _, make = crash_backend
    home = Home(tmp_path / "home", make(tmp_path / "home"), small_landing)
    assert forked_ingest(home, fault=fault) == KILLED
    settings = load_settings(home.env(), create_dirs=False)
    wh = Warehouse(settings.warehouse_url)
    try:
        with wh.session(settings.tenant_id) as s:
            files = {r["id"]: r for r in s.select("landing_files")}
            members = s.select("compacted_members")
    finally:
        wh.dispose()
    small = {i for i, r in files.items() if "tenant=" in r["path"] and r["format"] == "canonical_parquet"}
    retired = {m["member_id"]: m["compacted_id"] for m in members}
    for i in small:
        if i in retired:
            assert files[i]["status"] == "compacted" and files[retired[i]]["status"] == "indexed"
        else:
            assert files[i]["status"] == "indexed"
    assert bool(retired) == (fault == "kill:compaction.committed@1")
    clean = Home(tmp_path / "clean", make(tmp_path / "clean"), small_landing)
    ref, out = tmp_path / "clean.json", tmp_path / "rerun.json"
    clean.root.mkdir()
    assert forked_ingest(clean, result_path=ref) == 0
    assert forked_ingest(home, result_path=out) == 0
    diffs = differences(json.loads(ref.read_text())["snapshot"], json.loads(out.read_text())["snapshot"])
    assert diffs == [], "\n".join(diffs)
