"""One month × symbol of the learning loop: realise labels, then paper PnL of the decisions made there.

Why here: the Dagster ``labels`` / ``pnl`` assets, the demo loop and tests call
the same functions. Guarantees:

* incremental and idempotent: label rows are keyed by (tenant, window, spec);
  a ``filled`` or ``gap`` label is final and never rewritten, a ``pending`` one is
  re-examined on every run until the future windows arrive (labels are realised
  asynchronously — re-running a month after the next month's windows landed
  fills its last windows);
* labels read only windows strictly after the labelled one (see
  :mod:`thunderline.labels.realise`), and the decision path never reads the
  ``labels`` table;
* PnL rows exist only for traces whose label (at the cost model's horizon) is
  filled; re-running replaces them (content-derived ids).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
import sqlalchemy as sa

from thunderline.evaluation.pnl import CostModel, attribute, paper_trades, positions
from thunderline.hashing import content_id
from thunderline.labels.realise import (
    DEFAULT_LABEL_SPECS,
    STATUS_FILLED,
    STATUS_GAP,
    LabelSpec,
    realise_labels,
    specs_of,
)
from thunderline.partitioning import month_bounds_us, month_of_us
from thunderline.store.label_rows import load_labels
from thunderline.store.schema import utcnow
from thunderline.store.warehouse import TenantSession


def label_id(tenant_id: str, feature_window_id: str, spec_id: str) -> str:
    return content_id("label", [tenant_id, feature_window_id, spec_id])


@dataclass
class LabelSummary:
    partition: str
    windows: int = 0
    rows_written: int = 0
    already_final: int = 0
    newly_filled: int = 0
    status: dict[str, int] = field(default_factory=dict)
    latency_ms_p50: float | None = None
    latency_ms_p95: float | None = None
    by_spec: dict[str, dict[str, int]] = field(default_factory=dict)  # spec id → status → count

    @property
    def fill_rate(self) -> float:
        total = sum(self.status.values())
        return self.status.get(STATUS_FILLED, 0) / total if total else 0.0

    @property
    def gap_rate_by_spec(self) -> dict[str, float]:
        """Share of ``gap`` labels per spec (the windows whose label will never be realised)."""
        return {k: v.get(STATUS_GAP, 0) / max(sum(v.values()), 1) for k, v in sorted(self.by_spec.items())}


def _window_frame(rows: list[dict]) -> pd.DataFrame:
    def feat(r, k):
        v = (r["features"] or {}).get(k)
        return np.nan if v is None else float(v)

    return pd.DataFrame({
        "id": [r["id"] for r in rows],
        "symbol": [r["key"] for r in rows],
        "recipe_version": [r["recipe_version"] for r in rows],
        "window_start_us": np.array([r["window_start"] for r in rows], dtype=np.int64),
        "window_end_us": np.array([r["window_end"] for r in rows], dtype=np.int64),
        "available_at_us": np.array([r["available_at"] for r in rows], dtype=np.int64),
        "mid_return": np.array([feat(r, "mid_return") for r in rows], dtype=np.float64),
        "spread_bps": np.array([feat(r, "spread_bps") for r in rows], dtype=np.float64),
        "label_spec": [r.get("label_spec") for r in rows],
    })


def load_market_windows(session: TenantSession, symbol: str, lo: int, hi: int,
                        columns: Sequence[str] | None = None) -> list[dict]:
    fw = session.table("feature_windows")
    return session.select("feature_windows", fw.c.kind == "market", fw.c.key == symbol, fw.c.window_start >= lo,
                          fw.c.window_start < hi, fw.c.status != "superseded", columns=columns,
                          order_by=[fw.c.window_start, fw.c.id])


def realise_label_partition(session: TenantSession, month: str, symbol: str,
                            default_specs: Sequence[LabelSpec] = DEFAULT_LABEL_SPECS, *, lake=None) -> LabelSummary:
    """Realise the labels of every market window of (month, symbol) that is not final yet.

    Clock specs (``LabelSpec.clock_ms``, :func:`thunderline.labels.clock_realise.configured_label_specs`) are
    realised from ``lake``'s quotes of the symbol; chained specs from the following windows."""
    summary = LabelSummary(f"{month}|{symbol}")
    lo, hi = month_bounds_us(month)
    cols = ["id", "key", "recipe_version", "window_start", "window_end", "available_at", "features", "label_spec"]
    own = load_market_windows(session, symbol, lo, hi, cols)
    summary.windows = len(own)
    if not own:
        return summary
    frame = _window_frame(own)
    wanted = [specs_of(ls, default_specs) for ls in frame["label_spec"]]
    all_specs = tuple(dict.fromkeys(s for ss in wanted for s in ss))
    width = int((frame["window_end_us"] - frame["window_start_us"]).max())
    reach = max((s.clock_ms or 0) * 1000 if s.clock_ms else (s.horizon + 2) * width for s in all_specs)
    future = load_market_windows(session, symbol, hi, hi + reach + 2 * width, cols)
    full = pd.concat([frame, _window_frame(future)], ignore_index=True) if future else frame
    lab = session.table("labels")
    final = {(r["feature_window_id"], r["spec_id"]) for r in session.select(
        "labels", lab.c.symbol == symbol, lab.c.month == month, lab.c.status.in_([STATUS_FILLED, STATUS_GAP]),
        columns=["feature_window_id", "spec_id"])}
    fw = session.table("feature_windows")
    known_until = session.execute(sa.select(sa.func.max(fw.c.window_end)).where(
        fw.c.tenant_id == session.tenant_id, fw.c.kind == "market", fw.c.key == symbol)).scalar()
    realised = _realise(full, all_specs, known_until, lake, session.tenant_id, symbol, lo, hi + reach)
    realised = realised[realised["row"] < len(frame)]  # only this partition's windows get rows
    rows = _label_rows(session.tenant_id, realised, frame, wanted, {s.id: s for s in all_specs}, final, symbol, month,
                       summary)
    summary.rows_written = session.upsert("labels", rows)
    return summary


