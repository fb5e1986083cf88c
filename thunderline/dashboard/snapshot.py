"""One tenant's live numbers, read from the warehouse (and the ingress's own counters).

What is shown and where it comes from (telemetry names from ``thunderline.telemetry.events``):

| panel | source |
|---|---|
| lag, throughput | ingress counters (ticks/s, batches waiting since accepted), ``decision_traces`` / ``feature_windows`` inserted in the last ``window_s``, ``flow.market.lag_ms``, ``flow.market.backlog`` |
| router | latest ``router.assignment.experts_per_token``, ``router.load_balance``, ``router.capacity_utilization``, ``router.entropy``; without telemetry, computed from the recent decision traces (experts per window, population std of expert picks, mean gate-score entropy) |
| backpressure | latest ``flow.backpressure.level`` (else ``flow_state`` documents named ``backpressure:*``) |
| drift | latest ``drift_reports`` row per feature (PSI, KS, status) |
| paper PnL | latest ``expert.paper_pnl`` per ``expert`` tag |
| publication | outbox pending / failing / oldest pending |
| sources | latest ``source.edgar.*`` per CIK (lag, throughput, throttled, errors, queue depth) and ``source.binance.*`` per symbol (lag, throughput, gaps, reconnects, errors) |

Every query is scoped to the session's tenant. Missing sources give ``null``, never an error.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, Iterable

import numpy as np
import sqlalchemy as sa

from thunderline.decisions.gate_storage import dense_scores
from thunderline.store.schema import decision_traces, feature_windows, metadata, telemetry_events
from thunderline.store.warehouse import TenantSession

ROUTER_EVENTS = {
    "experts_per_token": "router.assignment.experts_per_token",
    "load_balance": "router.load_balance",
    "capacity_utilization": "router.capacity_utilization",
    "entropy": "router.entropy",
}
BACKPRESSURE_EVENT = "flow.backpressure.level"
LAG_EVENT = "flow.market.lag_ms"
BACKLOG_EVENT = "flow.market.backlog"
PNL_EVENT = "expert.paper_pnl"


def _latest(session: TenantSession, name: str) -> tuple[float, int] | None:
    t = telemetry_events
    r = session.conn.execute(sa.select(t.c.value, t.c.ts).where(t.c.tenant_id == session.tenant_id, t.c.name == name)
                             .order_by(t.c.ts.desc(), t.c.id.desc()).limit(1)).first()
    return (float(r.value), int(r.ts)) if r else None


def _latest_by_tag(session: TenantSession, name: str, tag: str, limit: int = 5000) -> dict[str, float]:
    t = telemetry_events
    rows = session.conn.execute(sa.select(t.c.value, t.c.ts, t.c.tags).where(t.c.tenant_id == session.tenant_id,
                                                                            t.c.name == name)
                                .order_by(t.c.ts.desc(), t.c.id.desc()).limit(limit)).all()
    out: dict[str, float] = {}
    for r in rows:
        key = str((r.tags or {}).get(tag, ""))
        if key and key not in out:
            out[key] = float(r.value)
    return dict(sorted(out.items()))


def _count_since(session: TenantSession, table: sa.Table, since: dt.datetime) -> int:
    return int(session.conn.execute(sa.select(sa.func.count()).select_from(table)
                                    .where(table.c.tenant_id == session.tenant_id, table.c.inserted_at >= since))
               .scalar_one())


def router_from_traces(traces: Iterable[dict]) -> dict[str, float | None]:
    """Router stats recomputed from decision traces (used when no router telemetry was recorded)."""
    per_window, picks, entropies = [], {}, []
    for tr in traces:
        sel = tr.get("selected_experts") or []
        per_window.append(sum(len(layer) for layer in sel))
        for layer_i, layer in enumerate(sel):
            for e in layer:
                picks[(layer_i, e)] = picks.get((layer_i, e), 0) + 1
        for layer in tr.get("gate_scores") or []:  # dense lists, or top-n sparse documents (scores not stored: None)
            s = np.asarray([x for x in dense_scores(layer) if x is not None], dtype=np.float64)
            s = s[s > 0]
            if s.size:
                entropies.append(float(-(s * np.log(s)).sum()))
    if not per_window:
        return {k: None for k in ROUTER_EVENTS}
    counts = np.asarray(list(picks.values()), dtype=np.float64)
    return {
        "experts_per_token": float(np.mean(per_window)),
        "load_balance": float(counts.std()) if counts.size else None,
        "capacity_utilization": None,
        "entropy": float(np.mean(entropies)) if entropies else None,
    }


def _finite(x: Any) -> Any:
    return None if isinstance(x, float) and not math.isfinite(x) else x


def tenant_snapshot(session: TenantSession, *, now_us: int, window_s: float = 10.0,
                    ingress: dict | None = None, accepted: list[tuple[str, int]] | None = None,
                    publisher: str | None = None, recent_traces: int = 200) -> dict[str, Any]:
    """The dashboard's JSON for ``session``'s tenant at ``now_us`` (µs UTC)."""
    now = dt.datetime.fromtimestamp(now_us / 1e6, tz=dt.timezone.utc)
    since = now - dt.timedelta(seconds=window_s)
    return {
        "tenant": session.tenant_id, "ts_us": now_us, "window_s": window_s,
        "ingress": _ingress(session, ingress, accepted, now_us),
        "pipeline": _pipeline(session, since, window_s),
        "router": _router(session, recent_traces),
        "backpressure": _backpressure(session),
        "drift": _drift_by_feature(session),
        "pnl": [{"expert": k, "pnl": v} for k, v in _latest_by_tag(session, PNL_EVENT, "expert").items()],
        "publish": _publication(session, publisher, now_us),
        "sources": sources_snapshot(session, now_us=now_us),
    }


def _ingress(session: TenantSession, ingress: dict | None, accepted: list[tuple[str, int]] | None,
             now_us: int) -> dict[str, Any]:
    """The ingress counters plus lag: how many accepted batches (sha, accepted at µs) are not yet
    processed by the landing index, and how long the oldest of them has waited."""
    ing = dict(ingress or {})
    pending_since = None
    waiting = 0
    if accepted:
        lf = metadata.tables["landing_files"]
        shas = [s for s, _ in accepted]
        done: set[str] = set()
        cm = metadata.tables["compacted_members"]
        for i in range(0, len(shas), 500):
            done |= {r[0] for r in session.conn.execute(
                sa.select(lf.c.id).where(lf.c.tenant_id == session.tenant_id, lf.c.id.in_(shas[i : i + 500]),
                                         lf.c.status == "processed"))}
            # a small file compacted with others is done when the compacted file is
            done |= {r[0] for r in session.conn.execute(
                sa.select(cm.c.member_id).join(lf, sa.and_(lf.c.id == cm.c.compacted_id, lf.c.tenant_id == cm.c.tenant_id))
                .where(cm.c.tenant_id == session.tenant_id, cm.c.member_id.in_(shas[i : i + 500]),
                       lf.c.status == "processed"))}
        pend = [t for s, t in accepted if s not in done]
        waiting = len(pend)
        pending_since = min(pend) if pend else None
    ing["batches_waiting"] = waiting
    ing["ingest_lag_s"] = 0.0 if pending_since is None else max(0.0, (now_us - pending_since) / 1e6)
    return ing


def _pipeline(session: TenantSession, since: dt.datetime, window_s: float) -> dict[str, Any]:
    """Throughput over the last ``window_s`` seconds and the latest lag/backlog telemetry."""
    lag = _latest(session, LAG_EVENT)
    backlog = _latest(session, BACKLOG_EVENT)
    return {
        "decisions_per_s": _count_since(session, decision_traces, since) / window_s,
        "windows_per_s": _count_since(session, feature_windows, since) / window_s,
        "lag_ms": lag[0] if lag else None,
        "backlog_files": backlog[0] if backlog else None,
    }


def _router(session: TenantSession, recent_traces: int) -> dict[str, Any]:
    """Router statistics from telemetry; with none recorded, computed from the latest decision traces."""
    router: dict[str, Any] = {}
    for key, name in ROUTER_EVENTS.items():
        v = _latest(session, name)
        router[key] = v[0] if v else None
    source = "telemetry"
    if all(v is None for v in router.values()):
        dt_ = decision_traces
        rows = session.conn.execute(sa.select(dt_.c.selected_experts, dt_.c.gate_scores)
                                    .where(dt_.c.tenant_id == session.tenant_id)
                                    .order_by(dt_.c.inserted_at.desc(), dt_.c.id.desc()).limit(recent_traces)).all()
        router = router_from_traces({"selected_experts": r.selected_experts, "gate_scores": r.gate_scores} for r in rows)
        source = "decision_traces" if rows else None
    router["source"] = source
    return {k: _finite(v) for k, v in router.items()}


def _backpressure(session: TenantSession) -> dict[str, Any]:
    """The backpressure ladder's step (telemetry, else the highest level in ``flow_state``) and state."""
    bp = _latest(session, BACKPRESSURE_EVENT)
    step: Any = bp[0] if bp else None
    detail = None
    fs = metadata.tables.get("flow_state")
    if fs is not None:
        rows = session.conn.execute(sa.select(fs.c.id, fs.c.state).where(fs.c.tenant_id == session.tenant_id,
                                                                         fs.c.id.like("backpressure:%"))).all()
        detail = {r.id: r.state for r in rows} or None
        if step is None and rows:
            levels = [r.state.get("level", r.state.get("step")) for r in rows if isinstance(r.state, dict)]
            levels = [lv for lv in levels if isinstance(lv, (int, float))]
            step = max(levels) if levels else None
    return {"step": step, "state": detail}


