"""Binance USDⓈ-M market WebSocket adapter: depth-diff + aggregate-trade streams → canonical ticks.

``thunderline live --source binance-ws://BTCUSDT`` runs :class:`BinanceWsSource`; its micro-batches
go through exactly the code ``thunderline live --stdin`` uses (canonical Parquet spooled into the
landing area → :class:`thunderline.flow.live.LiveProcessor` → windows → decisions).

Order-book synchronisation, as Binance documents it for futures:

1. open ``{ws}/stream?streams=<sym>@depth@100ms/<sym>@aggTrade`` and buffer depth events;
2. GET ``{rest}/fapi/v1/depth?symbol=SYM&limit=1000`` (the snapshot, ``lastUpdateId``);
3. drop buffered events with ``u < lastUpdateId``; the first applied one must have
   ``U <= lastUpdateId <= u``; every later one must have ``pu`` == the previous event's ``u``.

Anything else is a **gap**: it is recorded (a ``quarantine`` row with stage ``live.binance_ws.gap``
naming the ids, and a ``source.binance.gaps`` telemetry event — never silent), the book is
dropped and rebuilt from a fresh snapshot. A snapshot older than the first buffered event is
fetched again. A depth event whose ``u`` is not above the last applied one is a late duplicate
and is dropped (counted); so is a trade whose aggregate id is not above the last one — which is
what makes a reconnect land every event exactly once.

Canonical ticks (``TICK_SCHEMA``): one quote tick per applied depth event (and one for each
snapshot applied) with the top-``depth`` book after it, one trade tick per aggregate trade
(``trade_side`` +1 when the buyer was the taker, −1 when the seller was). ``ts`` is the exchange's
event time (µs), held non-decreasing in arrival order (a tick never predates one received before
it); ``seq = ts × 1000 + k`` (k: rank among ticks of the same ``ts``), so ids stay increasing across
restarts; ``source_row`` is the update id or aggregate-trade id.

Every received frame and snapshot is appended to a journal (JSON lines, arrival order);
:func:`replay_journal` turns a journal back into the same ticks, cut into the same micro-batches
(the journal marks each cut), so a live session replayed from its file lands the same canonical
files and gives identical window and decision hashes.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import random
import re
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Callable, Iterable
from urllib.parse import urlsplit

import numpy as np
import orjson
import pyarrow as pa

from thunderline.contracts import DEFAULT_BOOK_DEPTH, EVENT_QUOTE, EVENT_TRADE, TICK_SCHEMA
from thunderline.hashing import content_id
from thunderline.identifiers import check_symbol
from thunderline.market._build import const_strings
from thunderline.market.book import L2Book

NAN = float("nan")
_SYMBOL = re.compile(r"^[A-Z0-9]{2,20}$")
VENUE = "binance-futures"
GAP_STAGE = "live.binance_ws.gap"


def now_us() -> int:
    return time.time_ns() // 1000


@dataclass(frozen=True)
class BinanceWsSpec:
    """``binance-ws://SYMBOL`` (base URLs come from configuration)."""

    symbol: str

    @classmethod
    def parse(cls, url: str) -> "BinanceWsSpec":
        m = re.match(r"^binance-ws://([A-Za-z0-9]+)/?$", url.strip())
        if not m or not _SYMBOL.match(m.group(1).upper()):
            raise ValueError(f"--source {url!r}: expected binance-ws://SYMBOL (e.g. binance-ws://BTCUSDT)")
        return cls(check_symbol(m.group(1).upper()))  # Binance's rule is stricter than the platform's

    @property
    def uri(self) -> str:
        return f"binance-ws://{self.symbol}"


@dataclass
class SyncStats:
    frames: int = 0
    depth_applied: int = 0
    trades: int = 0
    stale_dropped: int = 0  # late duplicates (u or trade id not above the last applied)
    gaps: int = 0
    snapshots: int = 0
    stale_snapshots: int = 0  # snapshots older than the buffered stream: fetched again
    bad_frames: int = 0


