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

The runner's processor (and its one expert runner) lives as long as the session: an expert degraded by a
budget breach stays degraded across micro-batches, as :class:`thunderline.experts.runner.ExpertRunner` rules.
Each micro-batch's telemetry (lag, router statistics, expert latencies, risk) goes
to ``telemetry_events`` and to a Prometheus endpoint (``--metrics-port``); its
materializations are reported to the Dagster instance so the UI shows them
(``report_runless_asset_event``, off the latency path in a background thread).
Once per ``--interval`` second the backpressure ladder ``live`` is advanced and
its window settings (width, overlap, recipe) and enrichment are applied.

Before a micro-batch, at most once per ``--refresh-s`` seconds, the runner reads the active router
version id (one column of one row); when it differs from the session's (a promotion, a gate
retraining, a rollback, the first bootstrap), it loads that version's experts and swaps the new
:class:`~thunderline.flow.live.DecisionContext` in between batches, so every batch is decided by one
version, the one its traces name. If loading fails, the session keeps deciding with the version it has
and tries again at the next check.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from thunderline.config import Settings, load_settings
from thunderline.decisions import gate_storage
from thunderline.decisions.router_state import active_version
from thunderline.experts._workers import shutdown_idle
from thunderline.flow.backpressure import BackpressureLadder, FlowSettings, effective_settings, measurement_from_events
from thunderline.flow.live import DecisionContext, LiveProcessor, MicroBatch
from thunderline.market.features import market_recipe
from thunderline.store.content import tenant_store
from thunderline.stores import Stores, open_stores
from thunderline.telemetry import Event, EventBatch, MetricsRegistry, now_us
from thunderline_cli.dagster_instance import instance_for
from thunderline_cli.dagster_reporter import DagsterReporter
from thunderline_cli.metrics_server import serve_metrics
from thunderline_cli.spool import as_ticks, spool_csv, spool_table
from thunderline_cli.stdin_batches import arrow_micro_batches, micro_batches

__all__ = ["LiveRunner", "LiveStats", "freeze_heap", "run_stdin", "serve_metrics", "tail_landing"]


def load_decision_context(stores: Stores, *, enforce_budgets: bool = True) -> DecisionContext | None:
    """The active router version with its experts at the versions it records (and the shadows), or None
    before the first bootstrap (:func:`thunderline.decisions.pool.load_pool`).

    The experts come from ``stores.registry``, which the stores close."""
    from resources.ticker_map import TickerMapResource
    from thunderline.decisions.pool import load_pool
    from thunderline.decisions.router_state import active_router

    with stores.session() as s:
        state = active_router(s)
    if state is None:
        return None
    experts, shadows = load_pool(stores.registry, state)
    settings = stores.settings
    tmap = TickerMapResource(path=str(settings.ticker_map)).rows() if settings.ticker_map else []
    return DecisionContext(state, experts, list(shadows), tmap, enforce_budgets,
                           storage=gate_storage.of_settings(settings))


