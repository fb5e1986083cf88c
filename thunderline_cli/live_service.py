"""``thunderline live``: the sub-second path — landing files or stdin ticks → windows → decisions, in-process.

A long-running process around :class:`thunderline.flow.live.LiveProcessor` (the
same core functions as the Dagster assets, same warehouse). Sources:

* ``--tail`` (default): poll ``$THUNDERLINE_LANDING_DIR/ticks/`` and process each
  new file (run this *or* the tick_landing_sensor on a directory, not both);
* ``--stdin``: canonical CSV ticks (header line first) or, with ``--format arrow``, an
  Arrow IPC stream of TICK_SCHEMA batches on standard input. Ticks are cut into
  micro-batches (whatever has arrived, up to ``--max-batch``); each is parsed once,
  spooled durably as canonical Parquet under ``$THUNDERLINE_LANDING_DIR/live/<tenant>/``
  — the file that is indexed and processed, so a Dagster run of the partition replays
  exactly the same input — with CSV input also kept as received under ``raw/``.
  Unparsable lines are quarantined with their line in the raw file.

Each micro-batch's telemetry (lag, router statistics, expert latencies, risk) goes
to ``telemetry_events`` and to a Prometheus endpoint (``--metrics-port``); its
materializations are reported to the Dagster instance so the UI shows them
(``report_runless_asset_event``, off the latency path in a background thread).
Once per ``--interval`` second the backpressure ladder ``live`` is advanced and
its window settings (width, overlap, recipe) and enrichment are applied.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Iterator

import numpy as np
import pyarrow as pa

from thunderline.config import Settings, load_settings
from thunderline.contracts import TICK_SCHEMA
from thunderline.flow.backpressure import BackpressureLadder, FlowSettings, effective_settings, measurement_from_events
from thunderline.flow.live import DecisionContext, LiveProcessor, MicroBatch
from thunderline.market.features import market_recipe
from thunderline.store import Warehouse
from thunderline.store.lake import Lake
from thunderline.telemetry import CONTENT_TYPE, Event, EventBatch, MetricsRegistry, now_us

LIVE_ASSETS = ("raw_ticks", "market_feature_windows", "decision_traces")


def load_decision_context(settings: Settings, warehouse: Warehouse, *, enforce_budgets: bool = True
                          ) -> DecisionContext | None:
    """The active router version with its champion (and shadow) experts, or None before the first bootstrap."""
    from resources.ticker_map import TickerMapResource
    from thunderline.decisions.bootstrap import load_pool
    from thunderline.decisions.router_state import active_router
    from thunderline.experts.registry import ExpertRegistry

    with warehouse.session(settings.tenant_id) as s:
        state = active_router(s)
    if state is None:
        return None
    registry = ExpertRegistry(tracking_uri=settings.mlflow_tracking_uri, warehouse=warehouse,
                              tenant_id=settings.tenant_id)
    experts, shadows = load_pool(registry, state)
    tmap = TickerMapResource(path=str(settings.ticker_map)).rows() if settings.ticker_map else []
    return DecisionContext(state, experts, list(shadows), tmap, enforce_budgets, close=registry.close)


class DagsterReporter:
    """Reports each micro-batch's materializations to the Dagster instance from a background thread."""

    def __init__(self, instance) -> None:
        self.instance = instance
        self.q: queue.Queue = queue.Queue()
        self.known: set[str] = set(instance.get_dynamic_partitions("symbols"))
        self.reported = 0
        self.thread = threading.Thread(target=self._run, name="dagster-reporter", daemon=True)
        self.thread.start()

    def submit(self, mb: MicroBatch) -> None:
        self.q.put(mb)

    def close(self, timeout: float = 30.0) -> None:
        self.q.put(None)
        self.thread.join(timeout)

    def _run(self) -> None:
        import dagster as dg

        while (mb := self.q.get()) is not None:
            try:
                self._report(mb, dg)
            except Exception as exc:  # noqa: BLE001 - the UI misses one event; the data is in the warehouse
                print(f"thunderline live: reporting {mb.path} to Dagster failed: {exc}", file=sys.stderr)

    def _report(self, mb: MicroBatch, dg) -> None:
        for part in mb.partitions:
            month, symbol = part.split("|")
            if symbol not in self.known:
                self.instance.add_dynamic_partitions("symbols", [symbol])
                self.known.add(symbol)
            key = dg.MultiPartitionKey({"month": f"{month}-01", "symbol": symbol})
            meta = {"reported_by": "thunderline live", "file": dg.MetadataValue.path(mb.path),
                    "ticks": mb.ticks, "windows": mb.windows, "traces": mb.traces,
                    "flow.market.lag_ms": dg.MetadataValue.float(mb.lag_ms)}
            for asset in LIVE_ASSETS:
                if asset == "decision_traces" and not mb.traces:
                    continue
                self.instance.report_runless_asset_event(
                    dg.AssetMaterialization(asset_key=asset, partition=key, metadata=meta))
                self.reported += 1