class BookSync:
    """The pure part: frames and snapshots in arrival order → canonical ticks and gap records."""

    def __init__(self, symbol: str, tenant_id: str, *, depth: int = DEFAULT_BOOK_DEPTH, venue: str = VENUE,
                 cursor: dict | None = None) -> None:
        self.symbol, self.tenant, self.depth, self.venue = symbol, tenant_id, depth, venue
        self.book = L2Book()
        self.synced = False
        self.awaiting_first = False
        self.missed_from: int | None = None  # last applied u before a disconnect, until the resync
        self.last_u: int | None = None  # last applied depth update id (this sync)
        self.buffer: list[tuple[dict, int]] = []
        c = cursor or {}
        self.emitted_u = int(c.get("u", -1))  # highest update id ever turned into a tick
        self.emitted_trade = int(c.get("a", -1))
        self.last_ts = int(c.get("ts", 0))
        self.k = int(c.get("k", -1))
        if self.emitted_u >= 0:  # a restart: what the first snapshot covers beyond the cursor was not seen
            self.missed_from = self.emitted_u
        self.builder = _TickColumns(tenant_id, f"binance-ws:{symbol}", venue, symbol, depth)
        self.arrivals: list[int] = []
        self.gaps: list[dict] = []  # records not yet taken
        self.stats = SyncStats()
        self.snapshot_wanted = True

    # -- cursor (persisted with each micro-batch: exactly-once across restarts)
    def cursor(self) -> dict:
        return {"u": self.emitted_u, "a": self.emitted_trade, "ts": self.last_ts, "k": self.k}

    # -- input
    def on_frame(self, text: str | bytes, recv_us: int) -> None:
        self.stats.frames += 1
        try:
            msg = orjson.loads(text)
            data = msg.get("data", msg) if isinstance(msg, dict) else None
            kind = data.get("e") if isinstance(data, dict) else None
        except (ValueError, AttributeError, orjson.JSONDecodeError):
            kind, data = None, None
        if kind == "depthUpdate" and data.get("s", self.symbol).upper() == self.symbol:
            self._on_depth(data, recv_us)
        elif kind == "aggTrade" and data.get("s", self.symbol).upper() == self.symbol:
            self._on_trade(data, recv_us)
        else:
            self.stats.bad_frames += 1

    def on_snapshot(self, snap: dict, recv_us: int) -> None:
        """A REST depth snapshot; applies the buffered events that follow it (or asks for a newer one)."""
        self.stats.snapshots += 1
        last_id = int(snap["lastUpdateId"])
        pending = [(e, r) for e, r in self.buffer if int(e["u"]) >= last_id]
        if pending and int(pending[0][0]["U"]) > last_id:
            self.stats.stale_snapshots += 1  # the stream is already past it: need a newer snapshot
            self.buffer = pending
            self.snapshot_wanted = True
            return
        if self.missed_from is not None and last_id > self.missed_from:
            self.gaps.append({"symbol": self.symbol, "recv_us": recv_us, "U": self.missed_from + 1, "u": last_id,
                              "pu": self.missed_from, "last_u": self.missed_from,
                              "event_ms": int(snap.get("E") or snap.get("T") or 0),
                              "reason": f"reconnect: updates {self.missed_from + 1}..{last_id} arrived only as "
                                        f"the snapshot {last_id}, not as events"})
            self.stats.gaps += 1
        self.missed_from = None
        self.book.clear()
        for side, is_bid in (("bids", True), ("asks", False)):
            for p, q in snap.get(side, []):
                self.book.apply(is_bid, Decimal(p), Decimal(q))
        self.last_u = last_id
        self.synced = True
        self.awaiting_first = True
        self.snapshot_wanted = False
        self.buffer = []
        ev_ms = int(snap.get("E") or snap.get("T") or 0)
        if last_id > self.emitted_u:
            self._quote(ev_ms, recv_us, last_id)
        for e, r in pending:
            self._on_depth(e, r)

    @property
    def buffered(self) -> int:
        return len(self.buffer)

    # -- depth
    def _on_depth(self, e: dict, recv_us: int) -> None:
        if not self.synced:
            self.buffer.append((e, recv_us))
            if len(self.buffer) > 100_000:
                del self.buffer[: len(self.buffer) - 100_000]  # bounded while waiting for a snapshot
            return
        u, pu = int(e["u"]), int(e.get("pu", -1))
        if self.awaiting_first:  # the first event after a snapshot must straddle its lastUpdateId
            if u < self.last_u:
                self.stats.stale_dropped += 1
                return
            if not int(e["U"]) <= self.last_u <= u:
                self._gap(e, recv_us, f"first event after snapshot {self.last_u} has U={e['U']} u={u}")
                return
            self.awaiting_first = False
            self._apply(e, recv_us)
            return
        if u <= (self.last_u or -1):
            self.stats.stale_dropped += 1
            return
        if pu != self.last_u:
            self._gap(e, recv_us, f"pu={pu} but the last applied u={self.last_u} (U={e['U']}, u={u})")
            return
        self._apply(e, recv_us)

    def _apply(self, e: dict, recv_us: int) -> None:
        for side, is_bid in (("b", True), ("a", False)):
            for p, q in e.get(side, []):
                self.book.apply(is_bid, Decimal(p), Decimal(q))
        self.last_u = int(e["u"])
        self.stats.depth_applied += 1
        if self.last_u > self.emitted_u:
            self._quote(int(e.get("E") or e.get("T") or 0), recv_us, self.last_u)

    def _gap(self, e: dict, recv_us: int, why: str) -> None:
        self.stats.gaps += 1
        self.gaps.append({"symbol": self.symbol, "recv_us": recv_us, "reason": why, "U": int(e["U"]), "u": int(e["u"]),
                          "pu": int(e.get("pu", -1)), "last_u": self.last_u, "event_ms": int(e.get("E") or 0)})
        self.synced = False
        self.last_u = None
        self.book.clear()
        self.buffer = [(e, recv_us)]
        self.snapshot_wanted = True

    def on_disconnect(self) -> None:
        """The connection dropped: the book cannot be trusted until a fresh snapshot, and whatever
        updates the snapshot covers beyond the last applied one were never seen (recorded then)."""
        if self.synced and self.last_u is not None:
            self.missed_from = self.last_u
        self.synced = False
        self.last_u = None
        self.buffer = []
        self.snapshot_wanted = True

    # -- trades
    def _on_trade(self, t: dict, recv_us: int) -> None:
        a = int(t["a"])
        if a <= self.emitted_trade:
            self.stats.stale_dropped += 1
            return
        self.stats.trades += 1
        self.emitted_trade = a
        ts, seq = self._stamp(int(t.get("T") or t.get("E") or 0))
        px, sz = float(Decimal(t["p"])), float(Decimal(t["q"]))
        side = -1 if t.get("m") else 1  # m: the buyer is the maker → the seller took liquidity
        self.builder.add(ts, seq, EVENT_TRADE, NAN, 0.0, NAN, 0.0, px, sz, side, None, a)
        self.arrivals.append(recv_us)

    # -- output
    def _stamp(self, event_ms: int) -> tuple[int, int]:
        ts = max(event_ms * 1000, self.last_ts)
        if ts == self.last_ts:
            self.k += 1
            if self.k >= 1000:
                ts, self.k = ts + 1, 0
        else:
            self.k = 0
        self.last_ts = ts
        return ts, ts * 1000 + self.k

    def _quote(self, event_ms: int, recv_us: int, update_id: int) -> None:
        bpx, bsz, apx, asz = self.book.top(self.depth)
        ts, seq = self._stamp(event_ms)
        self.builder.add(ts, seq, EVENT_QUOTE, bpx[0], bsz[0], apx[0], asz[0], NAN, 0.0, 0, (bpx, bsz, apx, asz),
                         update_id)
        self.emitted_u = update_id
        self.arrivals.append(recv_us)

    @property
    def pending(self) -> int:
        return len(self.arrivals)

    def take(self) -> tuple[pa.Table | None, np.ndarray, list[dict]]:
        """(ticks since the last take, their arrival µs, gap records since the last take)."""
        gaps, self.gaps = self.gaps, []
        if not self.arrivals:
            return None, np.zeros(0, np.int64), gaps
        arr = np.asarray(self.arrivals, np.int64)
        self.arrivals = []
        return pa.Table.from_batches([self.builder.flush()], schema=TICK_SCHEMA), arr, gaps