def release_context(registry, old: DecisionContext, fresh: DecisionContext | None) -> None:
    """After a swap: the registry lets go of the model versions only ``old`` decided with (each router version
    pins its own, so a session that follows many would otherwise keep them all loaded)."""
    from thunderline.decisions.pool import release_pool

    release_pool(registry, [*old.experts.values(), *old.shadows],
                 [*fresh.experts.values(), *fresh.shadows] if fresh is not None else ())
    if old.close:
        old.close()


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
                 interval_s: float = 1.0, enforce_budgets: bool = True, keep_latencies: bool = False,
                 refresh_s: float = 5.0) -> None:
        self.settings = settings
        self._stack = ExitStack()  # the stores stay open for the runner's life; close() closes them
        self.stores = self._stack.enter_context(open_stores(settings, init_schema=True))
        self.warehouse = self.stores.warehouse
        try:
            self.decisions = load_decision_context(self.stores, enforce_budgets=enforce_budgets)
        except BaseException:
            self._stack.close()
            raise
        self.enforce_budgets = enforce_budgets
        self.processor = LiveProcessor(self.warehouse, settings.tenant_id, self.stores.lake, decisions=self.decisions,
                                       store=tenant_store(settings.landed_dir, settings.tenant_id))
        self.metrics = metrics or MetricsRegistry()
        self.reporter = DagsterReporter(instance) if instance is not None else None
        self.ladder = BackpressureLadder("live")
        self.interval_s = interval_s
        self.keep_latencies = keep_latencies
        self.stats = LiveStats()
        self._events = EventBatch()
        self._recent: list[Event] = []
        self._next_step = time.monotonic() + interval_s
        self.refresh_s = refresh_s
        self._next_refresh = time.monotonic() + refresh_s
        self.backlog = 0
        self._frozen_after_first = False
        freeze_heap(collect=True)

    def record(self, events: list[Event]) -> None:
        """Telemetry of a source (written with the next interval's batch, and on /metrics now)."""
        self._events.extend(events)
        self.metrics.observe_all(events)

    def refresh(self, force: bool = False) -> bool:
        """At most once per ``refresh_s``: swap in the active router version's context if it changed (True)."""
        if not force and time.monotonic() < self._next_refresh:
            return False
        self._next_refresh = time.monotonic() + self.refresh_s
        with self.warehouse.session(self.settings.tenant_id) as s:
            active = active_version(s)
        current = self.decisions.state.version if self.decisions is not None else None
        if active is None or active == current:
            return False
        try:
            fresh = load_decision_context(self.stores, enforce_budgets=self.enforce_budgets)
        except Exception as exc:  # noqa: BLE001 - e.g. MLflow unreachable: keep deciding with the version we have
            print(f"thunderline live: router version {active} not loaded ({type(exc).__name__}: {exc}); "
                  f"still deciding with {current}", file=sys.stderr)
            return False
        old, self.decisions = self.decisions, fresh
        self.processor.decisions = fresh  # between batches: the next one is decided wholly by `fresh`
        if old is not None:
            release_context(self.stores.registry, old, fresh)
        print(f"thunderline live: router version {current} → {fresh.state.version if fresh else None}",
              file=sys.stderr)
        freeze_heap(collect=True)  # the old models freed, the new ones out of the collector's reach
        return True

    def handle(self, path: Path, arrivals_us: np.ndarray | None = None,
               quarantine: list[dict] = (), also=None) -> MicroBatch | None:
        self.refresh()
        arrived = int(arrivals_us.min()) if arrivals_us is not None and len(arrivals_us) else None
        try:
            mb = self.processor.process_path(path, arrived, quarantine, also)
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the live loop; it stays unprocessed
            self.stats.errors += 1
            print(f"thunderline live: {path}: {type(exc).__name__}: {exc} (left unprocessed; a Dagster run of "
                  "its partition or a restart retries it)", file=sys.stderr)
            mb = None
        if mb is not None:
            if not self._frozen_after_first:  # what the first batch loaded (kernels, caches) lives as long
                self._frozen_after_first = True
                freeze_heap()
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
        try:
            self.tick(force=True)
            if self.reporter:
                self.reporter.close()
            if self.decisions and self.decisions.close:
                self.decisions.close()
        finally:
            self._stack.close()
            shutdown_idle()  # the parked expert workers (busy ones end with their call)


def freeze_heap(*, collect: bool = False) -> None:
    """Move every object alive now (stores, models, modules: millions of them once MLflow, sklearn and
    SQLAlchemy are loaded) out of the cyclic collector's reach (``gc.freeze``). Otherwise a full
    collection scans them all, inside whichever micro-batch happens to trigger it: 0.3-0.4 s of CPU
    measured in one batch of ``bench/live_ws.py``. Objects made later are collected as before."""
    if collect:
        gc.collect()
    gc.freeze()


# --------------------------------------------------------------------------- sources
def tail_landing(runner: LiveRunner, root: Path, *, once: bool = False, poll_s: float = 0.05,
                 settle_s: float = 0.0, stop: threading.Event | None = None) -> None:
    """Process files landing under ``root`` in path order until ``stop`` (or one pass with ``once``)."""
    from thunderline.flow.landing_scan import scan_landing
    from thunderline.flow.tick_files import classify_tick_file

    cursor: dict | None = None
    while True:
        with runner.warehouse.session(runner.settings.tenant_id) as s:
            scan = scan_landing(s, "ticks", root, classify_tick_file, cursor, settle_s=settle_s,
                                store=runner.processor.store)
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