def _realise(full: pd.DataFrame, specs: Sequence[LabelSpec], known_until: int | None, lake, tenant_id: str,
             symbol: str, lo: int, hi: int) -> pd.DataFrame:
    """Chained specs from the windows, clock specs from the lake's quotes over [lo, hi]."""
    from thunderline.labels.clock_realise import realise_clock_labels

    chained = [s for s in specs if s.clock_ms is None]
    clock = [s for s in specs if s.clock_ms is not None]
    parts = []
    if chained:
        parts.append(realise_labels(full, chained, group_col="recipe_version", known_until_us=known_until))
    if clock:
        if lake is None:
            raise ValueError(f"labels of {symbol}: clock label specs {[s.id for s in clock]} need the lake's quotes "
                             "(pass lake=, or THUNDERLINE_LABELS=chained)")
        from thunderline.labels.clock import load_quote_mids
        from thunderline.partitioning import month_of_us

        months = sorted({month_of_us(lo), month_of_us(hi)})
        mids = load_quote_mids(lake, tenant_id, months, symbol, hi_us=hi)
        parts.append(realise_clock_labels(full, clock, mids, known_until_us=known_until))
    return pd.concat(parts, ignore_index=True)


def _label_rows(tenant_id: str, realised: pd.DataFrame, frame: pd.DataFrame, wanted, by_spec, final, symbol: str,
                month: str, summary: LabelSummary) -> list[dict]:
    """``labels`` rows of the realised records that are wanted and not final yet; counts go to ``summary``."""
    now = utcnow()
    rows, latencies = [], []
    for rec in realised.itertuples(index=False):
        i = int(rec.row)
        spec = by_spec[rec.spec_id]
        if spec not in wanted[i]:
            continue
        wid = frame.at[i, "id"]
        summary.status[rec.status] = summary.status.get(rec.status, 0) + 1
        per = summary.by_spec.setdefault(rec.spec_id, {})
        per[rec.status] = per.get(rec.status, 0) + 1
        if (wid, rec.spec_id) in final:
            summary.already_final += 1
            continue
        filled = rec.status == STATUS_FILLED
        if filled:
            summary.newly_filled += 1
            latencies.append(int(rec.latency_us))
        rows.append(dict(
            id=label_id(tenant_id, wid, rec.spec_id), feature_window_id=wid, symbol=symbol, month=month,
            window_start=int(frame.at[i, "window_start_us"]), window_end=int(frame.at[i, "window_end_us"]),
            available_at=int(frame.at[i, "available_at_us"]), spec_id=rec.spec_id, spec=spec.to_json(),
            horizon=int(rec.horizon), label_type=rec.label_type, status=rec.status, filled=bool(filled),
            fwd_return=float(rec.fwd_return) if filled else None, label=rec.label if filled else None,
            realised_at=int(rec.realised_at_us) if filled else None,
            latency_us=int(rec.latency_us) if filled else None,
            entry_spread_bps=_finite(rec.entry_spread_bps) if filled else None,
            exit_spread_bps=_finite(rec.exit_spread_bps) if filled else None,
            filled_at=now if filled else None,
        ))
    if latencies:
        summary.latency_ms_p50 = float(np.percentile(latencies, 50)) / 1e3
        summary.latency_ms_p95 = float(np.percentile(latencies, 95)) / 1e3
    return rows


