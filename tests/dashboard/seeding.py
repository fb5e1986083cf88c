"""Telemetry, drift reports and decisions for one tenant, as the pipeline would record them."""

from __future__ import annotations

from publish.rows import decision_row, seed

from thunderline.hashing import content_id
from thunderline.telemetry import emit, now_us


def seed_pipeline(warehouse, tenant: str, *, entropy: float = 0.9, step: int = 2) -> None:
    ts = now_us()
    seed(warehouse, tenant, [decision_row(tenant, i) for i in range(4)])
    with warehouse.session(tenant) as s:
        emit(s, "router.assignment.experts_per_token", 1.75, ts=ts)
        emit(s, "router.load_balance", 0.25, ts=ts)
        emit(s, "router.capacity_utilization", 0.8, ts=ts)
        emit(s, "router.entropy", entropy, ts=ts)
        emit(s, "flow.backpressure.level", step, ts=ts)
        emit(s, "flow.market.lag_ms", 420.0, ts=ts)
        for expert, pnl in (("momentum_gbm_h1", 12.5), ("order_flow_logit_h1", -3.25)):
            emit(s, "expert.paper_pnl", pnl, {"expert": expert}, ts=ts)
        s.upsert("drift_reports", [
            dict(id=content_id("drift", [tenant, f]), profile_name="market", profile_hash="h", feature_schema_version="fs-1",
                 scope="2024-01", feature=f, psi=psi, ks_statistic=0.1, ks_pvalue=0.5, status=st, n_baseline=100,
                 n_current=100, detail={})
            for f, psi, st in (("ofi", 0.31, "fail"), ("spread", 0.02, "ok"), ("realized_vol", 0.12, "warn"))])