def serve_metrics(registry: MetricsRegistry, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Serve ``/metrics`` (Prometheus text) on ``host:port`` from a daemon thread; port 0 picks a free one."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404, "only /metrics lives here")
                return
            body = registry.render().encode()
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server


@dataclass
class LiveStats:
    batches: int = 0
    ticks: int = 0
    windows: int = 0
    traces: int = 0
    errors: int = 0
    tick_latency_us: list[np.ndarray] = field(default_factory=list)  # per tick: commit − arrival

    def latencies_us(self) -> np.ndarray:
        return np.concatenate(self.tick_latency_us) if self.tick_latency_us else np.zeros(0)


class LiveRunner:
    """Feeds micro-batches to the processor, records telemetry, steps the ladder, reports to Dagster."""

    def __init__(self, settings: Settings, *, instance=None, metrics: MetricsRegistry | None = None,
                 interval_s: float = 1.0, enforce_budgets: bool = True, keep_latencies: bool = False) -> None:
        self.settings = settings
        self.warehouse = Warehouse(settings.warehouse_url)
        self.warehouse.init_schema()
        self.decisions = load_decision_context(settings, self.warehouse, enforce_budgets=enforce_budgets)
        self.enforce_budgets = enforce_budgets
        self.processor = LiveProcessor(self.warehouse, settings.tenant_id, Lake(settings.lake_dir),
                                       decisions=self.decisions)
        self.metrics = metrics or MetricsRegistry()
        self.reporter = DagsterReporter(instance) if instance is not None else None
        self.ladder = BackpressureLadder("live")
        self.interval_s = interval_s
        self.keep_latencies = keep_latencies
        self.stats = LiveStats()
        self._events = EventBatch()
        self._recent: list[Event] = []
        self._next_step = time.monotonic() + interval_s
        self.backlog = 0

    def handle(self, path: Path, arrivals_us: np.ndarray | None = None,
               quarantine: list[dict] = ()) -> MicroBatch | None:
        arrived = int(arrivals_us.min()) if arrivals_us is not None and len(arrivals_us) else None
        try:
            mb = self.processor.process_path(path, arrived, quarantine)
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the live loop; it stays unprocessed
            self.stats.errors += 1
            print(f"thunderline live: {path}: {type(exc).__name__}: {exc} (left unprocessed; a Dagster run of "
                  "its partition or a restart retries it)", file=sys.stderr)
            mb = None
        if mb is not None:
            s = self.stats
            s.batches += 1
            s.ticks, s.windows, s.traces = s.ticks + mb.ticks, s.windows + mb.windows, s.traces + mb.traces
            if self.keep_latencies and arrivals_us is not None:
                s.tick_latency_us.append(mb.committed_at_us - arrivals_us)
            evs = mb.events()
            self._events.extend(evs)
            self._recent.extend(evs)
            self.metrics.observe_all(evs)
            if self.reporter:
                self.reporter.submit(mb)
        self.tick()
        return mb

    def tick(self, force: bool = False) -> None:
        """Once per interval: write buffered telemetry, advance the ladder, apply its settings."""
        if not force and time.monotonic() < self._next_step:
            return
        self._next_step = time.monotonic() + self.interval_s
        t = now_us()
        m = measurement_from_events(self._recent, t, backlog=self.backlog)
        self._recent = []
        with self.warehouse.session(self.settings.tenant_id) as s:
            self._events.add("flow.market.backlog", self.backlog, {"path": "live"}, ts=t)
            self.metrics.observe_event(self._events.events[-1])
            self._events.flush(s)
            state, change = self.ladder.observe(s, m)
        if change is not None:
            self.metrics.observe_event(change.event(self.ladder.name))
            self.apply(effective_settings(FlowSettings(), state, self.ladder.policy))
            print(f"thunderline live: backpressure {change.direction} {change.step} → level {change.level_after}",
                  file=sys.stderr)

    def apply(self, fs: FlowSettings) -> None:
        self.processor.recipe = market_recipe(fs.recipe, width_ms=fs.width_ms, overlap=fs.overlap)
        self.processor.enrichment = fs.enrichment
        self.processor.p_shift = round(max(0.0, FlowSettings().p - fs.p), 12)
        self.processor.abstain_experts = tuple(fs.abstain_experts)

    def close(self) -> None:
        self.tick(force=True)
        if self.reporter:
            self.reporter.close()
        if self.decisions and self.decisions.close:
            self.decisions.close()
        self.warehouse.dispose()


# --------------------------------------------------------------------------- sources
def tail_landing(runner: LiveRunner, root: Path, *, once: bool = False, poll_s: float = 0.05,
                 settle_s: float = 0.0, stop: threading.Event | None = None) -> None:
    """Process files landing under ``root`` in path order until ``stop`` (or one pass with ``once``)."""
    from thunderline.flow.landing_scan import scan_landing
    from thunderline.flow.market_partition import classify_tick_file

    cursor: dict | None = None
    while True:
        with runner.warehouse.session(runner.settings.tenant_id) as s:
            scan = scan_landing(s, "ticks", root, classify_tick_file, cursor, settle_s=settle_s)
        cursor = scan.cursor
        todo = sorted(f.path for f in scan.landed if f.status == "indexed")
        runner.backlog = len(todo)
        for i, path in enumerate(todo):
            runner.backlog = len(todo) - i - 1
            mtime_us = os.stat(path).st_mtime_ns // 1000 if os.path.exists(path) else now_us()
            runner.handle(Path(path), np.array([mtime_us]))
        runner.tick()
        if once or (stop is not None and stop.is_set()):
            return
        time.sleep(poll_s)


def micro_batches(stream: IO, *, max_batch: int = 5_000, linger_s: float = 0.005,
                  idle_s: float = 0.5) -> Iterator[tuple[str, list[str], np.ndarray] | None]:
    """(header, lines, arrival µs per line) per micro-batch from canonical CSV on ``stream``.

    A reader thread takes whatever bytes have arrived (``os.read`` on a pipe or file, so a
    burst is read in one go, not line by line), timestamps them and queues their complete
    lines; a micro-batch is whatever has been queued (after waiting ``linger_s`` for more),
    at most about ``max_batch`` lines. Yields None after ``idle_s`` without input (so the
    caller can keep its ladder ticking).
    """
    q: queue.Queue = queue.Queue()
    threading.Thread(target=_read_lines, args=(stream, q), name="stdin-reader", daemon=True).start()
    header: str | None = None
    for items in _coalesce(q, max_batch, linger_s, idle_s, len):
        if items is None:
            yield None
            continue
        lines = [x for chunk, _ in items for x in chunk]
        arrivals = np.concatenate([np.full(len(chunk), t, dtype=np.int64) for chunk, t in items])
        if header is None:
            header, lines, arrivals = lines[0], lines[1:], arrivals[1:]
        if lines:
            yield header, lines, arrivals


def _read_lines(stream: IO, q: queue.Queue, chunk: int = 1 << 16) -> None:
    try:
        try:
            fd = stream.fileno()
        except (AttributeError, OSError, ValueError):
            fd = None
        if fd is None:  # in-memory streams (tests, benchmarks)
            while lines := stream.readlines(chunk):
                q.put(([x if x.endswith("\n") else x + "\n" for x in lines], time.time_ns() // 1000))
            return
        tail = b""
        while data := os.read(fd, chunk):
            t = time.time_ns() // 1000
            *complete, tail = (tail + data).split(b"\n")
            if complete:
                q.put(([x.decode("utf-8") + "\n" for x in complete], t))
        if tail:
            q.put(([tail.decode("utf-8") + "\n"], time.time_ns() // 1000))
    finally:
        q.put(None)


def arrow_micro_batches(stream: IO[bytes], *, max_batch: int = 5_000, linger_s: float = 0.005,
                        idle_s: float = 0.5) -> Iterator[tuple[pa.Table, np.ndarray] | None]:
    """(ticks, arrival µs per tick) per micro-batch from an Arrow IPC stream of TICK_SCHEMA batches."""
    q: queue.Queue = queue.Queue()

    def read() -> None:
        try:
            for b in pa.ipc.open_stream(stream):
                q.put((b, time.time_ns() // 1000))
        finally:
            q.put(None)

    threading.Thread(target=read, name="stdin-arrow-reader", daemon=True).start()
    for items in _coalesce(q, max_batch, linger_s, idle_s, lambda b: b.num_rows):
        if items is None:
            yield None
            continue
        arrivals = np.concatenate([np.full(b.num_rows, t, dtype=np.int64) for b, t in items])
        yield pa.Table.from_batches([b for b, _ in items]), arrivals


def _coalesce(q: queue.Queue, max_batch: int, linger_s: float, idle_s: float, size) -> Iterator[list | None]:
    done = False
    while not done:
        try:
            item = q.get(timeout=idle_s)
        except queue.Empty:
            yield None
            continue
        if item is None:
            return
        items, n = [item], size(item[0])
        deadline = time.monotonic() + linger_s
        while n < max_batch:
            try:
                item = q.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if item is None:
                done = True
                break
            items.append(item)
            n += size(item[0])
        yield items


def _spool_name(spool_dir: Path, suffix: str) -> Path:
    spool_dir.mkdir(parents=True, exist_ok=True)
    return spool_dir / f"{time.time_ns():020d}{suffix}"


def _durable(write, final: Path) -> Path:
    tmp = final.with_name(final.name + ".tmp")
    write(tmp)
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, final)
    return final


def spool_csv(runner: LiveRunner, header: str, lines: list[str]) -> tuple[Path, list[dict]]:
    """Keep the micro-batch's bytes as received (``raw/``, for audit), parse them once with the canonical
    reader and spool the ticks as canonical Parquet (the file that is indexed, processed and replayable).
    Returns the Parquet path and quarantine rows for unparsable lines."""
    from thunderline.flow.market_partition import quarantine_rows
    from thunderline.market import iter_tick_chunks

    root = runner.settings.landing_dir / "live" / runner.settings.tenant_id
    raw = _durable(lambda p: p.write_text(header + "".join(lines), encoding="utf-8"), _spool_name(root / "raw", ".csv"))
    batches, rejects = [], []
    for chunk in iter_tick_chunks(raw, runner.settings.tenant_id, fmt="canonical_csv"):
        batches.append(chunk.batch)
        rejects += chunk.rejects
    return spool_table(runner, pa.Table.from_batches(batches, schema=TICK_SCHEMA)), quarantine_rows(
        rejects, "raw_ticks", None)


def spool_table(runner: LiveRunner, table: pa.Table) -> Path:
    from thunderline.market import write_canonical_parquet

    root = runner.settings.landing_dir / "live" / runner.settings.tenant_id
    return _durable(lambda p: write_canonical_parquet(table.to_batches(), p), _spool_name(root, ".parquet"))


def as_ticks(table: pa.Table, tenant_id: str) -> pa.Table:
    """An Arrow table in TICK_SCHEMA order and types, stamped with ``tenant_id`` (a wrong schema names the field)."""
    cols = []
    for f in TICK_SCHEMA:
        if f.name == "tenant_id":
            cols.append(pa.array([tenant_id] * table.num_rows, pa.string()))
        elif f.name not in table.column_names:
            raise ValueError(f"stdin Arrow stream: column {f.name!r} is missing (expected TICK_SCHEMA)")
        else:
            cols.append(table.column(f.name).cast(f.type))
    return pa.Table.from_arrays(cols, schema=TICK_SCHEMA)


def run_stdin(runner: LiveRunner, stream, *, fmt: str = "csv", **kw) -> None:
    if fmt == "arrow":
        for item in arrow_micro_batches(stream, **kw):
            if item is None:
                runner.tick()
                continue
            table, arrivals = item
            runner.handle(spool_table(runner, as_ticks(table, runner.settings.tenant_id)), arrivals)
        return
    for item in micro_batches(stream, **kw):
        if item is None:
            runner.tick()
            continue
        header, lines, arrivals = item
        path, quarantine = spool_csv(runner, header, lines)
        runner.handle(path, arrivals, quarantine)


def instance_or_none(settings: Settings, enabled: bool):
    if not enabled:
        return None
    from thunderline_assets.ingest_command import instance_for

    return instance_for(settings)


def cmd_live(args) -> int:
    settings = load_settings()
    metrics = MetricsRegistry()
    server = serve_metrics(metrics, args.metrics_port) if args.metrics_port is not None else None
    if server:
        print(f"thunderline live: Prometheus metrics on http://{server.server_address[0]}:{server.server_address[1]}"
              "/metrics", file=sys.stderr)
    runner = LiveRunner(settings, instance=instance_or_none(settings, not args.no_dagster), metrics=metrics,
                        interval_s=args.interval, enforce_budgets=not args.replay)
    if runner.decisions is None:
        print("thunderline live: no active router version yet — windows only "
              "(run `thunderline experts bootstrap` to decide)", file=sys.stderr)
    try:
        if args.stdin:
            stream = sys.stdin.buffer
            run_stdin(runner, stream, fmt=args.format, max_batch=args.max_batch, linger_s=args.linger_ms / 1000.0)
        else:
            tail_landing(runner, args.tail or settings.ticks_landing, once=args.once, settle_s=args.settle_s)
    finally:
        runner.close()
        if server:
            server.shutdown()
        s = runner.stats
        print(f"thunderline live: {s.batches} micro-batches, {s.ticks:,} ticks, {s.windows:,} windows, "
              f"{s.traces:,} traces", file=sys.stderr)
    return 0


def register(sub) -> None:
    p = sub.add_parser("live", help="sub-second path: landing files or stdin ticks → windows → decisions")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--tail", type=Path, default=None, help="landing directory to tail (default: landing/ticks)")
    src.add_argument("--stdin", action="store_true", help="read canonical CSV ticks (header first) from stdin")
    p.add_argument("--format", choices=("csv", "arrow"), default="csv",
                   help="stdin: canonical CSV (header first) or an Arrow IPC stream of TICK_SCHEMA batches")
    p.add_argument("--once", action="store_true", help="tail: process what is there, then exit")
    p.add_argument("--settle-s", type=float, default=0.0,
                   help="tail: leave files modified more recently than this for the next poll (default 0: "
                        "writers rename NAME.tmp → NAME)")
    p.add_argument("--max-batch", type=int, default=5_000, help="stdin: ticks per micro-batch at most")
    p.add_argument("--linger-ms", type=float, default=5.0,
                   help="stdin: wait this long for more ticks before cutting a micro-batch (≥ Python's 5 ms thread "
                        "switch interval, or a burst is cut into slivers)")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between ladder steps / telemetry writes")
    p.add_argument("--metrics-port", type=int, default=None, help="serve Prometheus /metrics on this port")
    p.add_argument("--no-dagster", action="store_true", help="do not report materializations to DAGSTER_HOME")
    p.add_argument("--replay", action="store_true",
                   help="replay mode: expert latency budgets cannot bite (decisions depend on the input alone)")
    p.set_defaults(func=cmd_live)

