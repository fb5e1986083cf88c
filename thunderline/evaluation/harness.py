"""The evaluation harness: monthly metrics of the blend and every expert, and replay evidence for promotion.

Two views of the same realised labels and cost model (:mod:`thunderline.evaluation.pnl`):

* **monthly** (:func:`evaluate_month`): from what was decided — the ``pnl`` rows
  (blend, per router version), the PnL attributed to each live expert by blend
  weight, and each expert's *standalone* paper trades from its own actions in the
  traces (shadows included: they are logged on every window and never blended).
  Stored in ``evaluation_metrics``, one row per (scope, actor, version, basis).
* **replay** (:func:`load_evidence`, :func:`replay_performance`): for promotion,
  two versions of one expert are compared on *the same* windows — every decided
  window of the evidence period whose label at the expert's horizon is filled —
  by predicting both on those windows' features (market + EDGAR as of each
  window's end). A champion only acts where the router kept it, a shadow acts
  everywhere, so the traces alone could not compare them fairly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from thunderline.evaluation.metrics import Performance, jsonable, performance
from thunderline.evaluation.pnl import CostModel, paper_trades, positions
from thunderline.hashing import content_id
from thunderline.partitioning import month_bounds_us
from thunderline.store.label_rows import load_labels
from thunderline.store.warehouse import TenantSession
from thunderline.store.window_rows import load_edgar_windows, row_to_window


def metric_row(tenant_id: str, scope: str, actor: str, version: str, basis: str, cost: CostModel,
               perf: Performance, detail: dict | None = None) -> dict[str, Any]:
    m = jsonable(perf)
    return dict(id=content_id("evaluation_metric", [tenant_id, scope, actor, version, basis, cost.id]), scope=scope,
                actor=actor, version=str(version), basis=basis, cost_model=cost.id, n=m["n"],
                n_positions=m["n_positions"], hit_rate=m["hit_rate"], ic=m["ic"], turnover=m["turnover"],
                max_drawdown=m["max_drawdown"], gross=m["gross"], cost=m["cost"], net=m["net"], detail=detail or {})


@dataclass
class MonthEvaluation:
    month: str
    cost_model: str
    rows: list[dict] = field(default_factory=list)

    def get(self, actor: str, basis: str, version: str = "*") -> dict | None:
        return next((r for r in self.rows if r["actor"] == actor and r["basis"] == basis
                     and (version == "*" or r["version"] == version)), None)


def evaluate_month(session: TenantSession, month: str, cost: CostModel = CostModel()) -> MonthEvaluation:
    """Blend, attributed and standalone metrics of ``month`` (all symbols); replaces that scope's rows."""
    out = MonthEvaluation(month, cost.id)
    tid = session.tenant_id
    p = session.table("pnl")
    pnl = pd.DataFrame(session.select("pnl", p.c.month == month, p.c.cost_model == cost.id,
                                      columns=["decision_trace_id", "feature_window_id", "window_start", "symbol",
                                               "router_version", "action", "confidence", "position", "fwd_return",
                                               "gross", "cost", "net", "attribution", "inserted_at"],
                                      order_by=[p.c.window_start, p.c.symbol, p.c.inserted_at, p.c.id]))
    if not pnl.empty:
        # "*": what was in force — a window decided again under a newer router version counts once, as its
        # latest decision; per router version every trace counts
        latest = pnl.sort_values(["inserted_at", "decision_trace_id"], kind="stable").drop_duplicates(
            "feature_window_id", keep="last").sort_values(["window_start", "symbol"], kind="stable")
        groups = [("*", latest)] + list(pnl.groupby("router_version", sort=True))
        for version, g in groups:
            perf = performance(g["position"], g["confidence"], g["fwd_return"], g["gross"], g["cost"], g["net"],
                               abstained=g["action"] == "abstain", time_order=g["window_start"])
            out.rows.append(metric_row(tid, month, "blend", version, "blend", cost, perf,
                                       {"actions": g["action"].value_counts().to_dict()}))
        out.rows += _attributed(tid, month, latest, cost)
    out.rows += _standalone(session, month, cost)
    em = session.table("evaluation_metrics")
    session.delete("evaluation_metrics", em.c.scope == month, em.c.cost_model == cost.id)
    session.insert("evaluation_metrics", out.rows)
    return out


