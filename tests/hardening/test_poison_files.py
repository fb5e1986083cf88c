"""Poison landing files through ``thunderline ingest`` on SQLite and PostgreSQL (issue 16, items 1, 2, 5, 6).

Each file mixes good rows with one kind of hostile row. Whatever the hostile rows carry —
a symbol that walks out of the lake, a ``|`` that splits partition keys, a timestamp
before 2010 or beyond next month, a 20-digit number — the guarantees are the same:

* the good rows of every file are ingested, no run fails, the next ingest exits clean;
* each hostile row is one quarantine row naming the file, its line, the field and the rule;
* nothing is written, and nothing deleted, outside the lake's own partition directories.
"""

from __future__ import annotations

import datetime as dt
import os

import dagster as dg

from thunderline.market.canonical import CANONICAL_COLUMNS
from thunderline.store import Warehouse

JAN = int(dt.datetime(2024, 1, 2, 14, 30, tzinfo=dt.timezone.utc).timestamp() * 1_000_000)


def _row(symbol: str, ts: int | str, seq: int | str, venue: str = "XNAS") -> str:
    vals = {c: "" for c in CANONICAL_COLUMNS}
    vals.update(venue=venue, symbol=symbol, ts=str(ts), seq=str(seq), event_type="0", bid_px="10.0", bid_sz="5",
                ask_px="10.5", ask_sz="7", trade_sz="", trade_side="0", source="x", source_row="0")
    return ",".join(vals[c] for c in CANONICAL_COLUMNS)


def _write(path, rows: list[str]) -> None:
    path.write_text(",".join(CANONICAL_COLUMNS) + "\n" + "".join(r + "\n" for r in rows), encoding="utf-8")


def _good(symbol: str, n: int, seq0: int = 1) -> list[str]:
    return [_row(symbol, JAN + 1_000 * i, seq0 + i) for i in range(n)]


def _tree(root) -> dict[str, int]:
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            out[p] = os.stat(p).st_size
    return out


def test_hostile_rows_are_quarantined_and_good_rows_ingested(settings_env, tmp_path):
    from thunderline_cli.ingest import run_ingest

    settings = settings_env
    land = settings.ticks_landing
    # a decoy where `symbol=../../../../../victim` would resolve from a partition directory
    victim = settings.lake_dir.parent / "victim"
    victim.mkdir(parents=True)
    (victim / "keep.parquet").write_bytes(b"not yours")
    escape = "../../../../../victim"

    files = {
        "traversal.csv": _good("GOOD", 20) + [_row(escape, JAN + 50_000, 100)],
        "pipe.csv": _good("PIPE", 10) + [_row("A|B", JAN + 60_000, 11)],
        "times.csv": _good("TIME", 10) + [
            _row("TIME", -5, 11),  # 1969-12-31
            _row("TIME", 946_684_800_000_000, 12),  # 2000-01-01: before the first supported month
            _row("TIME", 4_102_444_800_000_000, 13),  # 2100-01-01: beyond next month
        ],
        "digits.csv": _good("DIGS", 10) + [
            _row("DIGS", "12345678901234567890", 11),  # 20 digits: no int64 holds it
            _row("DIGS", JAN + 90_000, "98765432109876543210"),
        ],
        "control.csv": _good("CTRL", 5) + [_row("CTRL", JAN + 70_000, 6, venue="XN\x00AS")],
        "onlypipe.csv": [_row("X|Y", JAN, 1)],  # nothing to ingest: refused whole, not left indexed
    }
    for name, rows in files.items():
        _write(land / name, rows)
    before_outside = _tree(settings.lake_dir.parent / "victim")

    with dg.instance_for_test() as instance:
        report = run_ingest(settings, show_progress=False, instance=instance)
        assert not report.runs_failed, report.lines()
        assert [(os.path.basename(p), "symbol must be" in why) for p, why in report.files_rejected] == \
            [("onlypipe.csv", True)], report.files_rejected
        assert sorted(report.partitions) == ["2024-01|CTRL", "2024-01|DIGS", "2024-01|GOOD", "2024-01|PIPE",
                                             "2024-01|TIME"]
        again = run_ingest(settings, show_progress=False, instance=instance)
        assert not again.runs_failed and not again.partitions

    assert _tree(victim) == before_outside
    for path in _tree(settings.lake_dir):
        rel = os.path.relpath(os.path.realpath(path), os.path.realpath(settings.lake_dir))
        assert not rel.startswith(".."), path
    wh = Warehouse(settings.warehouse_url)
    with wh.session(settings.tenant_id) as s:
        kept = {}
        for b in s.select("raw_tick_batches"):
            kept[b["symbol"]] = kept.get(b["symbol"], 0) + b["rows"]
        q = {(os.path.basename(r["source"]), r["row_number"]): r for r in s.select("quarantine")}
        status = {os.path.basename(f["path"]): f["status"] for f in s.select("landing_files")}
    wh.dispose()
    assert kept == {"GOOD": 20, "PIPE": 10, "TIME": 10, "DIGS": 10, "CTRL": 5}
    assert status.pop("onlypipe.csv") == "rejected"
    assert set(status.values()) == {"processed"}, status
    expect = {
        ("traversal.csv", 22): "symbol",
        ("pipe.csv", 12): "symbol",
        ("times.csv", 12): "ts",
        ("times.csv", 13): "ts",
        ("times.csv", 14): "ts",
        ("digits.csv", 12): "ts",
        ("digits.csv", 13): "seq",
        ("control.csv", 7): "venue",
        ("onlypipe.csv", None): "*",
    }
    for key, field in expect.items():
        assert key in q, (key, sorted(q))
        r = q[key]
        assert r["field"] == field, r
        assert "Error" not in r["reason"] and r["reason"], r
    assert len(q) == len(expect), sorted(q)


def test_an_index_entry_written_before_the_rules_cannot_block_ingest(settings_env):
    """A landing-index entry naming partition 1969-12|TSLO (as the old classifier wrote) is reported, not run."""
    from thunderline.flow.landing import Classification, index_files
    from thunderline_cli.ingest import run_ingest

    settings = settings_env
    old = settings.ticks_landing / "old.csv"
    _write(old, _good("TSLO", 3))
    wh = Warehouse(settings.warehouse_url)
    wh.init_schema()
    with wh.session(settings.tenant_id) as s:
        index_files(s, "ticks", [old], lambda p: Classification("canonical_csv", ["1969-12|TSLO", "2024-01|A|B"]))
    wh.dispose()
    _write(settings.ticks_landing / "new.csv", _good("NEWS", 5))
    with dg.instance_for_test() as instance:
        report = run_ingest(settings, show_progress=False, instance=instance)
    assert not report.runs_failed and report.partitions == ["2024-01|NEWS"], report.lines()
    assert {label for label, _ in report.files_rejected} == {"1969-12|TSLO", "2024-01|A|B"}
