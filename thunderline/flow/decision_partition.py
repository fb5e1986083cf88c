"""One month × symbol of decisions: the partition's market windows → decision traces in the warehouse.

Why here: the Dagster asset and ``thunderline live`` call the same function, so
a window decided either way yields the same trace (same id, same hash).
Incremental: windows that already have a trace for the active router version
are skipped; re-running is idempotent (trace ids are content-derived).
"""

from __future__ import annotations

import contextlib
import hashlib
import sys
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from thunderline.decisions import gate_storage, trace_json
from thunderline.decisions.gate_storage import GateStorage
from thunderline.decisions.pipeline import DecisionBatch, decide
from thunderline.decisions.router_state import RouterState
from thunderline.faults import fault_point
from thunderline.flow.ledger import record_step
from thunderline.lineage import expert_version_node, openlineage, record_edge_columns
from thunderline.lineage.edges import column_edges, concat_columns
from thunderline.lineage.graph import announce
from thunderline.lineage.ranges import batch_id, range_columns
from thunderline.partitioning import month_bounds_us
from thunderline.store.warehouse import TenantSession, TenantViolation, json_dumps
from thunderline.store.window_rows import load_edgar_windows, row_to_window

BATCH_WINDOWS = 4096
#: GIL switch interval while a SQLite writer thread runs next to the deciding thread (None: leave Python's 5 ms).
#: Why: the SQLite writer does Python work between short GIL-free ``sqlite3_step`` calls, so it queues for
#: the GIL many times a batch, each time until the deciding thread lets go or the interval forces it;
#: 0.5 ms gave SQLite 1.2-1.5x the wall rate in the same runs (README, persistence). PostgreSQL's writer
#: mostly waits on the server with the GIL released: no gain measured there, so it is left alone.
#: Lowered only for the run (process-wide, as Python has it) and restored after.
WRITER_SWITCH_INTERVAL_S: float | None = 0.0005
_switch_lock = threading.Lock()
_switch_users = [0, 0.005]  # runs inside, the interval to restore when the last one leaves
WAIT = []


class NoExpertsError(RuntimeError):
    """No router version or no champion experts: decisions cannot be made yet."""


@dataclass
class DecisionSummary:
    partition: str
    router_version: str = ""
    windows: int = 0
    skipped_existing: int = 0
    traces: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    flags: dict[str, int] = field(default_factory=dict)
    layer_stats: list[dict] = field(default_factory=list)
    expert_latency_ms: dict[str, float] = field(default_factory=dict)
    hash_of_hashes: str = ""
    writer_wait_s: float = 0.0  # time deciding stood still waiting for the warehouse writer


def trace_row(tr, storage: GateStorage | None = None, kept: Sequence[Sequence[int]] = ()) -> dict:
    """A trace's warehouse row, one by one (the definition the bulk path reproduces). Gate scores are dense
    unless ``storage`` is given with ``kept`` (per layer, the indices of the kept experts): then layers wider
    than ``storage.sparse_above`` are stored sparse, as :func:`batch_columns` stores them."""
    body = tr.hashed_content()
    gates = tr.gate_scores
    if storage is not None:
        gates = [gate_storage.sparse_layer(g, k, storage.top_n) if storage.is_sparse(len(g)) else g
                 for g, k in zip(gates, kept)]
    acts = [{**a, "latency_ms": x.latency_ms} for a, x in zip(body["expert_actions"], tr.expert_actions)]
    return dict(id=tr.id, feature_window_id=tr.feature_window_id, symbol=tr.symbol, window_start=tr.window_start_us,
                window_end=tr.window_end_us, router_version=tr.router_version, gate_scores=gates,
                selected_experts=tr.selected_experts, expert_actions=acts, blended_action=tr.blended_action,
                blended_confidence=tr.blended_confidence, blended_score=tr.blended_score, risk_flags=tr.risk_flags,
                embedding=tr.embedding,
                content_hash=tr.content_hash)