def _attributed(tenant_id: str, month: str, pnl: pd.DataFrame, cost: CostModel) -> list[dict]:
    recs = []
    for row in pnl.itertuples(index=False):
        gross_share = row.gross
        for name, a in (row.attribution or {}).items():
            recs.append((name, a["version"], a["share"], row.window_start, row.position, row.fwd_return,
                         a["share"] * gross_share, a["share"] * row.cost, a["net"]))
    if not recs:
        return []
    df = pd.DataFrame(recs, columns=["expert", "version", "share", "t", "position", "r", "gross", "cost", "net"])
    rows = []
    for (name, version), g in df.groupby(["expert", "version"], sort=True):
        perf = performance(g["position"] * g["share"], np.ones(len(g)), g["r"], g["gross"], g["cost"], g["net"],
                           time_order=g["t"])
        perf = Performance(perf.n, perf.n_positions, float("nan"), float("nan"), perf.turnover, perf.max_drawdown,
                           perf.gross, perf.cost, perf.net)  # hit rate / IC belong to the blend, not a share of it
        rows.append(metric_row(tenant_id, month, name, version, "attributed", cost, perf,
                               {"mean_share": float(g["share"].mean())}))
    return rows


def _standalone(session: TenantSession, month: str, cost: CostModel) -> list[dict]:

    lo, hi = month_bounds_us(month)
    dt_ = session.table("decision_traces")
    traces = session.select("decision_traces", dt_.c.window_start >= lo, dt_.c.window_start < hi,
                            columns=["id", "feature_window_id", "window_start", "expert_actions"])
    if not traces:
        return []
    labels = load_labels(session, [t["feature_window_id"] for t in traces], cost.horizon)
    recs = []
    for t in traces:
        lab = labels.get(t["feature_window_id"])
        if lab is None:
            continue
        seen = set()
        for a in t["expert_actions"] or []:
            key = (a["expert"], str(a.get("model_version", "")), a.get("alias", "champion"))
            if key in seen:
                continue  # kept by several layers: one opinion
            seen.add(key)
            recs.append((*key, t["window_start"], a["action"], float(a.get("confidence", 0.0)), lab["fwd_return"],
                         _nan(lab["entry_spread_bps"]), _nan(lab["exit_spread_bps"])))
    if not recs:
        return []
    df = pd.DataFrame(recs, columns=["expert", "version", "alias", "t", "action", "confidence", "r", "entry", "exit"])
    rows = []
    for (name, version, alias), g in df.groupby(["expert", "version", "alias"], sort=True):
        trades = paper_trades(positions(g["action"]), g["r"], g["entry"], g["exit"], cost)
        perf = performance(trades.position, g["confidence"], g["r"], trades.gross, trades.cost, trades.net,
                           abstained=g["action"] == "abstain", time_order=g["t"])
        rows.append(metric_row(session.tenant_id, month, name, version, "standalone", cost, perf, {"alias": alias}))
    return rows


def _nan(x) -> float:
    return float("nan") if x is None else float(x)


# ---------------------------------------------------------------------------------------------- replay evidence
@dataclass
class Evidence:
    """Decided windows of an evidence period, their features and realised labels by horizon."""

    features: pd.DataFrame  # market + EDGAR features, one row per window
    window_ids: np.ndarray
    window_start_us: np.ndarray
    labels: dict[int, pd.DataFrame]  # horizon → fwd_return, label, entry_spread_bps, exit_spread_bps (NaN: unfilled)
    start_us: int
    end_us: int

    def __len__(self) -> int:
        return len(self.window_ids)

    def restrict(self, min_start_us: int | None) -> "Evidence":
        """Only windows starting at or after ``min_start_us`` (e.g. after a candidate's training data)."""
        if min_start_us is None:
            return self
        keep = self.window_start_us >= int(min_start_us)
        return Evidence(self.features[keep].reset_index(drop=True), self.window_ids[keep], self.window_start_us[keep],
                        {h: d[keep].reset_index(drop=True) for h, d in self.labels.items()},
                        max(self.start_us, int(min_start_us)), self.end_us)