class _TickColumns:
    """The ticks since the last take, column-wise; books as flat float lists, so a take builds each book
    column as one Arrow list array from buffers (the same batch as ``TickBuilder``'s, ~10x less work)."""

    _NUM = ("ts", "seq", "event_type", "bid_px", "bid_sz", "ask_px", "ask_sz", "trade_px", "trade_sz", "trade_side",
            "source_row")
    _TYPES = (pa.int64(), pa.int64(), pa.int8(), pa.float64(), pa.float64(), pa.float64(), pa.float64(), pa.float64(),
              pa.float64(), pa.int8(), pa.int64())

    def __init__(self, tenant_id: str, source: str, venue: str, symbol: str, depth: int) -> None:
        self.consts = {"tenant_id": tenant_id, "venue": venue, "symbol": symbol, "source": source}
        self.depth = depth
        self._reset()

    def _reset(self) -> None:
        self.rows: list[tuple] = []
        self.books: tuple[list[float], list[float], list[float], list[float]] = ([], [], [], [])
        self.has_book: list[bool] = []

    def add(self, ts: int, seq: int, event_type: int, bid_px: float, bid_sz: float, ask_px: float, ask_sz: float,
            trade_px: float, trade_sz: float, trade_side: int, book, source_row: int) -> None:
        self.rows.append((ts, seq, event_type, bid_px, bid_sz, ask_px, ask_sz, trade_px, trade_sz, trade_side,
                          source_row))
        self.has_book.append(book is not None)
        if book is not None:
            for flat, levels in zip(self.books, book):
                flat.extend(levels)

    def flush(self) -> pa.RecordBatch:
        n = len(self.rows)
        cols = dict(zip(self._NUM, (pa.array(c, t) for c, t in zip(zip(*self.rows), self._TYPES)))) if n else {
            name: pa.array([], t) for name, t in zip(self._NUM, self._TYPES)}
        has = np.asarray(self.has_book, bool)
        offsets = pa.array(np.concatenate([[0], np.cumsum(np.where(has, self.depth, 0))]).astype(np.int32))
        mask = pa.array(~has)
        for name, flat in zip(("book_bid_px", "book_bid_sz", "book_ask_px", "book_ask_sz"), self.books):
            cols[name] = pa.ListArray.from_arrays(offsets, pa.array(flat, pa.float64()), mask=mask)
        cols.update({k: const_strings(v, n) for k, v in self.consts.items()})
        self._reset()
        return pa.RecordBatch.from_arrays([cols[f.name] for f in TICK_SCHEMA], schema=TICK_SCHEMA)