def _drift_by_feature(session: TenantSession) -> list[dict[str, Any]]:
    """The newest drift report row per feature, worst PSI first."""
    dr = metadata.tables.get("drift_reports")
    drift = []
    if dr is not None:
        rows = session.conn.execute(sa.select(dr.c.feature, dr.c.psi, dr.c.ks_statistic, dr.c.status, dr.c.scope)
                                    .where(dr.c.tenant_id == session.tenant_id)
                                    .order_by(dr.c.inserted_at.desc(), dr.c.scope.desc(), dr.c.feature).limit(1000)).all()
        seen = set()
        for r in rows:
            if r.feature in seen:
                continue
            seen.add(r.feature)
            drift.append({"feature": r.feature, "psi": _finite(r.psi), "ks": _finite(r.ks_statistic),
                          "status": r.status, "scope": r.scope})
        drift.sort(key=lambda d: (-(d["psi"] or 0.0), d["feature"]))
    return drift


def _publication(session: TenantSession, publisher: str | None, now_us: int) -> dict[str, Any]:
    """The publication outbox: backend, pending/failing/sent counts and the oldest pending row's age."""
    from thunderline.publish.outbox import stats as outbox_stats

    st = outbox_stats(session)
    return {"backend": publisher, "pending": st.pending, "failing": st.failing, "sent": st.sent,
            "lag_s": 0.0 if st.oldest_pending_us is None else max(0.0, (now_us - st.oldest_pending_us) / 1e6)}


