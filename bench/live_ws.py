"""WebSocket source latency: 1 k-message bursts of Binance frames → persisted decision traces.

    python bench/live_ws.py [--bursts 6] [--burst 1000] [--max-batch 5000] [--linger-ms 5] [--server-in-process]

A local stand-in of Binance USD-M (WebSocket + REST, 127.0.0.1; frames built from the real rows in
``../shared/datasets/market/crypto/binance``, see ``tests/sources/binance_standin.py``) sends bursts
of ``--burst`` frames (depth diffs + aggregate trades) with a pause between them. It runs in a
process of its own, as an exchange does: in this one, its JSON and WebSocket sends (~35 µs a frame)
would take the adapter's GIL and be counted as the adapter's latency (``--server-in-process`` does
that, for comparison with figures measured before). ``thunderline live
--source binance-ws://BTCUSDT``'s code consumes them (sync, canonical ticks, spool + fsync, ingest,
windows, decisions, commit) with two market experts trained on synthetic history and a published
router version. Per tick: commit time of its micro-batch − arrival time of the frame that made it.

Baseline in the same run: the same micro-batches (replayed from the session's journal, so the same
ticks cut in the same places) through the stdin Arrow path's code (spool → process), timed from
just before the spool: what the WebSocket adapter adds is the difference.
A warm-up batch of another symbol is processed first, so numba compiles outside the measurement.
Wall times move with the neighbours on a shared machine; the CPU time of the thread that processes
the micro-batches (time.thread_time) is printed for both, with the load average, and so is the
adapter's own CPU per frame (the consuming thread's CPU outside the micro-batches: receive, JSON,
book sync, journal, cuts), which the load hardly moves.
Figures only: nothing here passes or fails on time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "tests" / "sources"))

from thunderline.config import load_settings  # noqa: E402


def _pct(a: np.ndarray) -> str:
    return f"p50 {np.percentile(a, 50) / 1000:.1f} ms, p99 {np.percentile(a, 99) / 1000:.1f} ms, max {a.max() / 1000:.1f} ms"


def _warm(runner) -> None:
    """One small batch of another symbol first: numba compiles its kernels outside the measurement."""
    import pyarrow as pa

    from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks
    from thunderline_cli.spool import spool_table

    t = pa.Table.from_batches(list(synthetic_ticks(SyntheticSpec(n_ticks=3000, seed=5, symbol="WARM"),
                                                   runner.settings.tenant_id)))
    runner.handle(spool_table(runner.settings, t), np.full(t.num_rows, time.time_ns() // 1000, np.int64))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bursts", type=int, default=6)
    ap.add_argument("--burst", type=int, default=1000, help="frames per burst")
    ap.add_argument("--pause-s", type=float, default=1.0, help="quiet time between bursts")
    ap.add_argument("--max-batch", type=int, default=5000)
    ap.add_argument("--linger-ms", type=float, default=5.0)
    ap.add_argument("--server-in-process", action="store_true",
                    help="run the stand-in exchange in this process (its sends then share the adapter's GIL)")
    args = ap.parse_args()

    from binance_standin import build_stream
    from live_latency import _seed_router

    datasets = REPO.parent / "shared" / "datasets" / "market" / "crypto" / "binance"
    n_frames = args.bursts * args.burst
    stream = build_stream(datasets, n_events=int(n_frames * 0.75) + 10)
    stream.frames = stream.frames[:n_frames]
    home = Path(tempfile.mkdtemp(prefix="tl-live-ws-"))
    try:
        settings = load_settings({"THUNDERLINE_HOME": str(home)})
        version = _seed_router(settings)
        print(f"router {version}; {n_frames} frames in {args.bursts} bursts of {args.burst}, "
              f"pause {args.pause_s}s; max batch {args.max_batch}, linger {args.linger_ms} ms; "
              f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        runner, per_batch, elapsed = _run_over_websocket(settings, stream, args)
        lat = runner.stats.tick_latency_us[1:]  # [0] is the warm-up batch
        s = runner.stats
        print(f"live ws: {s.batches} micro-batches, {s.ticks:,} ticks, {s.windows:,} windows, {s.traces:,} traces "
              f"in {elapsed:.1f}s (gaps {runner.source.sync.stats.gaps})")
        rest = np.concatenate(lat)
        print(f"  frame arrival → persisted trace, per tick: {_pct(rest)}")
        print("  per micro-batch p99: " + ", ".join(f"{np.percentile(x, 99) / 1000:.0f}" for x in lat) + " ms")
        sizes = [b[0] for b in per_batch]
        times = [b[1] for b in per_batch]
        cpus = [b[2] for b in per_batch]
        waits = [b[3] for b in per_batch]
        if times:
            print(f"  micro-batch: {np.mean(sizes):.0f} ticks, process {np.median(times):.1f} ms median wall, "
                  f"{np.median(cpus):.1f} ms median / {max(cpus):.1f} ms max CPU of the processing thread; "
                  f"its first frame waited {np.median(waits):.1f} ms median / {max(waits):.1f} max for the cut "
                  f"(the rest of the burst arriving, then the linger)")
        runner.close()
        _baseline(settings, rest)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _serve(stream, burst: int, pause_s: float, conn, sent, done, stop) -> None:
    """Child process: the stand-in, its URLs sent back, its progress mirrored into shared memory."""
    from binance_standin import BinanceStandIn, Script

    with BinanceStandIn(stream, [Script()], burst=burst, pause_s=pause_s) as server:
        conn.send((server.ws_url, server.rest_url))
        while not stop.is_set():
            sent.value = server.sent_frames
            if server.done.is_set() and sent.value == server.sent_frames:
                done.set()
            time.sleep(0.005)


class StandInProcess:
    """The Binance stand-in in a process of its own, as an exchange is: its JSON encoding and sends do not
    take this interpreter's GIL from the adapter (``--server-in-process`` measures them together)."""

    def __init__(self, stream, burst: int, pause_s: float) -> None:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        self._sent, self.done, self._stop = ctx.Value("q", 0), ctx.Event(), ctx.Event()
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(stream, burst, pause_s, child, self._sent, self.done,
                                                      self._stop), daemon=True)
        self._proc.start()
        if not parent.poll(120):
            raise RuntimeError("the Binance stand-in process did not start")
        self.ws_url, self.rest_url = parent.recv()

    @property
    def sent_frames(self) -> int:
        return self._sent.value

    def __enter__(self) -> "StandInProcess":
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._proc.join(10)
        if self._proc.is_alive():
            self._proc.kill()


