"""A local stand-in for Binance USDⓈ-M futures market data (WebSocket + REST), on 127.0.0.1 only.

Frames are built from the real rows in ``shared/datasets/market/crypto/binance``: the REST
snapshot starts from the real BTCUSDT depth snapshot (its bid levels and ``lastUpdateId``) with
the real diff file's ask levels; the diff events replay the real (side, price, qty) rows in turn,
a few levels per event, with update ids chained the way Binance chains them (``U``, ``u``,
``pu``); aggregate trades print at the touch with real quantities. Event times start at the real
snapshot's timestamp.

The server keeps the book as of the last depth event it has sent, so ``/fapi/v1/depth`` always
answers a consistent snapshot. A *script* per connection decides what goes wrong: dropped frames,
two frames swapped (out-of-order ids), the connection cut mid-burst, a stall (no frames, socket
open). A fault is held until the client has fetched the snapshot before it (see ``_await_snapshots``).
Everything sent is counted, so tests can compare.
"""

from __future__ import annotations

import asyncio
import csv
import json
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SYMBOL = "BTCUSDT"


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@dataclass
class Stream:
    snapshot: dict  # the REST snapshot before event 0
    events: list[dict]  # depth events, chained
    frames: list[tuple[str, dict]]  # ("depth", event) | ("trade", trade), in send order


