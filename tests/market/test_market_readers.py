"""Readers on the real files, malformed input, canonical round trips, determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from thunderline.contracts import EVENT_QUOTE, EVENT_STATUS, EVENT_TRADE, TICK_SCHEMA
from thunderline.market import detect_format, iter_tick_chunks, read_ticks, rejects_to_table
from thunderline.market.canonical import ticks_sha256, write_canonical_csv, write_canonical_parquet
from thunderline.market.lobster import parse_time_ns
from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks


def read_all(path, chunk_rows=10_000, **kw) -> tuple[pa.Table, list]:
    rejects: list = []
    batches = list(read_ticks(path, "tenant-a", chunk_rows, on_reject=rejects.append, **kw))
    for b in batches:
        assert b.schema.equals(TICK_SCHEMA, check_metadata=True)
        assert b.num_rows <= chunk_rows
    return pa.Table.from_batches(batches, schema=TICK_SCHEMA), rejects


# --------------------------------------------------------------------------- LOBSTER, the real day
def test_lobster_amzn_day_exact(lobster_message: Path):
    t, rejects = read_all(lobster_message, 8_192)
    assert rejects == []
    assert t.num_rows == 57_515
    raw = np.loadtxt(lobster_message, delimiter=",", dtype=str)
    types, counts = np.unique(raw[:, 1].astype(int), return_counts=True)
    assert dict(zip(types.tolist(), counts.tolist())) == {1: 27_845, 2: 16, 3: 18_235, 4: 8_974, 5: 2_445}
    ev = t.column("event_type").to_numpy()
    assert (ev == EVENT_QUOTE).sum() == 27_845 + 16 + 18_235
    assert (ev == EVENT_TRADE).sum() == 8_974 + 2_445
    assert (ev == EVENT_STATUS).sum() == 0
    # the trade rows are exactly the type 4/5 rows, aggressor opposite to the resting side
    is_exec = np.isin(raw[:, 1].astype(int), [4, 5])
    assert np.array_equal(ev == EVENT_TRADE, is_exec)
    side = t.column("trade_side").to_numpy()
    assert np.array_equal(side[is_exec], -raw[is_exec, 5].astype(int))
    # first / last time: 34200.017459617 and 57599.95935965 s after midnight, EDT (UTC−4)
    ts = t.column("ts").to_numpy()
    assert ts[0] == 1_340_285_400_017_459  # 2012-06-21T13:30:00.017459Z
    assert ts[-1] == 1_340_308_799_959_359  # 2012-06-21T19:59:59.959359Z
    assert np.all(np.diff(ts) >= 0)
    assert t.column("seq").to_numpy().tolist() == list(range(1, 57_516))
    assert t.column("source_row").to_numpy().tolist() == list(range(1, 57_516))
    assert set(t.column("source").to_pylist()) == {str(lobster_message)}
    assert set(t.column("venue").to_pylist()) == {"NASDAQ"} and set(t.column("symbol").to_pylist()) == {"AMZN"}
    # prices: executions span 2,205,100–2,260,300 (×10⁻⁴), spreads 100–7,700, never crossed
    tp = t.column("trade_px").to_numpy()[is_exec]
    assert (tp.min(), tp.max()) == (220.51, 226.03)
    assert np.array_equal(np.round(tp * 10_000).astype(np.int64), raw[is_exec, 4].astype(np.int64))
    bid, ask = t.column("bid_px").to_numpy(), t.column("ask_px").to_numpy()
    spread_ticks = np.round((ask - bid) * 10_000).astype(int)
    assert (spread_ticks.min(), spread_ticks.max()) == (100, 7_700)
    ob = np.loadtxt(str(lobster_message).replace("_message_", "_orderbook_"), delimiter=",", dtype=np.int64)
    assert np.array_equal(np.round(ask * 10_000).astype(np.int64), ob[:, 0])
    assert np.array_equal(t.column("ask_sz").to_numpy(), ob[:, 1].astype(float))
    assert np.array_equal(np.round(bid * 10_000).astype(np.int64), ob[:, 2])
    assert t.column("book_bid_px").to_pylist()[0] == [bid[0]]


def test_lobster_time_parses_exactly_from_text():
    assert parse_time_ns("34200.017459617") == 34_200_017_459_617
    assert parse_time_ns("34200.18960767") == 34_200_189_607_670
    assert parse_time_ns("57599.9") == 57_599_900_000_000
    assert parse_time_ns("36000") == 36_000_000_000_000
    with pytest.raises(ValueError):
        parse_time_ns("1.0123456789")


def test_lobster_dst_dummy_levels_halts_and_bad_rows(tmp_path):
    # a winter day (EST, UTC−5), level 2 with a dummy ask level, a halt, and broken rows
    msg = tmp_path / "XYZ_2012-01-03_34200000_57600000_message_2.csv"
    ob = tmp_path / "XYZ_2012-01-03_34200000_57600000_orderbook_2.csv"
    msg.write_text(
        "34200.5,1,11,100,1000000,1\n"          # 1 ok
        "34201.25,4,11,40,1000000,1\n"          # 2 execution of the resting bid → seller-initiated
        "34202,7,0,0,-1,-1\n"                   # 3 halt
        "34203,1,12,-5,1000100,-1\n"            # 4 negative size
        "34204,1,13,5,abc,-1\n"                 # 5 bad number
        "34205,1,14,5,1000100\n"                # 6 wrong column count
        "34206,9,15,5,1000100,1\n"              # 7 unknown type
        "34207,1,16,5,1000100,1\n"              # 8 bad orderbook row
        "34208,1,17,5,1000"                     # 9 truncated last line (no newline)
    )
    ob.write_text(
        "1000100,10,1000000,100,9999999999,0,999900,5\n"
        "1000100,10,1000000,60,9999999999,0,999900,5\n"
        "1000100,10,1000000,60,9999999999,0,999900,5\n"
        "1000100,10,1000000,60,9999999999,0,999900,5\n"
        "1000100,10,1000000,60,9999999999,0,999900,5\n"
        "1000100,10,1000000,60,9999999999,0,999900,5\n"
        "1000100,10,1000000,60,9999999999,0,999900,5\n"
        "1000100,NaN,1000000,60,9999999999,0,999900,5\n"
        "1000100,10,1000000,60,9999999999,0,999900,5\n"
        "1000100,10,1000000,60,9999999999,0,999900,5\n"  # 10: no message row
    )
    assert detect_format(msg) == "lobster" and detect_format(ob) == "lobster"
    t, rejects = read_all(ob, 3)  # either member of the pair works
    assert t.num_rows + len(rejects) == 10
    assert t.column("source_row").to_pylist() == [1, 2, 3]
    by_row = {r.source_row: r for r in rejects}
    assert sorted(by_row) == [4, 5, 6, 7, 8, 9, 10]
    assert by_row[9].field == "*" and by_row[9].raw == "34208,1,17,5,1000"
    assert by_row[4].field == "size" and "size" in by_row[4].reason
    assert by_row[5].field == "price" and by_row[5].raw == "34204,1,13,5,abc,-1"
    assert by_row[6].field == "*" and "columns" in by_row[6].reason
    assert by_row[7].field == "type"
    assert by_row[8].field == "orderbook.ask_sz_1"
    assert by_row[10].source.endswith("_orderbook_2.csv")
    ts = t.column("ts").to_pylist()
    assert ts[0] == 1_325_601_000_500_000  # 2012-01-03 09:30:00.5 EST = 14:30:00.5Z
    assert t.column("event_type").to_pylist() == [EVENT_QUOTE, EVENT_TRADE, EVENT_STATUS]
    assert t.column("trade_side").to_pylist()[1] == -1
    row0 = t.slice(0, 1).to_pylist()[0]
    assert row0["book_ask_px"][0] == 100.01 and np.isnan(row0["book_ask_px"][1]) and row0["book_ask_sz"][1] == 0
    assert row0["book_bid_px"] == [100.0, 99.99]
    halt = t.slice(2, 1).to_pylist()[0]
    assert np.isnan(halt["bid_px"]) and halt["book_bid_px"] is None


# --------------------------------------------------------------------------- crypto samples
CRYPTO = {
    "crypto/tardis/bitmex_trades_XBTUSD.csv": ("tardis_trades", 10),
    "crypto/tardis/huobi-dm-swap_quotes_BTC-USD.csv": ("tardis_quotes", 10),
    "crypto/tardis/binance-futures_book_snapshot_5_BTCUSDT.csv": ("tardis_book_snapshot", 10),
    "crypto/tardis/binance-futures_book_snapshot_25_BTCUSDT.csv": ("tardis_book_snapshot", 10),
    "crypto/tardis/deribit_incremental_book_L2_BTC-PERPETUAL.csv": ("tardis_incremental_book_L2", 15),
    "crypto/binance/btcusdt-depth-snap.csv": ("binance_depth", 100),
    "crypto/binance/btcusdt-depth-update.csv": ("binance_depth", 100),
}


@pytest.mark.parametrize("rel", sorted(CRYPTO))
def test_crypto_samples_parse_completely(market_data: Path, rel: str):
    fmt, rows = CRYPTO[rel]
    p = market_data / rel
    assert detect_format(p) == fmt
    t, rejects = read_all(p, 7)
    assert rejects == [] and t.num_rows == rows
    assert t.column("source_row").to_pylist() == list(range(2, rows + 2))
    seq = t.column("seq").to_numpy()
    assert np.all(np.diff(seq) > 0)


def test_crypto_values(market_data: Path):
    trades, _ = read_all(market_data / "crypto/tardis/bitmex_trades_XBTUSD.csv")
    r0 = trades.slice(0, 1).to_pylist()[0]
    assert (r0["venue"], r0["symbol"], r0["ts"], r0["trade_px"], r0["trade_sz"], r0["trade_side"]) == \
        ("bitmex", "XBTUSD", 1_583_020_803_145_000, 8531.5, 2152.0, -1)
    quotes, _ = read_all(market_data / "crypto/tardis/huobi-dm-swap_quotes_BTC-USD.csv")
    q0 = quotes.slice(0, 1).to_pylist()[0]
    assert (q0["bid_px"], q0["bid_sz"], q0["ask_px"], q0["ask_sz"]) == (8629.2, 806.0, 8629.3, 5494.0)
    snap25, _ = read_all(market_data / "crypto/tardis/binance-futures_book_snapshot_25_BTCUSDT.csv")
    s0 = snap25.slice(0, 1).to_pylist()[0]
    assert len(s0["book_ask_px"]) == 25 and s0["book_ask_px"][0] == 11657.08 and s0["book_bid_sz"][0] == 10.896
    assert s0["book_bid_px"] == sorted(s0["book_bid_px"], reverse=True)
    inc, _ = read_all(market_data / "crypto/tardis/deribit_incremental_book_L2_BTC-PERPETUAL.csv")
    last = inc.slice(14, 1).to_pylist()[0]
    assert last["book_ask_px"] == [6421.5, 6422.0, 6422.5, 6423.0, 6423.5, 6424.0, 6424.5, 6425.0, 6425.5, 6426.0]
    assert np.isnan(last["bid_px"])  # the sample holds only the first ask rows of the snapshot
    snap, _ = read_all(market_data / "crypto/binance/btcusdt-depth-snap.csv", depth=5)
    b_last = snap.slice(99, 1).to_pylist()[0]
    assert b_last["book_bid_px"][0] == 20377.0 and len(b_last["book_bid_px"]) == 5
    assert b_last["ts"] == 1_667_346_579_146_000
    upd, _ = read_all(market_data / "crypto/binance/btcusdt-depth-update.csv")
    assert upd.column("seq").to_pylist()[:2] == [2_098_041_696_700 * 100_000, 2_098_041_696_700 * 100_000 + 1]


def test_binance_snapshot_then_updates_keep_one_book(market_data: Path, tmp_path):
    snap = (market_data / "crypto/binance/btcusdt-depth-snap.csv").read_text().splitlines()
    upd = (market_data / "crypto/binance/btcusdt-depth-update.csv").read_text().splitlines()
    both = tmp_path / "btcusdt-depth.csv"
    both.write_text("\n".join(snap + upd[1:]) + "\n")
    t, rejects = read_all(both)
    assert rejects == [] and t.num_rows == 200
    assert np.all(np.diff(t.column("seq").to_numpy()) > 0)
    bids: dict[float, float] = {}
    asks: dict[float, float] = {}
    for line in snap[1:] + upd[1:]:  # an independent replay: absolute sizes, 0 deletes
        f = line.split(",")
        side = bids if f[4] == "b" else asks
        side.pop(float(f[6]), None) if float(f[7]) == 0 else side.__setitem__(float(f[6]), float(f[7]))
    last = t.slice(199, 1).to_pylist()[0]
    best_bids = sorted(bids, reverse=True)[:10]
    assert last["book_bid_px"] == best_bids and last["book_bid_sz"] == [bids[p] for p in best_bids]
    best_asks = sorted(asks)[:10]
    assert last["book_ask_px"][: len(best_asks)] == best_asks
    assert 20377.0 in bids  # the snapshot's bids survive the update rows


def test_tardis_malformed_rows(tmp_path):
    p = tmp_path / "x_trades.csv"
    p.write_text(
        "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"
        "bitmex,XBTUSD,1583020803145000,1583020803307160,a,sell,8531.5,2152\n"
        "bitmex,XBTUSD,1583020803145001,1583020803307160,b,sell,NaN,1\n"
        "bitmex,XBTUSD,1583020803145002,1583020803307160,c,buy,8531.5,-3\n"
        "bitmex,XBTUSD,1583020803145003,1583020803307160,d,buy,8531.5\n"
        "bitmex,XBTUSD,15830208031450x4,1583020803307160,e,buy,8531.5,1\n"
        "bitmex,XBTUSD,1583020803145005,1583020803307160,f,hold,8531.5,1\n"
        "bitmex,XBTUSD,1583020803145006,1583020803307160,g,buy,1e400,1\n"
        "bitmex,XBTUSD,1583020803145007,158302080"
    )
    t, rejects = read_all(p)
    assert t.num_rows == 1 and len(rejects) == 7
    assert [(r.source_row, r.field) for r in rejects] == [
        (3, "price"), (4, "amount"), (5, "*"), (6, "timestamp"), (7, "side"), (8, "price"), (9, "*")]
    assert all(r.source == str(p) and r.raw for r in rejects)
    tab = rejects_to_table(rejects)
    assert tab.num_rows == 7 and tab.column("stage").to_pylist() == ["parse"] * 7


# --------------------------------------------------------------------------- canonical format
def test_canonical_csv_and_parquet_round_trip(tmp_path, market_data: Path):
    src = list(synthetic_ticks(SyntheticSpec(n_ticks=3_000, seed=9, depth=3), "tenant-a", 1_000))
    trades, _ = read_all(market_data / "crypto/tardis/bitmex_trades_XBTUSD.csv")
    for name, batches in (("syn", src), ("trades", trades.to_batches())):
        csv_path, pq_path = tmp_path / f"{name}.csv", tmp_path / f"{name}.parquet"
        write_canonical_csv(batches, csv_path)
        write_canonical_parquet(batches, pq_path)
        assert detect_format(csv_path) == "canonical_csv" and detect_format(pq_path) == "canonical_parquet"
        back_csv, rej1 = read_all(csv_path, 777)
        back_pq, rej2 = read_all(pq_path, 777)
        assert rej1 == rej2 == []
        orig = pa.Table.from_batches(batches).drop_columns(["source", "source_row"])
        for back in (back_csv, back_pq):
            assert ticks_sha256([back.drop_columns(["source", "source_row"]).append_column(
                "source", orig.column("venue")).append_column("source_row", orig.column("ts"))]) == \
                ticks_sha256([orig.append_column("source", orig.column("venue")).append_column(
                    "source_row", orig.column("ts"))])
        assert back_csv.column("source_row").to_pylist() == list(range(2, orig.num_rows + 2))
        assert back_pq.column("source_row").to_pylist() == list(range(1, orig.num_rows + 1))


def test_canonical_csv_malformed_rows_are_rejected_not_lost(tmp_path):
    src = list(synthetic_ticks(SyntheticSpec(n_ticks=20, seed=1, depth=2), "t", 20))
    p = tmp_path / "c.csv"
    write_canonical_csv(src, p)
    lines = p.read_text().splitlines()
    cols = lines[0].split(",")
    def bad(i, col, val):  # noqa: E306
        f = lines[i].split(",")
        f[cols.index(col)] = val
        lines[i] = ",".join(f)
    bad(2, "bid_px", "NaN")
    bad(3, "ask_sz", "-1")
    bad(4, "seq", "12.5")
    bad(5, "book_bid_px", "1;2;3")
    bad(6, "event_type", "9")
    lines[7] = lines[7][:25]
    lines[8] = lines[8] + ",extra"
    p.write_text("\n".join(lines) + "\n")
    t, rejects = read_all(p, 4)
    assert t.num_rows + len(rejects) == 20
    assert [(r.source_row, r.field) for r in rejects] == [
        (3, "bid_px"), (4, "ask_sz"), (5, "seq"), (6, "book"), (7, "event_type"), (8, "*"), (9, "*")]


def test_canonical_parquet_structural_rejects(tmp_path):
    b = next(synthetic_ticks(SyntheticSpec(n_ticks=10, seed=1, depth=2), "t", 10))
    d = b.to_pydict()
    d["bid_sz"][2] = -4.0
    d["event_type"][3] = 7
    d["ask_px"][4] = float("inf")
    d["book_ask_sz"][5] = [1.0]
    d["seq"][6] = None
    p = tmp_path / "bad.parquet"
    tab = pa.table(d, schema=pa.schema([f.with_nullable(True) for f in TICK_SCHEMA]))
    import pyarrow.parquet as pq

    pq.write_table(tab, p)
    t, rejects = read_all(p, 4)
    assert t.num_rows == 5
    assert sorted((r.source_row, r.field) for r in rejects) == [
        (3, "bid_sz"), (4, "event_type"), (5, "ask_px"), (6, "book"), (7, "seq")]


# --------------------------------------------------------------------------- determinism, chunking
def test_same_input_read_twice_gives_identical_hashes(lobster_message: Path):
    h1 = ticks_sha256(read_ticks(lobster_message, "t", 5_000))
    h2 = ticks_sha256(read_ticks(lobster_message, "t", 50_000))
    assert h1 == h2
    assert ticks_sha256(read_ticks(lobster_message, "other-tenant", 5_000)) != h1


def test_chunks_are_bounded_and_carry_their_rejects(tmp_path):
    p = tmp_path / "q_quotes.csv"
    rows = ["exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount"]
    for i in range(100):
        ts = 1_704_067_200_000_000 + i  # 2024-01-01: times before 2010 have no partition and are rejects
        rows.append(f"x,Y,{ts},{ts},5,10.{i % 10 + 1},10.0,{'bad' if i % 10 == 0 else 3}")
    p.write_text("\n".join(rows) + "\n")
    chunks = list(iter_tick_chunks(p, "t", 16))
    assert all(c.batch.num_rows <= 16 and len(c.rejects) <= 16 for c in chunks)
    assert sum(c.batch.num_rows for c in chunks) == 90 and sum(len(c.rejects) for c in chunks) == 10
    assert pc.min(pa.concat_arrays([c.batch.column("ask_px") for c in chunks])).as_py() == 10.1


def test_detect_format_refuses_unknown_files(tmp_path):
    p = tmp_path / "mystery.csv"
    p.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(ValueError, match="mystery.csv"):
        detect_format(p)


def test_l2_book_against_a_plain_dict():
    from decimal import Decimal

    from thunderline.market.book import L2Book

    rng = np.random.default_rng(3)
    book, bids, asks = L2Book(), {}, {}
    for _ in range(2_000):
        is_bid = bool(rng.integers(0, 2))
        p = Decimal(int(rng.integers(990, 1010))) / 10
        q = Decimal(int(rng.integers(0, 4)))
        book.apply(is_bid, p, q)
        side = bids if is_bid else asks
        side.pop(p, None) if q == 0 else side.__setitem__(p, q)
    bpx, bsz, apx, asz = book.top(5)
    want_b = sorted(bids, reverse=True)[:5]
    want_a = sorted(asks)[:5]
    assert bpx[: len(want_b)] == [float(p) for p in want_b] and bsz[: len(want_b)] == [float(bids[p]) for p in want_b]
    assert apx[: len(want_a)] == [float(p) for p in want_a] and asz[: len(want_a)] == [float(asks[p]) for p in want_a]
