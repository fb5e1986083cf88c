"""The live path: each landed file (or spooled micro-batch of stdin ticks) → windows → decisions, in-process.

Why not a Dagster run per micro-batch: a run costs seconds to launch; a tick burst
must become DecisionTraces in well under a second. :class:`LiveProcessor` keeps
each touched month × symbol partition's stream state in memory
(:class:`~thunderline.flow.tick_ingest.PartitionIngest` and
:class:`~thunderline.flow.market_windows.PartitionWindows`) and, per file, in
one warehouse transaction:

1. indexes the file in ``landing_files`` (sha256: a file is processed once);
2. ingests it into each partition it touches (lake batches, quarantine);
3. persists the windows that became final *and* the still-open ones as a flush
   would emit them (an open window is rewritten, same id, when later ticks land);
4. decides the windows that have no trace for the active router version yet,
   in window-start order (:func:`thunderline.flow.decision_partition.decide_windows`), with the
   processor's one :class:`~thunderline.experts.runner.ExpertRunner`, so an expert's degraded state
   (a budget breach, an abandoned call still running) carries from one file to the next;
5. marks the file processed.

That is exactly what a Dagster market run of the same partition persists after
the same file (the parity test proves identical window and trace hashes), as long
as files arrive in the order of their paths and a partition's ticks arrive in
time order; anything else still lands correctly, and a Dagster backfill of the
partition restores the batch result. A partition first touched by this process
after earlier files were processed is warmed up by replaying them once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from thunderline.decisions import gate_storage
from thunderline.decisions.gate_storage import GateStorage
from thunderline.experts.runner import ExpertRunner
from thunderline.flow.landing import LandedFile, files_for_partition, index_files, with_read_paths
from thunderline.flow.ledger import mark_processed
from thunderline.flow.market_windows import PartitionWindows, persist_windows
from thunderline.flow.tick_files import classify_tick_file
from thunderline.flow.tick_ingest import PartitionIngest
from thunderline.market.features import FULL_RECIPE, Recipe
from thunderline.store.content import ContentStore
from thunderline.store.lake import Lake
from thunderline.store.warehouse import TenantSession, Warehouse
from thunderline.telemetry import Event, make_event, now_us


@dataclass
class DecisionContext:
    """What deciding needs for one router version. A live session replaces the whole context, between
    micro-batches, when the active router version changes (``thunderline_cli.live_service.LiveRunner.refresh``)."""

    state: Any  # RouterState
    experts: dict[str, Any]
    shadows: list[Any] = field(default_factory=list)
    ticker_map: list[dict] = field(default_factory=list)
    enforce_budgets: bool = True
    close: Callable[[], None] | None = None
    storage: GateStorage = gate_storage.DEFAULT  # how traces store gate scores (Settings.gate_*)


@dataclass
class MicroBatch:
    """What one file did, with wall-clock marks (µs since the epoch) for latency accounting."""

    path: str
    partitions: list[str]
    ticks: int = 0
    rejected: int = 0
    windows: int = 0
    traces: int = 0
    router_version: str | None = None
    arrived_at_us: int = 0
    committed_at_us: int = 0
    window_hashes: list[str] = field(default_factory=list)
    traces_hash: str = ""
    layer_stats: list[dict] = field(default_factory=list)
    expert_latency_ms: dict[str, float] = field(default_factory=dict)
    risk_breaches: int = 0
    risk_flags: dict[str, int] = field(default_factory=dict)  # flag → windows it was raised on (e.g. expert_degraded:x)
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def lag_ms(self) -> float:
        return (self.committed_at_us - self.arrived_at_us) / 1000.0

    def events(self, path_tag: str = "live") -> list[Event]:
        """The micro-batch's telemetry: lag, router statistics, expert latencies, risk breaches."""
        ts = self.committed_at_us
        out = [make_event("flow.market.lag_ms", self.lag_ms, {"path": path_tag}, ts),
               make_event("flow.live.batch_ticks", self.ticks, {"path": path_tag}, ts)]
        for i, st in enumerate(self.layer_stats):
            tags = {"layer": i, "router_version": self.router_version or ""}
            for name, key in (("router.assignment.experts_per_token", "avg_experts_per_token"),
                              ("router.entropy", "entropy"), ("router.capacity_utilization", "capacity_utilization"),
                              ("router.undercovered_token", "n_undercovered")):
                if key in st:
                    out.append(make_event(name, float(st[key]), tags, ts))
        out += [make_event("expert.latency_ms", v, {"expert": k}, ts) for k, v in sorted(self.expert_latency_ms.items())]
        if self.traces:
            out.append(make_event("risk.breach", self.risk_breaches, {"path": path_tag}, ts))
        return out