def batch_columns(batch: DecisionBatch, arrow: bool = False,
                  storage: GateStorage = gate_storage.DEFAULT) -> dict[str, list]:
    """``decision_traces`` columns of a batch with JSON columns as text, for the bulk upsert.

    Same values as :func:`trace_row` of every trace (tests compare them parsed). Every float of a
    trace is finite by construction (confidences are validated, the embedding is
    sanitised), so they are formatted in bulk; a batch with a non-finite float anywhere takes
    the general serializer instead, which keeps NaN as the stdlib writes it. The JSON
    documents are assembled by :mod:`thunderline.decisions.trace_json` (Arrow, no per-row Python).
    """
    floats = [batch.confidences, batch.weights, batch.latency_ms, batch.embedding, batch.blended_confidence,
              batch.scores, batch.blended_score,
              *(a.scores for a in batch.assignments)]
    if not all(np.isfinite(np.asarray(x, dtype=np.float64)).all() for x in floats):
        rows = [trace_row(t) for t in batch.traces]  # the rare slow path: the per-trace definition
        cols = {k: [r[k] for r in rows] for k in rows[0]}
        for k in ("selected_experts", "expert_actions", "risk_flags", "embedding"):
            cols[k] = [json_dumps(v) for v in cols[k]]
        cols["gate_scores"] = trace_json.json_columns(batch, storage=storage)["gate_scores"]  # always finite
        return cols
    return {
        "id": batch.ids, "feature_window_id": batch.feature_window_ids, "symbol": batch.symbols,
        "window_start": batch.window_start_us.tolist(), "window_end": batch.window_end_us.tolist(),
        "router_version": [batch.router_version] * len(batch),
        "blended_action": batch.blended_actions.tolist(), "blended_confidence": batch.blended_confidence.tolist(),
        "blended_score": batch.blended_score.tolist(), "content_hash": batch.content_hashes,
        **trace_json.json_columns(batch, arrow=arrow, storage=storage),
    }


def batch_edge_columns(batch: DecisionBatch) -> dict[str, list]:
    """The batch's lineage one edge per row: market window and as-of EDGAR window → trace, router version →
    trace, trace → every expert version it lists (live and shadow). What the warehouse stores compactly
    (trace rows + ``lineage_ranges``) stands for exactly these edges; kept for OpenLineage and for tests."""
    tenant, ids = batch.tenant_id, batch.ids
    parts = [column_edges(tenant, "feature_window", batch.feature_window_ids, "decision_trace", ids, "decided")]
    joined = [(e, t) for e, t in zip(batch.edgar_window_ids, ids) if e]
    if joined:  # the filing window the point-in-time join gave each decision
        parts.append(column_edges(tenant, "feature_window", [e for e, _ in joined], "decision_trace",
                                  [t for _, t in joined], "joined_as_of"))
    parts.append(column_edges(tenant, "router_version", batch.router_version, "decision_trace", ids, "routed"))
    for node, m in expert_use(batch):
        traces = np.flatnonzero(m)
        if traces.size:
            parts.append(column_edges(tenant, "decision_trace", [ids[t] for t in traces.tolist()], "expert_version",
                                      node, "used"))
    return concat_columns(parts)


def expert_use(batch: DecisionBatch) -> list[tuple[str, np.ndarray]]:
    """Per expert version the batch lists: its node id and which traces list it (kept live slots, every shadow)."""
    n = len(batch)
    used = np.zeros((n, len(batch.columns)), dtype=bool)
    base = 0
    for a in batch.assignments:
        used[:, base:base + a.weights.shape[1]] = a.kept_mask
        base += a.weights.shape[1]
    used[:, batch.n_live:] = True
    nodes = sorted({(c.expert, c.model_version) for c in batch.columns if c.model_version})
    out = []
    for node in nodes:
        cols = [g for g, c in enumerate(batch.columns) if (c.expert, c.model_version) == node]
        out.append((expert_version_node(*node), used[:, cols].any(axis=1)))
    return out


@dataclass
class PreparedBatch:
    """A batch's warehouse writes, built and ready: trace rows (with their lineage detail), the batch's
    ``lineage_ranges`` rows, per-trace edges that did not fit a range (normally none), and — only when an
    OpenLineage file is configured — the batch's edges one by one, to announce."""

    tenant_id: str
    traces: dict[str, list]
    ranges: dict[str, list] = field(default_factory=dict)
    edges: dict[str, list] = field(default_factory=dict)
    announce: dict[str, list] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.traces.get("id", ()))


