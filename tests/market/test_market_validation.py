"""Validation rules (numpy) and the same expectations through Great Expectations 1.x."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from thunderline.contracts import EVENT_QUOTE, EVENT_TRADE, TICK_SCHEMA
from thunderline.market import read_ticks
from thunderline.market.canonical import write_canonical_csv
from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks
from thunderline.market.validation import (
    RULES,
    GxTickSuite,
    TickValidator,
    gx_frame,
    month_bounds_us,
    rule_summary,
    validate_ticks,
)

JAN_START, FEB_START = 1_704_067_200_000_000, 1_706_745_600_000_000  # 2024-01 in UTC µs


def dirty_batch() -> pa.RecordBatch:
    """200 synthetic January ticks with one known defect per listed row."""
    b = next(synthetic_ticks(SyntheticSpec(n_ticks=200, seed=11, depth=3), "t", 200))
    d = b.to_pydict()
    d["bid_sz"][3] = -1.0                     # size_non_negative
    d["book_ask_sz"][4] = [1.0, -2.0, 3.0]    # size_non_negative (book level)
    d["ask_px"][5] = 0.0                      # price_positive_finite
    d["bid_px"][6] = float("inf")             # price_positive_finite
    d["book_bid_px"][7] = [d["bid_px"][7], -1.0, 1.0]  # price_positive_finite (book level)
    d["event_type"][8] = EVENT_TRADE
    d["trade_px"][8] = float("nan")           # trade_has_price
    d["trade_sz"][8] = 5.0
    d["seq"][20] = d["seq"][19]               # duplicate_seq
    d["seq"][30] = 3                          # seq_not_increasing (and not a duplicate of a kept seq? 3 exists → dup)
    d["seq"][40] = d["seq"][39] - 0           # duplicate_seq
    d["seq"][50] = -7                         # seq_not_increasing
    d["ts"][60] = FEB_START                   # ts_in_partition (end is exclusive)
    d["ts"][61] = JAN_START - 1               # ts_in_partition
    d["bid_px"][70], d["ask_px"][70] = 101.0, 100.5   # crossed (flag only)
    d["bid_px"][71], d["ask_px"][71] = 100.5, 100.5   # locked (flag only)
    d["event_type"][72] = EVENT_QUOTE
    return pa.RecordBatch.from_pylist(
        [dict(zip(d, vals)) for vals in zip(*d.values())], schema=TICK_SCHEMA)


def test_rules_reject_with_reasons_and_flag_crossed_locked():
    b = dirty_batch()
    v = validate_ticks(b, JAN_START, FEB_START)
    rejected = dict(zip(v.reject_index.tolist(), zip(v.reject_field, v.reject_reason)))
    assert sorted(rejected) == [3, 4, 5, 6, 7, 8, 20, 30, 40, 50, 60, 61]
    assert rejected[3] == ("bid_sz", "size_non_negative: size must be finite and >= 0")
    assert rejected[4][0] == "book_ask_sz"
    assert rejected[5][0] == "ask_px" and rejected[6][0] == "bid_px" and rejected[7][0] == "book_bid_px"
    assert rejected[8][0] == "trade_px" and rejected[8][1].startswith("trade_has_price")
    assert rejected[20][1].startswith("duplicate_seq") and rejected[40][1].startswith("duplicate_seq")
    assert rejected[30][1].startswith("duplicate_seq")  # seq 3 was seen earlier in the batch
    assert rejected[50][1].startswith("seq_not_increasing")
    assert rejected[60][0] == rejected[61][0] == "ts"
    assert v.flag_counts == {"crossed": 1, "locked": 1}
    assert v.keep[70] and v.keep[71]
    assert v.keep.sum() + v.n_rejected == b.num_rows
    assert set(v.rule_counts) == set(RULES)
    rj = v.rejects(b)
    assert [r.source_row for r in rj] == [b.column("source_row")[i].as_py() for i in v.reject_index]
    assert all(r.stage == "validate" and r.raw.startswith("{") for r in rj)


def test_seq_state_carries_across_chunks():
    b = dirty_batch()
    whole = validate_ticks(b, JAN_START, FEB_START)
    val = TickValidator(JAN_START, FEB_START)
    parts = [val.validate(b.slice(lo, 37)) for lo in range(0, b.num_rows, 37)]
    keep = np.concatenate([p.keep for p in parts])
    assert np.array_equal(keep, whole.keep)
    assert val.totals["rows"] == 200 and val.totals["kept"] + val.totals["rejected"] == 200
    assert val.totals["crossed"] == 1 and val.totals["locked"] == 1


@pytest.fixture(scope="module")
def gx_suite() -> GxTickSuite:
    return GxTickSuite(JAN_START, FEB_START)


def test_great_expectations_agrees_with_numpy_rules(gx_suite):
    b = dirty_batch()
    v = validate_ticks(b, JAN_START, FEB_START)
    gx = gx_suite.validate(gx_frame(b))
    ours = rule_summary(v)
    assert set(gx) == set(ours)
    for key in ours:
        assert (gx[key]["success"], gx[key]["unexpected_count"]) == \
            (ours[key]["success"], ours[key]["unexpected_count"]), key
    assert gx["ts_in_partition[ts]"]["unexpected_index_list"] == [60, 61]
    # crossed + locked rows 70/71 (kept, flagged) and rows 5/6 whose bad price also crosses (rejected)
    assert gx["bid_le_ask[bid_px,ask_px]"]["unexpected_count"] == 4
    assert not gx["unique[venue,symbol,source,seq]"]["success"]


def test_great_expectations_agrees_chunk_by_chunk_with_carried_seq(gx_suite):
    b = dirty_batch()
    val = TickValidator(JAN_START, FEB_START)
    for lo in range(0, b.num_rows, 64):
        part = b.slice(lo, 64)
        prev = dict(val.last_seq)
        v = val.validate(part)
        gx = gx_suite.validate(gx_frame(part, prev_seq=prev))
        assert gx["seq_increasing[seq]"]["unexpected_count"] == rule_summary(v)["seq_increasing[seq]"]["unexpected_count"]


def test_clean_synthetic_day_passes_everything(gx_suite):
    batches = list(synthetic_ticks(SyntheticSpec(n_ticks=50_000, seed=2), "t", 20_000))
    val = TickValidator(JAN_START, FEB_START)
    for b in batches:
        v = val.validate(b)
        assert v.n_rejected == 0
        assert all(s["success"] for s in gx_suite.validate(gx_frame(b)).values())
    assert val.totals["kept"] == 50_000


def test_kept_plus_rejected_equals_input_end_to_end(tmp_path):
    """Malformed text rows are parse rejects, rule breakers validation rejects; nothing else is lost."""
    src = list(synthetic_ticks(SyntheticSpec(n_ticks=300, seed=8, depth=2), "t", 300))
    p = tmp_path / "ticks.csv"
    write_canonical_csv(src, p)
    lines = p.read_text().splitlines()
    cols = lines[0].split(",")

    def put(i, col, val):
        f = lines[i].split(",")
        f[cols.index(col)] = val
        lines[i] = ",".join(f)

    put(10, "bid_px", "abc")        # bad number → parse
    put(11, "ask_sz", "-3")         # negative size → parse
    put(12, "trade_px", "NaN")      # NaN price → parse
    lines[13] = lines[13][:30]      # truncated → parse
    lines[14] += ",1"               # wrong column count → parse
    put(20, "seq", "5")             # out-of-order seq → validate
    put(21, "seq", lines[22].split(",")[cols.index("seq")])  # duplicate of the next row's seq → validate
    p.write_text("\n".join(lines) + "\n")
    parse_rejects: list = []
    val = TickValidator(JAN_START, FEB_START)
    kept = 0
    validate_rejects = []
    for b in read_ticks(p, "t", 64, on_reject=parse_rejects.append):
        v = val.validate(b)
        kept += int(v.keep.sum())
        validate_rejects += v.rejects(b)
    assert [r.source_row for r in parse_rejects] == [11, 12, 13, 14, 15]
    assert {r.field for r in parse_rejects} == {"bid_px", "ask_sz", "trade_px", "*"}
    assert sorted(r.source_row for r in validate_rejects) == [21, 23]
    assert kept + len(parse_rejects) + len(validate_rejects) == 300


def test_partition_pipeline_on_the_real_lobster_day(lobster_message):
    """The flow the asset runs: chunks → validate → windows; nothing rejected on the clean real day."""
    from thunderline.market import FULL_RECIPE, WindowBuilder, WindowResult, build_windows, iter_tick_chunks

    june_start, july_start = 1_338_508_800_000_000, 1_341_100_800_000_000  # 2012-06 in UTC µs
    val = TickValidator(june_start, july_start)
    builder = WindowBuilder(FULL_RECIPE)
    parts = []
    for chunk in iter_tick_chunks(lobster_message, "t", 10_000):
        assert chunk.rejects == ()
        v = val.validate(chunk.batch)
        parts.append(builder.update(chunk.batch.filter(pa.array(v.keep))))
    parts.append(builder.flush())
    assert val.totals["rows"] == val.totals["kept"] == 57_515
    assert val.totals["crossed"] == val.totals["locked"] == 0  # README: no crossed/locked rows
    got = WindowResult.concat(parts, FULL_RECIPE)
    want = build_windows(read_ticks(lobster_message, "t", 60_000))
    assert np.array_equal(got.features, want.features, equal_nan=True)
    assert np.array_equal(got.window_start_us, want.window_start_us)


def test_month_bounds():
    assert month_bounds_us("2024-01") == (JAN_START, FEB_START)
    assert month_bounds_us("2024-01-01") == (JAN_START, FEB_START)
    dec = month_bounds_us("2023-12")
    assert dec[1] == JAN_START and dec[1] - dec[0] == 31 * 86_400_000_000


def test_gx_frame_prev_seq_per_source_interleaved_and_carried():
    """prev_seq_max is per (venue, symbol, source) on interleaved sources (categorical grouping),
    seeded from the carried seqs; checked against a plain per-row loop."""
    b = dirty_batch()
    d = b.to_pydict()
    d["source"] = ["a" if i % 3 else "b" for i in range(b.num_rows)]
    d["symbol"] = ["X" if i % 5 else "Y" for i in range(b.num_rows)]
    b = pa.RecordBatch.from_pylist([dict(zip(d, v)) for v in zip(*d.values())], schema=TICK_SCHEMA)
    carry = {f"{d['venue'][0]}\x1fX\x1fa": 10_000, f"{d['venue'][0]}\x1fY\x1fb": 5}
    run, want = dict(carry), []
    for v, s, src, q in zip(d["venue"], d["symbol"], d["source"], d["seq"]):
        k = f"{v}\x1f{s}\x1f{src}"
        want.append(float(run[k]) if k in run else float("nan"))
        run[k] = max(q, run.get(k, q))
    got = gx_frame(b, prev_seq=carry)["prev_seq_max"].to_numpy()
    np.testing.assert_array_equal(got, np.array(want))


@pytest.mark.parametrize("pool_rows", [1, 150, 10**9])
def test_ingest_expectation_run_counts_match_rules_chunk_by_chunk(pool_rows):
    """The ingest's GX pass (BASIC result format, categorical frame, chunks pooled up to
    ``pool_rows`` before one validation) totals what the rules count, pooled or not."""
    from thunderline.flow.tick_ingest import _ExpectationRun

    b = dirty_batch()
    val, run, ours = TickValidator(JAN_START, FEB_START), _ExpectationRun(JAN_START, FEB_START, pool_rows), {}
    for lo in range(0, b.num_rows, 64):
        part = b.slice(lo, 64)
        run.add(part)
        for k, s in rule_summary(val.validate(part)).items():
            ours[k] = ours.get(k, 0) + s["unexpected_count"]
    got = {k: v["unexpected_count"] for k, v in run.summary().items()}
    assert got == ours and got["seq_increasing[seq]"] > 0 and got["trade_has_price[trade_px]"] == 1


def test_ingest_expectation_run_restore_drops_a_refused_files_pooled_chunks():
    """A refused file's chunks, pooled but not yet validated (or validated by a flush), leave nothing."""
    from thunderline.flow.tick_ingest import _ExpectationRun

    b = dirty_batch()
    for pool_rows in (10**9, 100):
        run, ref = _ExpectationRun(JAN_START, FEB_START, pool_rows), _ExpectationRun(JAN_START, FEB_START, pool_rows)
        run.add(b.slice(0, 64))
        ref.add(b.slice(0, 64))
        snap = run.snapshot()
        run.add(b.slice(64, 100))  # the refused file (with pool_rows=100 it flushes)
        run.restore(snap)
        run.add(b.slice(164))
        ref.add(b.slice(164))
        assert run.summary() == ref.summary()
        assert run.summary()["size_non_negative[bid_sz]"]["element_count"] == 64 + b.num_rows - 164