def gap_quarantine_rows(spec_uri: str, gaps: Iterable[dict]) -> list[dict]:
    """A gap as a quarantine row: what was expected, what came, and that the book was resynced."""
    out = []
    for g in gaps:
        month = time.strftime("%Y-%m", time.gmtime(g["event_ms"] / 1e3 if g.get("event_ms") else g["recv_us"] / 1e6))
        reason = f"depth gap: {g['reason']}; book dropped and resynced from a fresh snapshot"
        out.append(dict(id=content_id("quarantine", [GAP_STAGE, spec_uri, g["U"], g["u"], g["pu"], g["last_u"]]),
                        stage=GAP_STAGE, source=spec_uri, row_number=None, field="pu", reason=reason,
                        raw=json.dumps(g, sort_keys=True), partition_key=f"{month}|{g['symbol']}"))
    return out


# --------------------------------------------------------------------------- journal / replay
class Journal:
    """Append-only JSON lines of what the source received, in arrival order (orjson: ~1 µs a frame)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._fh = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(path, "ab")

    def frame(self, text: str, recv_us: int) -> None:
        if self._fh:
            self._fh.write(orjson.dumps({"k": "f", "t": recv_us, "d": text}) + b"\n")

    def snapshot(self, snap: dict, recv_us: int) -> None:
        if self._fh:
            self._fh.write(orjson.dumps({"k": "s", "t": recv_us, "d": snap}) + b"\n")

    def cut(self) -> None:
        """A micro-batch ended here: a replay cuts at the same frames, so it lands the same files."""
        if self._fh:
            self._fh.write(b'{"k":"c"}\n')

    def disconnect(self, recv_us: int) -> None:
        if self._fh:
            self._fh.write(orjson.dumps({"k": "x", "t": recv_us}) + b"\n")

    def flush(self) -> None:
        if self._fh:
            self._fh.flush()

    def close(self) -> None:
        if self._fh:
            self._fh.close()
            self._fh = None


def replay_journal(path: Path, symbol: str, tenant_id: str, *, depth: int = DEFAULT_BOOK_DEPTH
                   ) -> tuple[list[pa.Table], list[dict]]:
    """The micro-batches of ticks (cut where the live source cut them) and the gap records that a
    journal's frames produce, by the same code as the live source."""
    sync = BookSync(symbol, tenant_id, depth=depth)
    tables, gaps = [], []

    def take() -> None:
        table, _, g = sync.take()
        gaps.extend(g)
        if table is not None:
            tables.append(table)

    with open(path, "rb") as fh:
        for line in fh:
            rec = orjson.loads(line)
            if rec["k"] == "f":
                sync.on_frame(rec["d"], rec["t"])
            elif rec["k"] == "s":
                sync.on_snapshot(rec["d"], rec["t"])
            elif rec["k"] == "c":
                take()
            else:
                sync.on_disconnect()
    take()
    return tables, gaps