def prepare_batch(batch: DecisionBatch, storage: GateStorage = gate_storage.DEFAULT) -> PreparedBatch:
    """Everything :func:`persist_batch` writes, computed without touching the database.

    Lineage: the market window, the as-of EDGAR window and the expert versions a trace
    lists go in its row; router version → traces and traces → expert version are one
    ``lineage_ranges`` row each per batch (see :mod:`thunderline.lineage.ranges`).
    """
    if not len(batch):
        return PreparedBatch(batch.tenant_id, {})
    traces = batch_columns(batch, arrow=True, storage=storage)  # JSON columns stay Arrow arrays until the writer needs them
    bid = batch_id(batch.tenant_id, batch.router_version, batch.ids)
    ranges, mask, overflow = range_columns(batch.tenant_id, bid, batch.ids, batch.router_version, expert_use(batch))
    edgar = batch.edgar_window_ids or [None] * len(batch)
    traces.update(edgar_window_id=[e or None for e in edgar], lineage_batch=[bid] * len(batch), experts_used=mask)
    edges = concat_columns([column_edges(batch.tenant_id, "decision_trace", [batch.ids[t] for t in np.flatnonzero(m)],
                                         "expert_version", node, "used") for node, m in overflow])
    announce = batch_edge_columns(batch) if openlineage.target_file() is not None else {}
    return PreparedBatch(batch.tenant_id, traces, ranges, edges, announce)


def write_prepared(session: TenantSession, prepared: PreparedBatch) -> int:
    """Write a :class:`PreparedBatch` in the session's transaction."""
    if not len(prepared):
        return 0
    if prepared.tenant_id != session.tenant_id:
        raise TenantViolation(f"decision batch of tenant {prepared.tenant_id!r} offered to a session of tenant "
                              f"{session.tenant_id!r}")
    session.upsert_columns("decision_traces", prepared.traces, json_text=True)
    session.upsert_columns("lineage_ranges", prepared.ranges)
    if prepared.edges:
        record_edge_columns(session, prepared.edges, job_name="thunderline.decisions")
    announce(session, prepared.announce, job_name="thunderline.decisions")
    return len(prepared)


def persist_batch(session: TenantSession, batch: DecisionBatch) -> int:
    """Traces + their lineage (market window and as-of EDGAR window → trace, trace → expert version,
    router version → trace), so a decision walks back to the exact tick batches and filings."""
    return write_prepared(session, prepare_batch(batch))


def decide_windows(session: TenantSession, windows: Sequence, state: RouterState, experts: dict[str, Any], *,
                   shadows: Sequence[Any] = (), ticker_map: Sequence[dict] = (), runner=None, risk=None,
                   summary: DecisionSummary | None = None, progress: Callable[[int], None] | None = None,
                   enforce_budgets: bool = True, p_shift: float = 0.0,
                   abstain_experts: Sequence[str] = (),
                   storage: GateStorage = gate_storage.DEFAULT) -> DecisionSummary:
    """Decide ``windows`` (FeatureWindows, one or many symbols) in bounded batches and persist them
    (gate scores as ``storage`` says: dense up to its width, top-n sparse above)."""
    summary = summary or DecisionSummary("")
    summary.router_version = state.version
    if not windows:
        return summary
    ciks = sorted({int(r["cik"]) for r in ticker_map if r.get("symbol") in {w.key for w in windows}})
    until = max(w.available_at_us for w in windows)
    edgar = load_edgar_windows(session, ciks, until) if ciks else []
    digest = hashlib.sha256(summary.hash_of_hashes.encode())
    # One writer thread writes batch i while batch i+1 is decided and its rows are built: the
    # database driver releases the GIL while it works, so the two overlap on a second core (the
    # writer only runs the SQL; building rows and lineage ids happens here). At most one batch
    # waits for the writer (memory stays two batches), the session is only ever used by one
    # thread at a time, and a writer error surfaces here and rolls the whole transaction back.
    # A single batch (a live micro-batch) has nothing to overlap with: it is written inline, without
    # starting a thread whose start-up and hand-offs a tick would wait for.
    threaded = len(windows) > BATCH_WINDOWS
    with (_short_switch_interval(session_switch_interval(session)) if threaded else contextlib.nullcontext()), \
            (ThreadPoolExecutor(max_workers=1, thread_name_prefix="thunderline-persist")
             if threaded else _InlineWriter()) as writer:
        pending = None
        for i in range(0, len(windows), BATCH_WINDOWS):
            part = windows[i : i + BATCH_WINDOWS]
            batch = decide(part, state, experts, tenant_id=session.tenant_id, shadows=shadows,
                           edgar_windows=edgar, ticker_map=ticker_map, runner=runner, risk=risk,
                           enforce_budgets=enforce_budgets, p_shift=p_shift, abstain_experts=abstain_experts)
            prepared = prepare_batch(batch, storage)
            waited = time.perf_counter()
            if pending is not None:
                summary.traces += pending.result()
            summary.writer_wait_s += time.perf_counter() - waited
            pending = writer.submit(write_prepared, session, prepared)
            digest.update("".join(batch.content_hashes).encode())
            for action, count in Counter(batch.blended_actions.tolist()).items():
                summary.actions[action] = summary.actions.get(action, 0) + count
            for f, count in Counter(f for fl in batch.risk_flags for f in fl).items():
                summary.flags[f] = summary.flags.get(f, 0) + count
            summary.layer_stats = [_small_stats(s) for s in batch.layer_stats()]
            for k, v in batch.expert_latency_ms.items():
                summary.expert_latency_ms[k] = max(v, summary.expert_latency_ms.get(k, 0.0))
            if progress:
                progress(len(part))
        if pending is not None:
            summary.traces += pending.result()
    summary.hash_of_hashes = digest.hexdigest()
    return summary


