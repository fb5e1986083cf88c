"""A month of vendor files per symbol: sequence and identity per source file, on the real AMZN day.

The real LOBSTER pair is split and renamed inside the test's tmp dir (never copied into the
repo): two halves of one day, the same day under a second date, a gzip'd re-delivery, a
corrected (conflicting) re-delivery. Each scenario goes through the core ingest (landing index →
lake batches → windows) on SQLite and PostgreSQL and is compared with ingesting the
concatenation in one file.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from thunderline.flow.landing import candidate_files, index_files
from thunderline.flow.market_windows import build_window_partition
from thunderline.flow.tick_files import classify_tick_file
from thunderline.flow.tick_ingest import ingest_tick_partition
from thunderline.market import read_ticks, write_canonical_csv
from thunderline.store.lake import Lake

DAY = "AMZN_2012-06-21_34200000_57600000_{}_1.csv"
N = 57_515


def _lines(market_data: Path, kind: str) -> list[bytes]:
    return (market_data / "lobster" / DAY.format(kind)).read_bytes().splitlines(keepends=True)


def _write_pair(dst: Path, name: str, msg: list[bytes], ob: list[bytes], *, gz: bool = False) -> Path:
    """Write a LOBSTER pair named ``name`` (with ``{}`` for message/orderbook); returns the message path."""
    dst.mkdir(parents=True, exist_ok=True)
    for kind, rows in (("message", msg), ("orderbook", ob)):
        p = dst / (name.format(kind) + (".gz" if gz else ""))
        data = b"".join(rows)
        p.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return dst / (name.format("message") + (".gz" if gz else ""))


def _ingest(warehouse, home: Path, month: str = "2012-06", symbol: str = "AMZN"):
    lake = Lake(home / "lake")
    with warehouse.session("t") as s:
        index_files(s, "ticks", candidate_files(home / "landing"), classify_tick_file)
        summary = ingest_tick_partition(s, lake, month, symbol, run_expectations=False)
        win = build_window_partition(s, month, symbol)
    return summary, win


def _windows(warehouse, symbol: str = "AMZN") -> list[tuple]:
    with warehouse.session("t") as s:
        t = s.table("feature_windows")
        rows = s.select("feature_windows", t.c.kind == "market", t.c.key == symbol, order_by=[t.c.window_start])
    return [(r["window_start"], r["window_end"], r["provenance"]["tick_count"],
             tuple(sorted((k, None if v is None else round(v, 12)) for k, v in r["features"].items())))
            for r in rows]


def _batches(warehouse) -> list[dict]:
    with warehouse.session("t") as s:
        return s.select("raw_tick_batches")


def _quarantine(warehouse) -> list[dict]:
    with warehouse.session("t") as s:
        return s.select("quarantine")


@pytest.fixture(scope="module")
def whole_day(market_data, tmp_path_factory):
    """Windows of the untouched day, ingested alone on SQLite (the reference for the splits; once per module,
    shared by both backends' runs)."""
    from thunderline.store import Warehouse

    home = tmp_path_factory.mktemp("whole")
    _write_pair(home / "landing", DAY, _lines(market_data, "message"), _lines(market_data, "orderbook"))
    wh = Warehouse(f"sqlite:///{home / 'wh.db'}")
    wh.init_schema()
    summary, _ = _ingest(wh, home)
    out = (summary, _windows(wh))
    wh.dispose()
    return out


def test_day_split_in_two_files_loses_nothing_and_windows_match_the_whole(warehouse, market_data, tmp_path,
                                                                           whole_day):
    msg, ob = _lines(market_data, "message"), _lines(market_data, "orderbook")
    cut = 28_000
    _write_pair(tmp_path / "landing", "AMZN_2012-06-21_34200000_45000000_{}_1.csv", msg[:cut], ob[:cut])
    _write_pair(tmp_path / "landing", "AMZN_2012-06-21_45000000_57600000_{}_1.csv", msg[cut:], ob[cut:])
    summary, win = _ingest(warehouse, tmp_path)
    whole_summary, whole_windows = whole_day
    assert summary.rows_read == N
    assert summary.rows_kept == whole_summary.rows_kept and summary.rows_rejected == whole_summary.rows_rejected
    assert summary.reject_reasons.get("seq_not_increasing", 0) == 0 and summary.rows_duplicate == 0
    assert summary.files_rejected == []
    assert _windows(warehouse) == whole_windows
    # provenance cites each half's own rows: the window across the cut names both files' batches
    with warehouse.session("t") as s:
        t = s.table("feature_windows")
        rows = s.select("feature_windows", t.c.kind == "market")
    by_id = {b["id"]: b for b in _batches(warehouse)}
    spanning = [r for r in rows if len({by_id[b["batch_id"]]["source_file"] for b in r["provenance"]["batches"]}) == 2]
    assert spanning, "a window straddles the two files"
    for r in spanning:
        cited = r["provenance"]["batches"]
        assert sum(b["seq_max"] - b["seq_min"] + 1 for b in cited) == r["provenance"]["tick_count"]
        assert cited[-1]["seq_min"] == 1  # the afternoon file's sequence starts again at its row 1


@pytest.fixture(scope="module")
def two_days_concatenated(market_data, tmp_path_factory):
    """(rows kept, windows) of the two days' ticks in one canonical CSV with one sequence across them, ingested
    on SQLite: the reference both backends' two-file runs are compared with (once per module)."""
    import pyarrow as pa

    from thunderline.store import Warehouse

    src = tmp_path_factory.mktemp("two_days_src")
    msg, ob = _lines(market_data, "message"), _lines(market_data, "orderbook")
    d1 = _write_pair(src, DAY, msg, ob)
    d2 = _write_pair(src, "AMZN_2012-06-22_34200000_57600000_{}_1.csv", msg, ob)
    parts = [b for p in (d1, d2) for b in read_ticks(p, "t")]
    t = pa.Table.from_batches(parts)
    t = t.set_column(t.schema.get_field_index("seq"), "seq", pa.array(np.arange(1, t.num_rows + 1), pa.int64()))
    concat_home = tmp_path_factory.mktemp("concat")
    (concat_home / "landing").mkdir(parents=True)
    write_canonical_csv(t.to_batches(), concat_home / "landing" / "amzn_two_days.csv")
    wh = Warehouse(f"sqlite:///{concat_home / 'wh.db'}")
    wh.init_schema()
    c_summary, _ = _ingest(wh, concat_home)
    out = (c_summary.rows_kept, _windows(wh))
    wh.dispose()
    return out


def test_two_days_of_one_month_equal_their_concatenation(warehouse, market_data, tmp_path, two_days_concatenated):
    msg, ob = _lines(market_data, "message"), _lines(market_data, "orderbook")
    _write_pair(tmp_path / "landing", DAY, msg, ob)
    _write_pair(tmp_path / "landing", "AMZN_2012-06-22_34200000_57600000_{}_1.csv", msg, ob)
    summary, win = _ingest(warehouse, tmp_path)
    assert summary.rows_read == 2 * N and summary.rows_duplicate == 0
    assert summary.rows_kept + summary.rows_rejected == 2 * N
    assert summary.reject_reasons.get("seq_not_increasing", 0) == 0

    c_kept, c_windows = two_days_concatenated
    assert c_kept == summary.rows_kept
    assert _windows(warehouse) == c_windows


def test_same_file_twice_renamed_or_gzipped_changes_nothing(warehouse, market_data, tmp_path):
    msg, ob = _lines(market_data, "message"), _lines(market_data, "orderbook")
    cut = 30_000
    first = "AMZN_2012-06-21_34200000_46000000_{}_1.csv"
    _write_pair(tmp_path / "landing" / "a", first, msg[:cut], ob[:cut])
    _write_pair(tmp_path / "landing" / "a", "AMZN_2012-06-21_46000000_57600000_{}_1.csv", msg[cut:], ob[cut:])
    s1, w1 = _ingest(warehouse, tmp_path)
    windows, batches = _windows(warehouse), sorted(b["id"] for b in _batches(warehouse))
    quarantined = len(_quarantine(warehouse))

    _write_pair(tmp_path / "landing" / "b", first, msg[:cut], ob[:cut])  # the same bytes again elsewhere
    _write_pair(tmp_path / "landing" / "c", first, msg[:cut], ob[:cut], gz=True)  # re-delivered gzip'd
    # and the whole day re-delivered: it holds both halves' ticks and nothing else
    _write_pair(tmp_path / "landing" / "d", DAY, msg, ob)
    s2, w2 = _ingest(warehouse, tmp_path)
    assert s2.rows_kept == s1.rows_kept
    assert s2.rows_duplicate == cut + N
    assert len(s2.files_duplicate) == 2 and s2.files_rejected == []
    assert _windows(warehouse) == windows and w2.hash_of_hashes == w1.hash_of_hashes
    assert sorted(b["id"] for b in _batches(warehouse)) == batches
    assert len(_quarantine(warehouse)) == quarantined


def test_a_conflicting_redelivery_is_refused_whole_with_its_reason(warehouse, market_data, tmp_path):
    msg, ob = _lines(market_data, "message"), _lines(market_data, "orderbook")
    _write_pair(tmp_path / "landing" / "a", DAY, msg, ob)
    s1, w1 = _ingest(warehouse, tmp_path)
    batches = sorted(b["id"] for b in _batches(warehouse))
    # a "corrected" delivery of the same day: sizes changed on some rows in the middle
    fixed = list(msg)
    for i in range(20_000, 20_050):
        f = fixed[i].split(b",")
        f[3] = str(int(f[3]) + 1).encode()
        fixed[i] = b",".join(f)
    bad = _write_pair(tmp_path / "landing" / "b", "AMZN_2012-06-21_34200000_57600001_{}_1.csv", fixed, ob)
    s2, w2 = _ingest(warehouse, tmp_path)
    assert [f["path"] for f in s2.files_rejected] == [str(bad)]
    assert "conflicting_file" in s2.files_rejected[0]["reason"]
    assert s2.rows_kept == s1.rows_kept and w2.hash_of_hashes == w1.hash_of_hashes
    assert sorted(b["id"] for b in _batches(warehouse)) == batches
    q = [r for r in _quarantine(warehouse) if r["source"] == str(bad)]
    assert len(q) == 1 and q[0]["reason"].startswith("conflicting_file") and q[0]["field"] == "*"
    assert list((tmp_path / "lake").rglob("*.parquet")) and all(
        str(bad) not in b["source_file"] for b in _batches(warehouse))


def test_byte_identical_days_under_the_content_store_are_two_days(warehouse, market_data, tmp_path):
    """The same bytes landed as two dates are two days, also when landing copies into the content
    store (as ``thunderline ingest`` does): LOBSTER rows carry seconds after midnight, the day is
    only in the name, so the stored entry's id must cover the name's day as well as the bytes."""
    from thunderline.market.identity import tick_file_identity
    from thunderline.store.content import ContentStore

    msg, ob = _lines(market_data, "message"), _lines(market_data, "orderbook")
    d1 = _write_pair(tmp_path / "landing", DAY, msg, ob)
    d2 = _write_pair(tmp_path / "landing", "AMZN_2012-06-22_34200000_57600000_{}_1.csv", msg, ob)
    assert d1.read_bytes() == d2.read_bytes()
    store = ContentStore(tmp_path / "landed")
    lake = Lake(tmp_path / "lake")
    with warehouse.session("t") as s:
        landed = index_files(s, "ticks", candidate_files(tmp_path / "landing"), classify_tick_file, store=store)
        summary = ingest_tick_partition(s, lake, "2012-06", "AMZN", run_expectations=False)
    msgs = [f for f in landed if "_message_" in f.path]
    assert sorted(f.sha256 for f in msgs) == sorted({tick_file_identity(d1), tick_file_identity(d2)})
    assert all(f.is_new and f.status == "indexed" for f in msgs)
    stored = {f.sha256: p for f in msgs for p in (store.entry_dir("ticks", f.sha256),)}
    assert all((p / Path(f.path).name).is_file() for f in msgs for p in [stored[f.sha256]])
    assert summary.rows_read == 2 * N and summary.rows_duplicate == 0 and summary.files_duplicate == []
    # re-landing the second day changes nothing
    with warehouse.session("t") as s:
        again = index_files(s, "ticks", [d2], classify_tick_file, store=store)
    assert [f.is_new for f in again] == [False] and again[0].sha256 == tick_file_identity(d2)
