"""Reader-level input rules (issue 16, items 1, 5, 6 and the lesser items of 10), without a warehouse.

Each test feeds one hostile file to the one reader entry point every format goes through
(``thunderline.market.iter_tick_chunks``) and checks that the hostile row is a reject
naming its line, field and rule, while the good rows of the same file are kept.
"""

from __future__ import annotations

import pytest

from thunderline.market import iter_tick_chunks
from thunderline.market.canonical import CANONICAL_COLUMNS
from thunderline.market.validation import validate_ticks

JAN = 1_704_205_800_000_000  # 2024-01-02 14:30 UTC
HEADER = ",".join(CANONICAL_COLUMNS)


def _row(symbol="AAA", ts=JAN, seq=1, venue="XNAS") -> str:
    vals = {c: "" for c in CANONICAL_COLUMNS}
    vals.update(venue=venue, symbol=symbol, ts=str(ts), seq=str(seq), event_type="0", bid_px="10", bid_sz="1",
                ask_px="11", ask_sz="1", trade_side="0", source="s", source_row="0")
    return ",".join(vals[c] for c in CANONICAL_COLUMNS)


def _read(path):
    chunks = list(iter_tick_chunks(path, "t", 64))
    kept = [r for c in chunks for r in c.batch.to_pylist()]
    rejects = {r.source_row: r for c in chunks for r in c.rejects}
    return kept, rejects


def _csv(tmp_path, rows, name="ticks.csv", prefix=b""):
    p = tmp_path / name
    p.write_bytes(prefix + (HEADER + "\n" + "\n".join(rows) + "\n").encode("utf-8"))
    return p


def test_twenty_digit_numbers_reject_their_row_not_the_file(tmp_path):
    p = _csv(tmp_path, [_row(seq=1), _row(ts="12345678901234567890", seq=2), _row(seq="98765432109876543210"),
                        _row(ts=JAN + 5, seq=4)])
    kept, rejects = _read(p)
    assert [r["seq"] for r in kept] == [1, 4]
    assert (rejects[3].field, rejects[4].field) == ("ts", "seq")
    assert "int64" in rejects[3].reason and "Error" not in rejects[3].reason


@pytest.mark.parametrize("symbol", ["A|B", "../../../somewhere/else", "BTC/USDT", "..", "A B", "AAPL\x1f", "X\x00"])
def test_symbols_that_are_no_identifier_are_rejects_with_the_rule(tmp_path, symbol):
    p = tmp_path / "s.csv"
    p.write_bytes((HEADER + "\n" + _row() + "\n").encode() + _row(symbol=symbol, seq=2).encode()
                  + b"\n" + (_row(seq=3) + "\n").encode())
    kept, rejects = _read(p)
    assert [r["seq"] for r in kept] == [1, 3]
    assert len(rejects) == 1
    (r,) = rejects.values()
    assert r.field == "symbol" and r.reason.startswith("identifier: symbol must be")


def test_control_bytes_in_venue_are_rejected(tmp_path):
    p = _csv(tmp_path, [_row(seq=1), _row(seq=2, venue="XN\x00AS"), _row(seq=3, venue="XNAS\x07")])
    kept, rejects = _read(p)
    assert [r["seq"] for r in kept] == [1]
    assert {r.field for r in rejects.values()} == {"venue"}


def test_utf8_bom_before_the_header_is_tolerated(tmp_path):
    p = _csv(tmp_path, [_row(seq=1), _row(seq=2, ts=JAN + 1)], prefix=b"\xef\xbb\xbf")
    kept, rejects = _read(p)
    assert [r["seq"] for r in kept] == [1, 2] and not rejects


def test_times_without_a_partition_are_rejects(tmp_path):
    p = _csv(tmp_path, [_row(seq=1, ts=-5), _row(seq=2, ts=1_000), _row(seq=3, ts=946_684_800_000_000),
                        _row(seq=4, ts=4_102_444_800_000_000), _row(seq=5)])
    kept, rejects = _read(p)
    assert [r["seq"] for r in kept] == [5]
    assert sorted(rejects) == [2, 3, 4, 5]
    assert all(r.field == "ts" and r.reason.startswith("ts_supported_range") for r in rejects.values())


def test_time_running_backwards_while_seq_rises_is_rejected(tmp_path):
    p = _csv(tmp_path, [_row(seq=1, ts=JAN + 10), _row(seq=2, ts=JAN + 20), _row(seq=3, ts=JAN + 5),
                        _row(seq=4, ts=JAN + 20), _row(seq=5, ts=JAN + 30)])
    kept, rejects = _read(p)
    import pyarrow as pa

    from thunderline.contracts import TICK_SCHEMA

    batch = pa.RecordBatch.from_pylist(kept, schema=TICK_SCHEMA)
    v = validate_ticks(batch, JAN - 10**9, JAN + 10**9)
    assert v.keep.tolist() == [True, True, False, True, True]
    assert v.reject_reason[0].startswith("ts_not_decreasing") and v.reject_field == ["ts"]


def test_parquet_with_null_times_and_symbols_classifies_and_quarantines(tmp_path):
    """A canonical Parquet file with a null ts was refused whole as 'ArrowInvalid … zero_copy_only'."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from thunderline.contracts import TICK_SCHEMA
    from thunderline.flow.tick_files import classify_tick_file
    from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks

    t = pa.Table.from_batches(list(synthetic_ticks(SyntheticSpec(n_ticks=6, seed=3, symbol="PQT"), "x", 6)))
    cols = {n: t.column(n).to_pylist() for n in t.column_names}
    cols["ts"][2] = None
    cols["symbol"][4] = None
    p = tmp_path / "nulls.parquet"
    pq.write_table(pa.table({k: pa.array(v, TICK_SCHEMA.field(k).type) for k, v in cols.items()}), p)
    assert classify_tick_file(p).partitions == ["2024-01|PQT"]
    kept, rejects = _read(p)
    assert len(kept) == 4 and sorted(rejects) == [3, 5]
    assert {r.field for r in rejects.values()} == {"ts", "symbol"}