def load_evidence(session: TenantSession, start_us: int, end_us: int, horizons: Iterable[int], *,
                  ticker_map: Sequence[dict] = (), decided_only: bool = True,
                  max_windows: int | None = 200_000) -> Evidence:
    """Market windows starting in [start_us, end_us) (only decided ones by default), features and labels.

    At most ``max_windows`` — the most recent — so a month of 125 ms windows over many
    symbols stays a bounded replay (``None``: all of them).
    """
    import sqlalchemy as sa

    from thunderline.contracts import FEATURE_SCHEMA_VERSION
    from thunderline.decisions.pipeline import feature_frame

    fw = session.table("feature_windows")
    where = [fw.c.kind == "market", fw.c.window_start >= start_us, fw.c.window_start < end_us,
             fw.c.status != "superseded"]
    if decided_only:
        dt_ = session.table("decision_traces")
        where.append(fw.c.id.in_(sa.select(dt_.c.feature_window_id).where(
            dt_.c.tenant_id == session.tenant_id, dt_.c.window_start >= start_us, dt_.c.window_start < end_us)))
    rows = session.select("feature_windows", *where, order_by=[fw.c.window_start.desc(), fw.c.key, fw.c.id],
                          limit=max_windows)
    rows.sort(key=lambda r: (r["window_start"], r["key"], r["id"]))
    windows = [row_to_window(r) for r in rows]
    edgar = []
    if windows and ticker_map:
        edgar = load_edgar_windows(session, None, max(w.available_at_us for w in windows))
    features = feature_frame(windows, edgar, ticker_map, FEATURE_SCHEMA_VERSION) if windows else pd.DataFrame()
    ids = np.array([w.id for w in windows], dtype=object)
    labels = {}
    for h in sorted(set(horizons)):
        got = load_labels(session, list(ids), h)
        labels[h] = pd.DataFrame({
            "fwd_return": [_nan(got[i]["fwd_return"]) if i in got else np.nan for i in ids],
            "label": [got[i]["label"] if i in got else None for i in ids],
            "entry_spread_bps": [_nan(got[i]["entry_spread_bps"]) if i in got else np.nan for i in ids],
            "exit_spread_bps": [_nan(got[i]["exit_spread_bps"]) if i in got else np.nan for i in ids],
        })
    return Evidence(features, ids, np.array([w.window_start_us for w in windows], dtype=np.int64), labels,
                    int(start_us), int(end_us))


def replay_performance(expert, evidence: Evidence, cost: CostModel = CostModel()) -> Performance:
    """Paper-trade ``expert`` (anything with ``predict(df)`` and ``horizon``) on the evidence windows.

    The trade is held for the expert's own horizon, so it is judged on what it predicts.
    """
    h = int(getattr(expert, "horizon", cost.horizon))
    if h not in evidence.labels:
        raise ValueError(f"evidence has no labels at horizon {h} (has {sorted(evidence.labels)})")
    if len(evidence) == 0:
        return performance([], [], [], [], [], [])
    lab = evidence.labels[h]
    pred = expert.predict(evidence.features)
    acts = pred["action"].to_numpy(dtype=object)
    trades = paper_trades(positions(acts), lab["fwd_return"], lab["entry_spread_bps"], lab["exit_spread_bps"],
                          CostModel(cost.fee_bps, cost.spread_share, h))
    return performance(trades.position, pred["confidence"], lab["fwd_return"], trades.gross, trades.cost, trades.net,
                       abstained=acts == "abstain", time_order=evidence.window_start_us)