def _finite(x: Any) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


@dataclass
class PnlSummary:
    partition: str
    cost_model: str
    traces: int = 0
    priced: int = 0
    waiting_for_labels: int = 0
    positions: int = 0
    gross: float = 0.0
    cost: float = 0.0
    net: float = 0.0
    by_router_version: dict[str, float] = field(default_factory=dict)


def pnl_partition(session: TenantSession, month: str, symbol: str, cost: CostModel = CostModel()) -> PnlSummary:
    """Paper PnL of every decision trace of (month, symbol) whose label at ``cost.horizon`` is filled."""
    summary = PnlSummary(f"{month}|{symbol}", cost.id)
    lo, hi = month_bounds_us(month)
    dt_ = session.table("decision_traces")
    traces = session.select("decision_traces", dt_.c.symbol == symbol, dt_.c.window_start >= lo,
                            dt_.c.window_start < hi,
                            columns=["id", "feature_window_id", "window_start", "router_version", "blended_action",
                                     "blended_confidence", "expert_actions"],
                            order_by=[dt_.c.window_start, dt_.c.id])
    summary.traces = len(traces)
    labels = load_labels(session, [t["feature_window_id"] for t in traces], cost.horizon)
    priced = [t for t in traces if t["feature_window_id"] in labels]
    summary.waiting_for_labels = len(traces) - len(priced)
    if not priced:
        return summary
    lab = [labels[t["feature_window_id"]] for t in priced]
    trades = paper_trades(positions(t["blended_action"] for t in priced), [x["fwd_return"] for x in lab],
                          [_nan(x["entry_spread_bps"]) for x in lab], [_nan(x["exit_spread_bps"]) for x in lab], cost)
    rows = []
    for k, t in enumerate(priced):
        net = float(trades.net[k])
        rows.append(dict(
            id=content_id("pnl", [session.tenant_id, t["id"], cost.id]), decision_trace_id=t["id"],
            feature_window_id=t["feature_window_id"], symbol=symbol, month=month, window_start=int(t["window_start"]),
            router_version=t["router_version"], cost_model=cost.id, horizon=int(cost.horizon),
            action=t["blended_action"], confidence=float(t["blended_confidence"]),
            position=float(trades.position[k]), fwd_return=float(lab[k]["fwd_return"]),
            gross=float(trades.gross[k]), cost=float(trades.cost[k]), net=net,
            attribution=attribute(net, t["expert_actions"] or []),
        ))
        summary.by_router_version[t["router_version"]] = summary.by_router_version.get(t["router_version"], 0.0) + net
    session.upsert("pnl", rows)
    summary.priced = len(rows)
    summary.positions = int(np.count_nonzero(trades.position))
    summary.gross, summary.cost, summary.net = (float(trades.gross.sum()), float(trades.cost.sum()),
                                                float(trades.net.sum()))
    return summary


def _nan(x) -> float:
    return float("nan") if x is None else float(x)


def months_with_windows(session: TenantSession) -> list[tuple[str, str]]:
    """Every (month, symbol) that has market windows, in order."""
    fw = session.table("feature_windows")
    stmt = (sa.select(fw.c.key, sa.func.min(fw.c.window_start), sa.func.max(fw.c.window_start))
            .where(fw.c.tenant_id == session.tenant_id, fw.c.kind == "market").group_by(fw.c.key))
    out = set()
    for key, first, last in session.execute(stmt):
        m = month_of_us(int(first))
        while True:
            out.add((m, key))
            if m >= month_of_us(int(last)):
                break
            y, mm = int(m[:4]), int(m[5:])
            m = f"{y + (mm == 12)}-{mm % 12 + 1:02d}"
    return sorted(out)