def run_stdin(runner: LiveRunner, stream, *, fmt: str = "csv", **kw) -> None:
    if fmt == "arrow":
        for item in arrow_micro_batches(stream, **kw):
            if item is None:
                runner.tick()
                continue
            table, arrivals = item
            runner.handle(spool_table(runner.settings, as_ticks(table, runner.settings.tenant_id)), arrivals)
        return
    for item in micro_batches(stream, **kw):
        if item is None:
            runner.tick()
            continue
        header, lines, arrivals = item
        path, quarantine = spool_csv(runner.settings, header, lines)
        runner.handle(path, arrivals, quarantine)


def run_binance_ws(runner: LiveRunner, uri: str, *, stop=None, journal: bool = True, **cfg) -> None:
    """``--source binance-ws://SYMBOL``: the adapter's micro-batches through the same spool → process path."""
    import asyncio

    from thunderline.sources import binance_ws as bws
    from thunderline.store.flow_tables import load_flow_state, save_flow_state

    try:
        spec = bws.BinanceWsSpec.parse(uri)
    except ValueError as exc:
        from thunderline.config import ConfigError

        raise ConfigError(str(exc)) from None
    st = runner.settings
    with runner.warehouse.session(st.tenant_id) as s:
        cursor = load_flow_state(s, bws.cursor_name(spec))

    def sink(table, arrivals, gaps, cur, events) -> None:
        rows = bws.gap_quarantine_rows(spec.uri, gaps)
        runner.record(events)
        if table is None:  # gaps or telemetry only: commit them with the offsets
            with runner.warehouse.session(st.tenant_id) as s:
                if rows:
                    s.upsert("quarantine", rows)
                save_flow_state(s, bws.cursor_name(spec), cur)
            runner.tick()
            return
        runner.handle(spool_table(runner.settings, table), arrivals, rows,
                      also=lambda s: save_flow_state(s, bws.cursor_name(spec), cur))

    src = bws.BinanceWsSource(spec, bws.WsConfig(ws_url=st.binance_ws_url, rest_url=st.binance_rest_url, **cfg),
                              st.tenant_id, sink, cursor=cursor,
                              journal=bws.journal_path(st.landing_dir, spec) if journal else None)

    async def main() -> None:
        ev = asyncio.Event()
        if stop is not None:  # a threading.Event from the caller (tests, benches)
            async def watch() -> None:
                while not stop.is_set():
                    await asyncio.sleep(0.02)
                ev.set()
            asyncio.get_running_loop().create_task(watch())
        await src.run(ev)

    runner.source = src  # for callers that watch it (tests, benches)
    asyncio.run(main())


def instance_or_none(settings: Settings, enabled: bool):
    if not enabled:
        return None
    return instance_for(settings)


def cmd_live(args) -> int:
    settings = load_settings()
    metrics = MetricsRegistry()
    server = serve_metrics(metrics, args.metrics_port) if args.metrics_port is not None else None
    if server:
        print(f"thunderline live: Prometheus metrics on http://{server.server_address[0]}:{server.server_address[1]}"
              "/metrics", file=sys.stderr)
    runner = LiveRunner(settings, instance=instance_or_none(settings, not args.no_dagster), metrics=metrics,
                        interval_s=args.interval, enforce_budgets=not args.replay, refresh_s=args.refresh_s)
    if runner.decisions is None:
        print("thunderline live: no active router version yet — windows only "
              "(run `thunderline experts bootstrap` to decide)", file=sys.stderr)
    try:
        if args.source:
            run_binance_ws(runner, args.source, linger_s=args.linger_ms / 1000.0, max_batch=args.max_batch)
        elif args.stdin:
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
    src.add_argument("--source", default=None, metavar="binance-ws://SYMBOL",
                     help="stream a market WebSocket: Binance USD-M depth diffs + aggregate trades "
                          "(THUNDERLINE_BINANCE_WS_URL / _REST_URL), resynced on gaps, reconnecting")
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
    p.add_argument("--refresh-s", type=float, default=5.0,
                   help="seconds between checks of the active router version; a new one is swapped in between "
                        "micro-batches")
    p.add_argument("--metrics-port", type=int, default=None, help="serve Prometheus /metrics on this port")
    p.add_argument("--no-dagster", action="store_true", help="do not report materializations to DAGSTER_HOME")
    p.add_argument("--replay", action="store_true",
                   help="replay mode: expert latency budgets cannot bite (decisions depend on the input alone)")
    p.set_defaults(func=cmd_live)