# --------------------------------------------------------------------------- the network part
@dataclass
class SourceStats:
    connects: int = 0
    reconnects: int = 0
    stalls: int = 0
    errors: int = 0
    batches: int = 0
    last_error: str | None = None


@dataclass
class WsConfig:
    ws_url: str  # e.g. wss://fstream.binance.com
    rest_url: str  # e.g. https://fapi.binance.com
    snapshot_limit: int = 1000
    stall_s: float = 10.0  # no frame for this long: the connection is dead, reconnect
    linger_s: float = 0.005  # cut a micro-batch when no frame arrived for this long
    max_batch: int = 5_000
    backoff_base_s: float = 0.2
    backoff_cap_s: float = 30.0
    timeout_s: float = 10.0
    # permessage-deflate: websockets offers it by default, and then every frame is deflated by the exchange and
    # inflated here (~5-10 µs a frame of this process's CPU, inside every burst). Small JSON frames gain little
    # bandwidth from it, so the adapter asks for none; "deflate" turns it back on for a thin link.
    compression: str | None = None

    def stream_url(self, symbol: str) -> str:
        s = symbol.lower()
        return f"{self.ws_url}/stream?streams={s}@depth@100ms/{s}@aggTrade"


Sink = Callable[[pa.Table | None, np.ndarray, list[dict], dict, list], None]