def session_switch_interval(session: TenantSession) -> float | None:
    """The GIL switch interval for a threaded ``decide_windows`` on ``session``'s backend (None: Python's)."""
    return None if session.warehouse.is_postgres else WRITER_SWITCH_INTERVAL_S


@contextlib.contextmanager
def _short_switch_interval(target: float | None):
    """``target`` as the GIL switch interval for the duration (process-wide, as Python has it), restored when
    the last concurrent run leaves; never raises the interval if it is already shorter."""
    if target is None:
        yield
        return
    with _switch_lock:
        if _switch_users[0] == 0:
            _switch_users[1] = sys.getswitchinterval()
        _switch_users[0] += 1
        sys.setswitchinterval(min(target, _switch_users[1]))
    try:
        yield
    finally:
        with _switch_lock:
            _switch_users[0] -= 1
            if _switch_users[0] == 0:
                sys.setswitchinterval(_switch_users[1])


class _InlineWriter:
    """The writer's interface (``submit`` → a Future) running the write at once, in the caller's thread."""

    def __enter__(self) -> "_InlineWriter":
        return self

    def __exit__(self, *exc) -> None:
        return None

    def submit(self, fn, *args) -> Future:
        done: Future = Future()
        try:
            done.set_result(fn(*args))
        except Exception as exc:  # noqa: BLE001 - surfaces at result(), exactly as from the writer thread
            done.set_exception(exc)
        return done


def _small_stats(s: dict) -> dict:
    keep = ("n_tokens", "n_experts", "capacity", "avg_experts_per_token", "load_balance", "capacity_utilization",
            "entropy", "n_undercovered", "undercovered_fraction", "p_saturation")
    return {k: s[k] for k in keep if k in s}


def decide_partition(session: TenantSession, month: str, symbol: str, state: RouterState | None,
                     experts: dict[str, Any], *, shadows: Sequence[Any] = (), ticker_map: Sequence[dict] = (),
                     runner=None, risk=None, recipe_version: str | None = None,
                     progress: Callable[[int], None] | None = None, p_shift: float = 0.0,
                     abstain_experts: Sequence[str] = (),
                     storage: GateStorage = gate_storage.DEFAULT) -> DecisionSummary:
    """Decide every market window of (month, symbol) that has no trace for the active router version yet."""
    if state is None:
        raise NoExpertsError("no active router version: run `thunderline experts bootstrap` (or `make demo`)")
    lo, hi = month_bounds_us(month)
    fw = session.table("feature_windows")
    where = [fw.c.kind == "market", fw.c.key == symbol, fw.c.window_start >= lo, fw.c.window_start < hi]
    if recipe_version:
        where.append(fw.c.recipe_version == recipe_version)
    rows = session.select("feature_windows", *where, order_by=[fw.c.window_start, fw.c.id])
    dt = session.table("decision_traces")
    done = {r["feature_window_id"] for r in session.select(
        "decision_traces", dt.c.symbol == symbol, dt.c.window_start >= lo, dt.c.window_start < hi,
        dt.c.router_version == state.version, columns=["feature_window_id"])}
    todo = [row_to_window(r) for r in rows if r["id"] not in done]
    summary = DecisionSummary(f"{month}|{symbol}", windows=len(rows), skipped_existing=len(rows) - len(todo))
    summary = decide_windows(session, todo, state, experts, shadows=shadows, ticker_map=ticker_map, runner=runner,
                             risk=risk, summary=summary, progress=progress, p_shift=p_shift,
                             abstain_experts=abstain_experts, storage=storage)
    record_step(session, "ticks", summary.partition, "decision_traces")
    fault_point("decision_traces.written")
    return summary


