"""One month × symbol of decisions: the partition's market windows → decision traces in the warehouse.

Why here: the Dagster asset and ``thunderline live`` call the same function, so
a window decided either way yields the same trace (same id, same hash).
Incremental: windows that already have a trace for the active router version
are skipped; re-running is idempotent (trace ids are content-derived).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence


from thunderline.decisions.pipeline import DecisionBatch, decide
from thunderline.decisions.router_state import RouterState
from thunderline.flow.edgar_partition import load_edgar_windows
from thunderline.flow.market_partition import row_to_window
from thunderline.lineage import Edge, expert_version_node, record_edges
from thunderline.store.postgres import month_bounds_us
from thunderline.store.warehouse import TenantSession

BATCH_WINDOWS = 4096


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


def trace_row(tr) -> dict:
    body = tr.hashed_content()
    acts = [{**a, "latency_ms": x.latency_ms} for a, x in zip(body["expert_actions"], tr.expert_actions)]
    return dict(id=tr.id, feature_window_id=tr.feature_window_id, symbol=tr.symbol, window_start=tr.window_start_us,
                window_end=tr.window_end_us, router_version=tr.router_version, gate_scores=tr.gate_scores,
                selected_experts=tr.selected_experts, expert_actions=acts, blended_action=tr.blended_action,
                blended_confidence=tr.blended_confidence, risk_flags=tr.risk_flags, embedding=tr.embedding,
                content_hash=tr.content_hash)


def persist_batch(session: TenantSession, batch: DecisionBatch) -> int:
    """Traces + lineage (market window and as-of EDGAR window → trace, trace → expert version,
    router version → trace), so a decision walks back to the exact tick batches and filings."""
    if not batch.traces:
        return 0
    session.upsert("decision_traces", [trace_row(t) for t in batch.traces])
    edges = []
    joined = batch.edgar_window_ids or [None] * len(batch.traces)
    for t, edgar_id in zip(batch.traces, joined):
        edges.append(Edge("feature_window", t.feature_window_id, "decision_trace", t.id, "decided"))
        if edgar_id:  # the filing window the point-in-time join gave this decision
            edges.append(Edge("feature_window", edgar_id, "decision_trace", t.id, "joined_as_of"))
        edges.append(Edge("router_version", t.router_version, "decision_trace", t.id, "routed"))
        for name, version in sorted({(a.expert, a.model_version) for a in t.expert_actions if a.model_version}):
            edges.append(Edge("decision_trace", t.id, "expert_version", expert_version_node(name, version), "used"))
    record_edges(session, edges, job_name="thunderline.decisions")
    return len(batch.traces)


def decide_windows(session: TenantSession, windows: Sequence, state: RouterState, experts: dict[str, Any], *,
                   shadows: Sequence[Any] = (), ticker_map: Sequence[dict] = (), runner=None, risk=None,
                   summary: DecisionSummary | None = None, progress: Callable[[int], None] | None = None,
                   enforce_budgets: bool = True, p_shift: float = 0.0,
                   abstain_experts: Sequence[str] = ()) -> DecisionSummary:
    """Decide ``windows`` (FeatureWindows, one or many symbols) in bounded batches and persist them."""
    summary = summary or DecisionSummary("")
    summary.router_version = state.version
    if not windows:
        return summary
    ciks = sorted({int(r["cik"]) for r in ticker_map if r.get("symbol") in {w.key for w in windows}})
    until = max(w.available_at_us for w in windows)
    edgar = load_edgar_windows(session, ciks, until) if ciks else []
    digest = hashlib.sha256(summary.hash_of_hashes.encode())
    for i in range(0, len(windows), BATCH_WINDOWS):
        part = windows[i : i + BATCH_WINDOWS]
        batch = decide(part, state, experts, tenant_id=session.tenant_id, shadows=shadows, edgar_windows=edgar,
                       ticker_map=ticker_map, runner=runner, risk=risk, enforce_budgets=enforce_budgets,
                       p_shift=p_shift, abstain_experts=abstain_experts)
        summary.traces += persist_batch(session, batch)
        for t in batch.traces:
            digest.update(t.content_hash.encode())
            summary.actions[t.blended_action] = summary.actions.get(t.blended_action, 0) + 1
            for f in t.risk_flags:
                summary.flags[f] = summary.flags.get(f, 0) + 1
        summary.layer_stats = [_small_stats(s) for s in batch.layer_stats()]
        for k, v in batch.expert_latency_ms.items():
            summary.expert_latency_ms[k] = max(v, summary.expert_latency_ms.get(k, 0.0))
        if progress:
            progress(len(part))
    summary.hash_of_hashes = digest.hexdigest()
    return summary


def _small_stats(s: dict) -> dict:
    keep = ("n_tokens", "n_experts", "capacity", "avg_experts_per_token", "load_balance", "capacity_utilization",
            "entropy", "n_undercovered", "undercovered_fraction", "p_saturation")
    return {k: s[k] for k in keep if k in s}


def decide_partition(session: TenantSession, month: str, symbol: str, state: RouterState | None,
                     experts: dict[str, Any], *, shadows: Sequence[Any] = (), ticker_map: Sequence[dict] = (),
                     runner=None, risk=None, recipe_version: str | None = None,
                     progress: Callable[[int], None] | None = None, p_shift: float = 0.0,
                     abstain_experts: Sequence[str] = ()) -> DecisionSummary:
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
    return decide_windows(session, todo, state, experts, shadows=shadows, ticker_map=ticker_map, runner=runner,
                          risk=risk, summary=summary, progress=progress, p_shift=p_shift,
                          abstain_experts=abstain_experts)