#: The tag that names a source's stream, per source family.
SOURCE_KEYS = {"edgar": "cik", "binance-ws": "symbol"}


def sources_snapshot(session: TenantSession, *, now_us: int, limit: int = 2000) -> list[dict[str, Any]]:
    """One row per source stream (an EDGAR CIK, a WebSocket symbol): its latest ``source.*`` figures."""
    t = telemetry_events
    rows = session.conn.execute(sa.select(t.c.name, t.c.value, t.c.ts, t.c.tags)
                                .where(t.c.tenant_id == session.tenant_id, t.c.name.like("source.%"))
                                .order_by(t.c.ts.desc()).limit(limit)).all()
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        tags = r.tags or {}
        src = str(tags.get("source", r.name.split(".")[1]))
        key = str(tags.get(SOURCE_KEYS.get(src, "key"), ""))
        d = out.setdefault((src, key), {"source": src, "key": key, "age_s": max(0.0, (now_us - int(r.ts)) / 1e6)})
        metric = r.name.split(".", 2)[2]
        if metric not in d:
            d[metric] = _finite(float(r.value))
    return [out[k] for k in sorted(out)]


def sources_prometheus(rows_by_tenant: dict[str, list[dict[str, Any]]]) -> str:
    """The sources' latest figures as Prometheus gauges ``thunderline_source_<metric>{tenant,source,stream}``."""
    from thunderline.telemetry.prometheus import metric_name

    fams: dict[str, list[str]] = {}
    for tenant, rows in sorted(rows_by_tenant.items()):
        for r in rows:
            for k, v in sorted(r.items()):
                if k in ("source", "key") or not isinstance(v, (int, float)):
                    continue
                name = metric_name(f"source.{k}")
                lab = f'tenant="{tenant}",source="{r["source"]}",stream="{r["key"]}"'
                fams.setdefault(name, []).append(f"{name}{{{lab}}} {float(v)!r}")
    out = []
    for name in sorted(fams):
        out += [f"# HELP {name} latest value reported by a source (EDGAR poller, market WebSocket)",
                f"# TYPE {name} gauge", *fams[name]]
    return "\n".join(out) + ("\n" if out else "")