class _Partition:
    def __init__(self, tenant: str, lake: Lake, part: str, recipe: Recipe, chunk_rows: int) -> None:
        month, symbol = part.split("|")
        self.month, self.symbol = month, symbol
        self.ingest = PartitionIngest(tenant, lake, month, symbol, chunk_rows=chunk_rows, run_expectations=False)
        self.windows = PartitionWindows(tenant, symbol, recipe)

    def warm(self, session: TenantSession, skip_sha: str) -> None:
        """Replay what earlier processes persisted for this partition (validator and window-builder state)."""
        earlier = [f for f in files_for_partition(session, "ticks", f"{self.month}|{self.symbol}")
                   if f["status"] == "processed" and f["id"] != skip_sha]
        if not earlier:
            return
        for f in earlier:
            self.ingest.add_file(f)
        self.ingest.take()  # rows already in the warehouse
        t = session.table("raw_tick_batches")
        batches = session.select("raw_tick_batches", t.c.month == self.month, t.c.symbol == self.symbol,
                                 order_by=[t.c.ts_min, t.c.seq_min, t.c.id])
        self.windows.add_refs(batches)
        for b in batches:
            self.windows.feed(b)


class LiveProcessor:
    """Processes landing files one at a time with the batch path's core functions (see module docstring)."""

    def __init__(self, warehouse: Warehouse, tenant_id: str, lake: Lake, *,
                 decisions: DecisionContext | None = None, recipe: Recipe = FULL_RECIPE,
                 chunk_rows: int = 262_144, enrichment: bool = True, store: ContentStore | None = None,
                 runner: ExpertRunner | None = None) -> None:
        self.warehouse, self.tenant, self.lake = warehouse, tenant_id, lake
        self.store = store  # the tenant's content store: files are indexed as `thunderline ingest` indexes them
        self.decisions = decisions
        # One expert runner for the processor's life, not one per micro-batch: an expert that breached its
        # budget stays degraded (skipped, abstaining) for the runner's next batches and while its abandoned
        # call still runs, instead of being called again by the next file's fresh runner
        self.runner = runner or ExpertRunner()
        self.recipe = recipe
        self.chunk_rows = chunk_rows
        self.enrichment = enrichment
        self.p_shift = 0.0  # backpressure "lower p" step
        self.abstain_experts: tuple[str, ...] = ()  # backpressure "force abstain" step
        self._parts: dict[tuple[str, str], _Partition] = {}

    def process_path(self, path: Path, arrived_at_us: int | None = None,
                     quarantine: Sequence[dict] = (), also: Callable[[TenantSession], None] | None = None
                     ) -> MicroBatch | None:
        """Index and process one file in its own transaction; None if it was known or unreadable.

        ``quarantine``: rows rejected before the file was written (e.g. unparsable stdin lines, a
        stream's gap records), recorded in the same transaction. ``also(session)`` runs in it too
        (a source's offsets commit with the ticks they describe).
        """
        arrived = arrived_at_us or now_us()
        touched: list[str] = []
        try:
            with self.warehouse.session(self.tenant) as s:
                if quarantine:
                    s.upsert("quarantine", list({r["id"]: r for r in quarantine}.values()))
                [landed] = index_files(s, "ticks", [Path(path)], classify_tick_file, store=self.store)
                touched = list(landed.partitions)
                mb = self.process_landed(s, landed, arrived)
                if also is not None:
                    also(s)
        except Exception:
            # the transaction rolled back: forget the stream state it advanced (the next file re-warms it)
            for key in [k for k in self._parts if k[0] in touched]:
                del self._parts[key]
            raise
        if mb is not None:
            mb.committed_at_us = now_us()
        return mb

    def process_landed(self, session: TenantSession, landed: LandedFile, arrived_at_us: int) -> MicroBatch | None:
        """Process an indexed file inside ``session`` (the caller commits; set ``committed_at_us`` after)."""
        if landed.status != "indexed":
            return None
        t0 = time.perf_counter()
        [f] = with_read_paths(session, [{"id": landed.sha256, "path": landed.path, "format": landed.format}])
        mb = MicroBatch(landed.path, list(landed.partitions), arrived_at_us=arrived_at_us)
        new_windows: list = []
        for part in landed.partitions:
            p = self._partition(session, part, landed.sha256)
            before = (p.ingest.summary.rows_kept, p.ingest.summary.rows_rejected)
            p.ingest.add_file(f)
            batches, quarantine = p.ingest.take()
            mb.ticks += p.ingest.summary.rows_kept - before[0]
            mb.rejected += p.ingest.summary.rows_rejected - before[1]
            if batches:
                session.upsert("raw_tick_batches", batches)
            if quarantine:
                session.upsert("quarantine", quarantine)
            final = [w for b in batches for w in p.windows.feed(b)]
            emitted = final + p.windows.peek() if batches else []
            persist_windows(session, emitted)
            new_windows += emitted
        mb.windows = len(new_windows)
        mb.window_hashes = [w.content_hash for w in new_windows]
        t1 = time.perf_counter()
        self._decide(session, new_windows, mb)
        mark_processed(session, [landed.sha256])
        mb.timings_ms = {"ingest_windows": (t1 - t0) * 1e3, "decide": (time.perf_counter() - t1) * 1e3}
        return mb

    def _partition(self, session: TenantSession, part: str, sha: str) -> _Partition:
        key = (part, self.recipe.recipe_version)
        p = self._parts.get(key)
        if p is None:
            p = self._parts[key] = _Partition(self.tenant, self.lake, part, self.recipe, self.chunk_rows)
            if self.recipe == FULL_RECIPE:  # degraded recipes start where they were switched on
                p.warm(session, sha)
        return p

    def _decide(self, session: TenantSession, windows: Sequence, mb: MicroBatch) -> None:
        from thunderline.flow.decision_partition import decide_windows

        ctx = self.decisions
        if ctx is None or not windows:
            return
        dt = session.table("decision_traces")
        ids = sorted({w.id for w in windows})
        done = {r["feature_window_id"] for r in session.select(
            "decision_traces", dt.c.feature_window_id.in_(ids), dt.c.router_version == ctx.state.version,
            columns=["feature_window_id"])}
        todo = sorted({w.id: w for w in windows if w.id not in done}.values(), key=lambda w: (w.window_start_us, w.id))
        if not todo:
            return
        summary = decide_windows(session, todo, ctx.state, ctx.experts, shadows=ctx.shadows,
                                 ticker_map=ctx.ticker_map if self.enrichment else (),
                                 enforce_budgets=ctx.enforce_budgets, p_shift=self.p_shift,
                                 abstain_experts=self.abstain_experts, storage=ctx.storage, runner=self.runner)
        mb.traces = summary.traces
        mb.router_version = summary.router_version
        mb.layer_stats = summary.layer_stats
        mb.expert_latency_ms = dict(summary.expert_latency_ms)
        mb.traces_hash = summary.hash_of_hashes
        mb.risk_breaches = sum(summary.flags.values())
        mb.risk_flags = dict(summary.flags)

    def flush(self) -> None:
        """Forget stream state (windows were persisted as they were emitted, open ones included)."""
        self._parts.clear()


def trace_hashes_of(session: TenantSession, symbol: str | None = None) -> list[tuple[str, str]]:
    """(id, content_hash) of every decision trace of the tenant (optionally one symbol), sorted: for parity checks."""
    t = session.table("decision_traces")
    where = [t.c.symbol == symbol] if symbol else []
    return sorted((r["id"], r["content_hash"]) for r in session.select("decision_traces", *where,
                                                                        columns=["id", "content_hash"]))


def window_hashes_of(session: TenantSession, symbol: str | None = None) -> list[tuple[str, str]]:
    t = session.table("feature_windows")
    where = [t.c.kind == "market"] + ([t.c.key == symbol] if symbol else [])
    return sorted((r["id"], r["content_hash"]) for r in session.select("feature_windows", *where,
                                                                        columns=["id", "content_hash"]))


def percentiles_ms(lat_us: np.ndarray, qs: Sequence[float] = (50, 99)) -> dict[str, float]:
    return {f"p{int(q)}": float(np.percentile(lat_us, q)) / 1000.0 for q in qs} if len(lat_us) else {}