class BinanceWsSource:
    """Runs the connection: reconnect with jittered backoff, snapshots, stalls, micro-batch cuts.

    ``sink(ticks, arrivals_us, gap_records, cursor, events)`` is called with each micro-batch
    (``ticks`` may be None when only gaps or telemetry are to be recorded)."""

    def __init__(self, spec: BinanceWsSpec, cfg: WsConfig, tenant_id: str, sink: Sink, *,
                 cursor: dict | None = None, journal: Path | None = None, rng: random.Random | None = None,
                 depth: int = DEFAULT_BOOK_DEPTH) -> None:
        self.spec, self.cfg, self.sink = spec, cfg, sink
        self.sync = BookSync(spec.symbol, tenant_id, depth=depth, cursor=cursor)
        self.journal = Journal(journal)
        self.rng = rng or random.Random()
        self.stats = SourceStats()
        self._lag_ms: list[float] = []
        self._frames_at_cut = 0
        self._t_cut = time.monotonic()

    def fetch_snapshot(self) -> dict:
        u = urlsplit(f"{self.cfg.rest_url}/fapi/v1/depth?symbol={self.spec.symbol}&limit={self.cfg.snapshot_limit}")
        cls = http.client.HTTPSConnection if u.scheme == "https" else http.client.HTTPConnection
        conn = cls(u.hostname, u.port, timeout=self.cfg.timeout_s)
        try:
            conn.request("GET", f"{u.path}?{u.query}", headers={"Accept": "application/json"})
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                raise ConnectionError(f"depth snapshot: HTTP {resp.status}")
            snap = json.loads(body)
            if "lastUpdateId" not in snap:
                raise ConnectionError("depth snapshot without lastUpdateId")
            return snap
        finally:
            conn.close()

    def _events(self, now: int) -> list:
        from thunderline.telemetry import make_event

        tags = {"source": "binance-ws", "symbol": self.spec.symbol}
        st, ss = self.sync.stats, self.stats
        dt = max(1e-6, time.monotonic() - self._t_cut)
        frames = st.frames - self._frames_at_cut
        self._frames_at_cut, self._t_cut = st.frames, time.monotonic()
        out = [make_event("source.binance.frames", float(st.frames), tags, now),
               make_event("source.binance.throughput", frames / dt, tags, now),
               make_event("source.binance.gaps", float(st.gaps), tags, now),
               make_event("source.binance.reconnects", float(ss.reconnects), tags, now),
               make_event("source.binance.errors", float(ss.errors + ss.stalls + st.bad_frames), tags, now)]
        if self._lag_ms:
            out.append(make_event("source.binance.lag_ms", max(self._lag_ms), tags, now))
            self._lag_ms = []
        return out

    def _cut(self) -> None:
        table, arrivals, gaps = self.sync.take()
        if table is None and not gaps:
            return
        if table is not None:
            ts = table.column("ts").to_numpy()
            self._lag_ms.append(float(np.max(arrivals - ts)) / 1000.0)
            self.journal.cut()
        self.journal.flush()
        self.stats.batches += 1
        self.sink(table, arrivals, gaps, self.sync.cursor(), self._events(now_us()))

    async def _session(self, websockets_mod, stop: asyncio.Event) -> None:
        async with websockets_mod.connect(self.cfg.stream_url(self.spec.symbol), open_timeout=self.cfg.timeout_s,
                                          ping_interval=20, max_size=2**24, compression=self.cfg.compression) as ws:
            self.stats.connects += 1
            self.sync.on_disconnect()  # a new connection starts unsynced
            last_frame = time.monotonic()
            while not stop.is_set():
                if self.sync.snapshot_wanted and self.sync.buffered:
                    stale = self.sync.stats.stale_snapshots
                    if stale:  # REST lagging the stream: do not hammer it
                        await asyncio.sleep(min(1.0, 0.05 * stale))
                    snap = await asyncio.to_thread(self.fetch_snapshot)
                    t = now_us()
                    self.journal.snapshot(snap, t)
                    self.sync.on_snapshot(snap, t)
                    if self.sync.synced:
                        self._attempt = 0
                timeout = self.cfg.linger_s if self.sync.pending or self.sync.gaps else min(0.25, self.cfg.stall_s)
                try:
                    if _message_buffered(ws):  # recv() returns at once: no timer to arm and cancel
                        text = await ws.recv()
                    else:
                        async with asyncio.timeout(timeout):  # no task per frame, unlike wait_for
                            text = await ws.recv()
                except TimeoutError:
                    if self.sync.pending or self.sync.gaps:
                        self._cut()
                    if time.monotonic() - last_frame > self.cfg.stall_s:
                        self.stats.stalls += 1
                        raise ConnectionError(f"no frame for {self.cfg.stall_s:.1f}s (stalled server)")
                    continue
                last_frame = time.monotonic()
                t = now_us()
                self.journal.frame(text if isinstance(text, str) else text.decode(), t)
                self.sync.on_frame(text, t)
                if self.sync.pending >= self.cfg.max_batch:
                    self._cut()

    async def run(self, stop: asyncio.Event, *, max_connects: int | None = None) -> None:
        """Until ``stop``: connect, stream, and on any failure back off (jittered) and reconnect."""
        import websockets

        self._attempt = 0
        while not stop.is_set():
            if max_connects is not None and self.stats.connects >= max_connects:
                break
            try:
                await self._session(websockets, stop)
            except (OSError, ConnectionError, asyncio.TimeoutError, websockets.exceptions.WebSocketException) as exc:
                self.stats.errors += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
            t = now_us()
            self.journal.disconnect(t)
            self.sync.on_disconnect()
            self._cut()
            if stop.is_set():
                break
            self.stats.reconnects += 1
            self._attempt += 1
            delay = self.rng.uniform(0, min(self.cfg.backoff_cap_s, self.cfg.backoff_base_s * 2 ** (self._attempt - 1)))
            try:
                await asyncio.wait_for(stop.wait(), delay)
            except asyncio.TimeoutError:
                pass
        self._cut()
        self.journal.close()


def _message_buffered(ws) -> bool:
    """Whether a whole message already waits in the connection's frame queue (websockets' asyncio
    ``Assembler``), so ``recv()`` cannot block: inside a burst that is almost every frame, and arming
    a timeout for each cost ~5 µs of the adapter's ~25 µs a frame. Anything unexpected (another
    websockets version, a fragment still incomplete) says no, and the timeout is armed as before."""
    q = getattr(getattr(getattr(ws, "recv_messages", None), "frames", None), "queue", None)
    return bool(q) and getattr(q[0], "fin", False) is True


def cursor_name(spec: BinanceWsSpec) -> str:
    return f"source:binance-ws:{spec.symbol}"


def journal_path(root: Path, spec: BinanceWsSpec) -> Path:
    return root / "live" / "journal" / f"binance-ws-{spec.symbol}-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.jsonl"