def build_stream(binance_dir: Path, n_events: int = 3000, step_ms: int = 20) -> Stream:
    snap_rows = _rows(binance_dir / "btcusdt-depth-snap.csv")
    upd_rows = _rows(binance_dir / "btcusdt-depth-update.csv")
    last_id = int(snap_rows[0]["last_update_id"])
    t0 = int(snap_rows[0]["timestamp"])
    bids = [[r["price"], r["qty"]] for r in snap_rows if r["side"] == "b"]
    asks = [[r["price"], r["qty"]] for r in upd_rows if r["side"] == "a" and Decimal(r["qty"]) > 0]
    snapshot = {"lastUpdateId": last_id, "E": t0, "T": t0, "bids": bids, "asks": asks}
    bid_px = [r[0] for r in bids]
    ask_px = sorted({r["price"] for r in upd_rows if r["side"] == "a"}, key=Decimal)
    qtys = [r["qty"] for r in snap_rows + upd_rows]
    events, frames = [], []
    u = last_id - 2  # the first event straddles the snapshot's lastUpdateId
    agg = 900_000_000
    book_b = {Decimal(p): Decimal(q) for p, q in bids}
    book_a = {Decimal(p): Decimal(q) for p, q in asks}
    for i in range(n_events):
        nb = 1 + i % 3
        b = [[bid_px[(i * 7 + j) % len(bid_px)], qtys[(i * 3 + j) % len(qtys)]] for j in range(nb)]
        a = [[ask_px[(i * 5 + j) % len(ask_px)], qtys[(i * 11 + j) % len(qtys)]] for j in range(2)]
        U, pu = u + 1, u
        u = U + len(b) + len(a) - 1
        e_ms = t0 + 1 + i * step_ms
        ev = {"e": "depthUpdate", "E": e_ms, "T": e_ms, "s": SYMBOL, "U": U, "u": u, "pu": pu, "b": b, "a": a}
        events.append(ev)
        frames.append(("depth", ev))
        for p, q in b:
            book_b[Decimal(p)] = Decimal(q)
        for p, q in a:
            book_a[Decimal(p)] = Decimal(q)
        if i % 3 == 1:
            best_b = max(k for k, v in book_b.items() if v > 0)
            best_a = min(k for k, v in book_a.items() if v > 0)
            buyer_taker = (i // 3) % 2 == 0
            agg += 1
            q = next(x for x in (qtys[(i * 13 + j) % len(qtys)] for j in range(len(qtys))) if Decimal(x) > 0)
            frames.append(("trade", {"e": "aggTrade", "E": e_ms + 1, "s": SYMBOL, "a": agg,
                                     "p": str(best_a if buyer_taker else best_b), "q": q, "f": agg * 3,
                                     "l": agg * 3 + 1, "T": e_ms + 1, "m": not buyer_taker}))
    return Stream(snapshot, events, frames)


@dataclass
class Script:
    """What one connection does, by frame position in the stream (positions are global)."""

    stop_at: int | None = None  # close the connection abruptly before sending this frame
    stall_at: int | None = None  # stop sending (socket left open) before this frame
    drop: set[int] = field(default_factory=set)  # frames never sent
    swap: set[int] = field(default_factory=set)  # frame i is sent after frame i+1
    skip_to: int | None = None  # start this connection at this frame (what a reconnect missed is lost)


class BinanceStandIn:
    def __init__(self, stream: Stream, scripts: list[Script], *, burst: int = 1000, pause_s: float = 0.2) -> None:
        self.stream = stream
        self.scripts = scripts
        self.burst, self.pause_s = burst, pause_s
        self.messages = [json.dumps({"stream": f"{SYMBOL.lower()}@{'depth@100ms' if k == 'depth' else 'aggTrade'}",
                                     "data": obj}, separators=(",", ":")) for k, obj in stream.frames]
        self.pos = 0  # next frame to send
        self.sent_frames = 0
        self.connections = 0
        self.snapshots = 0
        self.lock = threading.Lock()
        self.book_b = {Decimal(p): q for p, q in stream.snapshot["bids"]}
        self.book_a = {Decimal(p): q for p, q in stream.snapshot["asks"]}
        self.last_u = stream.snapshot["lastUpdateId"]
        self.last_e = stream.snapshot["E"]
        self.done = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self.ws_port = 0
        outer = self

        class Rest(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                if not self.path.startswith(f"/fapi/v1/depth?symbol={SYMBOL}"):
                    self.send_response(404)
                    self.end_headers()
                    return
                body = json.dumps(outer.snapshot_now()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Rest)
        self.http.daemon_threads = True

    # -- the book as of what was sent
    def _advance_book(self, ev: dict) -> None:
        for p, q in ev["b"]:
            self.book_b[Decimal(p)] = q
        for p, q in ev["a"]:
            self.book_a[Decimal(p)] = q
        self.last_u, self.last_e = ev["u"], ev["E"]

    def snapshot_now(self) -> dict:
        with self.lock:
            self.snapshots += 1
            bids = sorted(((p, q) for p, q in self.book_b.items() if Decimal(q) > 0), reverse=True)
            asks = sorted((p, q) for p, q in self.book_a.items() if Decimal(q) > 0)
            return {"lastUpdateId": self.last_u, "E": self.last_e, "T": self.last_e,
                    "bids": [[str(p), q] for p, q in bids], "asks": [[str(p), q] for p, q in asks]}

    # -- websocket
    async def _handler(self, ws) -> None:
        with self.lock:
            script = self.scripts[min(self.connections, len(self.scripts) - 1)]
            self.connections += 1
        if script.skip_to is not None:
            with self.lock:
                while self.pos < script.skip_to:  # events the client never saw still move the book
                    kind, obj = self.stream.frames[self.pos]
                    if kind == "depth":
                        self._advance_book(obj)
                    self.pos += 1
        n_in_burst = 0
        held = None
        snaps_at_connect, faults = self.snapshots, 0
        while self.pos < len(self.stream.frames):
            i = self.pos
            if script.stop_at is not None and i >= script.stop_at:
                ws.transport.abort()  # cut mid-burst: no close frame
                return
            if script.stall_at is not None and i >= script.stall_at:
                await asyncio.sleep(3600)
            if i in script.drop or i in script.swap:
                faults += 1
                await self._await_snapshots(snaps_at_connect + faults)
            kind, obj = self.stream.frames[i]
            with self.lock:
                if kind == "depth":
                    self._advance_book(obj)
                self.pos += 1
            if i in script.drop:
                continue
            msg = self.messages[i]
            if i in script.swap:
                held = msg
                continue
            await ws.send(msg)
            self.sent_frames += 1
            if held is not None:
                await ws.send(held)
                self.sent_frames += 1
                held = None
            n_in_burst += 1
            if n_in_burst >= self.burst:
                n_in_burst = 0
                await asyncio.sleep(self.pause_s)
        self.done.set()
        await asyncio.sleep(3600)  # keep the connection open; the client stops on its own

    async def _await_snapshots(self, n: int, timeout_s: float = 60.0) -> None:
        """Hold a scripted fault until the client has fetched its n-th snapshot of this connection.

        Why: the book a snapshot answers is the book as of what was sent. A client slowed by a
        loaded machine fetches its (initial or resync) snapshot late; had the stand-in run on, the
        fault's frames would already be inside that snapshot and the client would rightly drop them
        as old instead of detecting a gap, so the test's gap count would depend on load. A real
        exchange does not wait; the faults under test are the ones after a client is synced."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while self.snapshots < n and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.005)

    def _run(self) -> None:
        from websockets.asyncio.server import serve

        asyncio.set_event_loop(self._loop)

        async def main() -> None:
            async with serve(self._handler, "127.0.0.1", 0, max_size=2**24) as server:
                self.ws_port = server.sockets[0].getsockname()[1]
                self._ready.set()
                await asyncio.Future()

        try:
            self._loop.run_until_complete(main())
        except (RuntimeError, asyncio.CancelledError):
            pass

    def __enter__(self) -> "BinanceStandIn":
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        self.http.shutdown()
        self.http.server_close()
        for t in asyncio.all_tasks(self._loop):
            self._loop.call_soon_threadsafe(t.cancel)
        self._thread.join(5)

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}"

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}"