def _run_over_websocket(settings, stream, args):
    """The live runner against the Binance stand-in until every frame is processed; returns the runner,
    (ticks, wall ms, thread CPU ms, ms its first frame waited for the cut) per micro-batch and the elapsed
    seconds."""
    from binance_standin import BinanceStandIn, Script

    from thunderline_cli.live_service import LiveRunner, run_binance_ws

    server_cm = (BinanceStandIn(stream, [Script()], burst=args.burst, pause_s=args.pause_s) if args.server_in_process
                 else StandInProcess(stream, args.burst, args.pause_s))
    with server_cm as server:
        st = settings.model_copy(update={"binance_ws_url": server.ws_url, "binance_rest_url": server.rest_url})
        runner = LiveRunner(st, instance=None, keep_latencies=True, interval_s=3600)
        _warm(runner)
        per_batch: list[tuple[int, float, float, float]] = []
        orig = runner.handle

        def timed(path, arrivals=None, quarantine=(), also=None):
            t0, c0 = time.perf_counter(), time.thread_time()
            mb = orig(path, arrivals, quarantine, also)
            per_batch.append((len(arrivals) if arrivals is not None else 0, (time.perf_counter() - t0) * 1e3,
                              (time.thread_time() - c0) * 1e3,
                              (time.time_ns() // 1000 - int(arrivals.min())) / 1e3 - (time.perf_counter() - t0) * 1e3))
            return mb

        runner.handle = timed
        stop = threading.Event()
        thread_cpu: list[float] = []

        def consume() -> None:
            run_binance_ws(runner, "binance-ws://BTCUSDT", stop=stop, linger_s=args.linger_ms / 1000,
                           max_batch=args.max_batch, stall_s=3600)
            thread_cpu.append(time.thread_time() * 1e3)

        th = threading.Thread(target=consume, daemon=True)
        t_start = time.perf_counter()
        th.start()
        while not (server.done.is_set() and getattr(runner, "source", None) is not None
                   and runner.source.sync.stats.frames >= server.sent_frames and runner.source.sync.pending == 0):
            time.sleep(0.02)
        time.sleep(0.3)
        stop.set()
        th.join(120)
        elapsed = time.perf_counter() - t_start
        if thread_cpu:  # the adapter's own share: the consuming thread's CPU outside the micro-batches
            frames = runner.source.sync.stats.frames
            adapter = thread_cpu[0] - sum(b[2] for b in per_batch)
            print(f"  adapter (receive, JSON, book sync, journal, cuts): {adapter:.0f} ms CPU for {frames:,} frames = "
                  f"{adapter * 1e3 / max(frames, 1):.1f} µs a frame")
    return runner, per_batch, elapsed


def _baseline(settings, rest: np.ndarray) -> None:
    """The same micro-batches (replayed from the journal) through spool → process in a fresh warehouse:
    the part of the latency that is not network, JSON or book keeping."""
    from live_latency import _seed_router

    from thunderline.sources import binance_ws as bws
    from thunderline_cli.live_service import LiveRunner
    from thunderline_cli.spool import spool_table

    [journal] = list((settings.landing_dir / "live" / "journal").glob("*.jsonl"))
    batches, _ = bws.replay_journal(journal, "BTCUSDT", settings.tenant_id)
    home2 = Path(tempfile.mkdtemp(prefix="tl-live-ws-base-"))
    try:
        s2 = load_settings({"THUNDERLINE_HOME": str(home2), "MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri})
        _seed_router(s2)
        r2 = LiveRunner(s2, instance=None, keep_latencies=True, interval_s=3600)
        _warm(r2)
        cpus = []
        for b in batches:
            t0, c0 = time.time_ns() // 1000, time.thread_time()
            r2.handle(spool_table(s2, b), np.full(b.num_rows, t0, np.int64))
            cpus.append((time.thread_time() - c0) * 1e3)
        print(f"baseline CPU per micro-batch (this thread): {np.median(cpus):.1f} ms median, {max(cpus):.1f} max "
              f"(batch {int(np.argmax(cpus)) + 1} of {len(cpus)})")
        base_rest = np.concatenate(r2.stats.tick_latency_us[1:])
        print(f"baseline (same batches, spool → persisted trace, no network/JSON/book): {_pct(base_rest)}")
        r2.close()
        print(f"ratio p99 ws / baseline: {np.percentile(rest, 99) / max(1.0, np.percentile(base_rest, 99)):.2f}x; "
              f"load average at end {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(home2, ignore_errors=True)


if __name__ == "__main__":
    main()
