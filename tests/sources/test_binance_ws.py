"""The Binance WebSocket adapter: order-book sync rules (pure), and the live source against a local
WebSocket + REST stand-in replaying frames built from the real Binance rows — dropped frames,
out-of-order ids, a disconnect mid-burst and a stalled server — landing exactly once into the same
micro-batch path as ``thunderline live``, with the same window and decision hashes as a replay of
the recorded frames from file. Storage parts run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from binance_standin import SYMBOL, BinanceStandIn, Script, build_stream

from thunderline.sources import binance_ws as bws


@pytest.fixture(scope="module")
def stream(datasets):
    return build_stream(datasets / "market" / "crypto" / "binance")


def _frame(kind: str, obj: dict) -> str:
    return json.dumps({"stream": f"btcusdt@{kind}", "data": obj})


def _brute_top(snapshot: dict, events: list[dict], n: int = 10):
    b = {Decimal(p): Decimal(q) for p, q in snapshot["bids"]}
    a = {Decimal(p): Decimal(q) for p, q in snapshot["asks"]}
    for e in events:
        b.update({Decimal(p): Decimal(q) for p, q in e["b"]})
        a.update({Decimal(p): Decimal(q) for p, q in e["a"]})
    bids = sorted((p for p, q in b.items() if q > 0), reverse=True)[:n]
    asks = sorted(p for p, q in a.items() if q > 0)[:n]
    return [float(p) for p in bids], [float(p) for p in asks]


def _rows_json(table: pa.Table) -> str:
    return json.dumps(table.to_pylist())  # NaN-safe equality of whole tables


def test_in_order_stream_rebuilds_the_book_exactly(stream):
    sync = bws.BookSync(SYMBOL, "default")
    depth = [e for k, e in stream.frames if k == "depth"]
    sync.on_frame(_frame("depth", depth[0]), 1)  # buffered until the snapshot
    sync.on_snapshot(stream.snapshot, 2)
    for kind, obj in stream.frames[1:]:
        sync.on_frame(_frame("depth@100ms" if kind == "depth" else "aggTrade", obj), 3)
    table, arrivals, gaps = sync.take()
    assert gaps == [] and sync.stats.depth_applied == len(depth)
    trades = sum(1 for k, _ in stream.frames if k == "trade")
    assert table.num_rows == 1 + len(depth) + trades == len(arrivals)  # the snapshot's quote, each event, each trade
    assert bool((np.diff(table.column("seq").to_numpy()) > 0).all())
    quotes = table.filter(pa.compute.equal(table.column("event_type"), 0))
    bids, asks = _brute_top(stream.snapshot, depth)
    last = quotes.slice(quotes.num_rows - 1).to_pylist()[0]
    assert last["book_bid_px"] == bids and last["book_ask_px"] == asks
    assert last["source_row"] == depth[-1]["u"]


def test_gap_and_out_of_order_ids_are_recorded_then_resynced(stream):
    depth = [e for k, e in stream.frames if k == "depth"]
    sync = bws.BookSync(SYMBOL, "default")
    sync.on_frame(_frame("depth", depth[0]), 1)
    sync.on_snapshot(stream.snapshot, 1)
    for e in depth[1:10]:
        sync.on_frame(_frame("depth", e), 2)
    sync.on_frame(_frame("depth", depth[11]), 3)  # depth[10] dropped
    assert sync.stats.gaps == 1 and not sync.synced and sync.snapshot_wanted
    sync.on_frame(_frame("depth", depth[12]), 4)
    snap = {"lastUpdateId": depth[11]["u"], "E": depth[11]["E"],
            "bids": [[p, q] for p, q in _book_levels(stream.snapshot, depth[:12], "b")],
            "asks": [[p, q] for p, q in _book_levels(stream.snapshot, depth[:12], "a")]}
    sync.on_snapshot(snap, 5)
    assert sync.synced and sync.stats.depth_applied == 10 + 2  # 11 straddles the snapshot (u == lastUpdateId), then 12
    sync.on_frame(_frame("depth", depth[14]), 6)  # out of order: 14 before 13
    sync.on_frame(_frame("depth", depth[13]), 7)
    table, _, gaps = sync.take()
    assert [g["reason"].split(" but")[0] for g in gaps] == [f"pu={depth[11]['pu']}", f"pu={depth[14]['pu']}"]
    assert sync.stats.gaps == 2 and not sync.synced
    assert sorted(table.column("source_row").to_pylist()) == table.column("source_row").to_pylist()
    rows = bws.gap_quarantine_rows("binance-ws://BTCUSDT", gaps)
    assert rows[0]["stage"] == bws.GAP_STAGE and rows[0]["partition_key"] == f"2022-11|{SYMBOL}"
    assert "resynced" in rows[0]["reason"] and rows[0]["field"] == "pu"


def test_columnar_take_writes_the_same_parquet_bytes_as_the_generic_builder(stream, tmp_path):
    """The adapter's own column builder (flat book lists → one Arrow list array) is an optimisation of
    ``TickBuilder``: the spooled Parquet, hence every content id and hash downstream, is byte-identical."""
    import hashlib

    from thunderline.market import write_canonical_parquet
    from thunderline.market._build import TickBuilder

    class Generic:
        def __init__(self) -> None:
            self.b = TickBuilder("default", f"binance-ws:{SYMBOL}")

        def add(self, *a) -> None:
            self.b.add(bws.VENUE, SYMBOL, *a)

        def flush(self) -> pa.RecordBatch:
            return self.b.flush()

    def takes(generic: bool) -> list[pa.Table]:
        sync = bws.BookSync(SYMBOL, "default")
        if generic:
            sync.builder = Generic()
        sync.on_snapshot(stream.snapshot, 1)
        out = []
        for i, (kind, obj) in enumerate(stream.frames):
            sync.on_frame(_frame("depth@100ms" if kind == "depth" else "aggTrade", obj), i)
            if i % 97 == 0:  # cuts that start with trades (null books) and with quotes
                out.append(sync.take()[0])
        return out + [sync.take()[0]]

    def sha(t: pa.Table, name: str) -> str:
        write_canonical_parquet(t.to_batches(), tmp_path / name)
        return hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()

    mine, generic = takes(False), takes(True)
    assert len(mine) == len(generic) > 10 and sum(t.column("book_bid_px").null_count for t in mine) > 0
    for i, (a, b) in enumerate(zip(mine, generic)):
        assert a.schema.equals(b.schema) and _rows_json(a) == _rows_json(b)
        assert sha(a, f"a{i}.parquet") == sha(b, f"b{i}.parquet")


def _book_levels(snapshot, events, side):
    book = {Decimal(p): q for p, q in snapshot["bids" if side == "b" else "asks"]}
    for e in events:
        book.update({Decimal(p): q for p, q in e[side]})
    return [(str(p), q) for p, q in sorted(book.items()) if Decimal(q) > 0]


def test_source_uri():
    assert bws.BinanceWsSpec.parse("binance-ws://btcusdt").symbol == "BTCUSDT"
    with pytest.raises(ValueError, match="binance-ws://SYMBOL"):
        bws.BinanceWsSpec.parse("binance-ws://BTC-USDT")


def _run_live(settings, server, **cfg):
    from thunderline_cli.live_service import LiveRunner, run_binance_ws

    assert settings.binance_ws_url.startswith("ws://127.0.0.1:") and settings.binance_rest_url.startswith(
        "http://127.0.0.1:")  # the stand-in only, never the exchange
    # interval_s: the backpressure ladder must not step (a wider window on one path only would differ)
    runner = LiveRunner(settings, instance=None, enforce_budgets=False, keep_latencies=True, interval_s=3600)
    stop = threading.Event()
    t = threading.Thread(target=run_binance_ws, args=(runner, f"binance-ws://{SYMBOL}"),
                         kwargs=dict(stop=stop, **cfg), daemon=True)
    t.start()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and t.is_alive() and not (
            server.done.is_set() and getattr(runner, "source", None) is not None
            and runner.source.sync.stats.frames >= server.sent_frames and runner.source.sync.pending == 0):
        time.sleep(0.05)
    time.sleep(0.5)
    stop.set()
    t.join(120)
    assert not t.is_alive()
    runner.close()
    return runner


def test_live_stream_lands_once_and_matches_a_replay_of_its_frames(settings_env, stream, trained, mlflow_uri,
                                                                   tmp_path):
    from thunderline.decisions.router_state import publish_router_version
    from thunderline.flow.live import DecisionContext, LiveProcessor, trace_hashes_of, window_hashes_of
    from thunderline.market import write_canonical_parquet
    from thunderline.store import Warehouse
    from thunderline.store.lake import Lake

    state, experts, shadows = trained
    settings = settings_env.model_copy(update={"mlflow_tracking_uri": mlflow_uri})
    wh = Warehouse(settings.warehouse_url)
    wh.init_schema()
    with wh.session(settings.tenant_id) as s:
        publish_router_version(s, state, reason="binance ws test")
    depth_at = [i for i, (k, _) in enumerate(stream.frames) if k == "depth"]
    pair = next(i for i in depth_at[700:] if stream.frames[i + 1][0] == "depth")
    scripts = [Script(drop={depth_at[400]}, swap={pair}, stop_at=depth_at[1100] + 1),  # cut mid-burst
               Script(stall_at=depth_at[1900]),  # socket open, nothing sent
               Script()]
    with BinanceStandIn(stream, scripts) as server:
        runner = _run_live(settings.model_copy(update={"binance_ws_url": server.ws_url,
                                                       "binance_rest_url": server.rest_url}),
                           server, stall_s=1.0, linger_s=0.005)
    src = runner.source
    assert server.connections >= 3 and src.stats.reconnects >= 2 and src.stats.stalls >= 1  # (the end of the stream also stalls)
    assert src.sync.stats.gaps >= 3  # the dropped frame, the swapped pair, the missed updates of the cut
    with wh.session(settings.tenant_id) as s:
        q = s.select("quarantine", s.table("quarantine").c.stage == bws.GAP_STAGE)
        live_w, live_t = window_hashes_of(s, SYMBOL), trace_hashes_of(s, SYMBOL)
        from thunderline.store.flow_tables import load_flow_state
        cursor = load_flow_state(s, bws.cursor_name(bws.BinanceWsSpec(SYMBOL)))
        from thunderline.telemetry import read_events
        names = {e.name for e in read_events(s)}
    assert len(q) == src.sync.stats.gaps and all("resynced" in r["reason"] for r in q)
    assert {"source.binance.gaps", "source.binance.reconnects", "source.binance.lag_ms",
            "source.binance.throughput", "flow.market.lag_ms"} <= names
    assert live_w and live_t and len(live_t) == len(live_w)
    # exactly once: the spooled micro-batches are, together, the ticks a replay of the journal gives
    spool = sorted((settings.landing_dir / "live" / settings.tenant_id).glob("*.parquet"))
    live_ticks = pa.concat_tables([pq.read_table(p) for p in spool])
    [journal] = list((settings.landing_dir / "live" / "journal").glob("*.jsonl"))
    batches, gaps = bws.replay_journal(journal, SYMBOL, settings.tenant_id)
    replayed = pa.concat_tables(batches)
    assert len(gaps) == len(q) and len(batches) == len(spool)
    # how many updates a resync skips depends on when its snapshot is fetched (the stand-in keeps playing), so the
    # count varies with the machine's load (2.8-3.3 k seen); the bound only says the stream landed, the equality is
    # the property
    assert replayed.num_rows == live_ticks.num_rows > 1000 and _rows_json(replayed) == _rows_json(live_ticks)
    assert len(set(live_ticks.column("seq").to_pylist())) == live_ticks.num_rows
    assert cursor["u"] == max(r for r, e in zip(live_ticks.column("source_row").to_pylist(),
                                                 live_ticks.column("event_type").to_pylist()) if e == 0)
    # the replay from file, as one micro-batch into an empty warehouse: the same windows and decisions
    for t in ("decision_traces", "feature_windows", "raw_tick_batches", "landing_files", "lineage_edges"):
        with wh.session(settings.tenant_id) as s:
            s.delete(t)
    proc = LiveProcessor(wh, settings.tenant_id, Lake(tmp_path / "replay_lake"),
                         decisions=DecisionContext(state, experts, list(shadows), enforce_budgets=False))
    (tmp_path / "replay").mkdir()
    for i, b in enumerate(batches):  # the recorded frames, from file, cut where the live source cut
        replay_file = tmp_path / "replay" / f"binance-ws-BTCUSDT-{i:04d}.parquet"
        write_canonical_parquet(b.to_batches(), replay_file)
        assert proc.process_path(replay_file) is not None
    with wh.session(settings.tenant_id) as s:
        assert window_hashes_of(s, SYMBOL) == live_w
        assert trace_hashes_of(s, SYMBOL) == live_t
    wh.dispose()


def test_restart_from_a_cursor_records_what_it_missed_and_lands_nothing_twice(stream):
    depth = [e for k, e in stream.frames if k == "depth"]
    first = bws.BookSync(SYMBOL, "default")
    first.on_frame(_frame("depth", depth[0]), 1)
    first.on_snapshot(stream.snapshot, 1)
    for e in depth[1:20]:
        first.on_frame(_frame("depth", e), 2)
    first.take()
    again = bws.BookSync(SYMBOL, "default", cursor=first.cursor())  # a restarted process
    for e in depth[15:30]:  # the exchange resends some it already had, then new ones
        again.on_frame(_frame("depth", e), 3)
    snap = {"lastUpdateId": depth[24]["u"], "E": depth[24]["E"],
            "bids": [[p, q] for p, q in _book_levels(stream.snapshot, depth[:25], "b")],
            "asks": [[p, q] for p, q in _book_levels(stream.snapshot, depth[:25], "a")]}
    again.on_snapshot(snap, 4)
    table, _, gaps = again.take()
    assert [g["reason"].split(":")[0] for g in gaps] == ["reconnect"] and gaps[0]["U"] == depth[19]["u"] + 1
    assert min(table.column("source_row").to_pylist()) > depth[19]["u"]  # nothing before the cursor again
    assert table.column("seq").to_pylist()[0] > first.cursor()["ts"] * 1000
