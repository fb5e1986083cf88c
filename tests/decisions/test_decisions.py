"""Decisions end to end: real MLflow registry, real router, real experts, both warehouses.

Experts are trained on synthetic windows and registered in a SQLite MLflow
store; the router version is seeded; traces must be deterministic, expert
failures and budget breaches must abstain with a flag, shadows must never move
the blend, the deny map must halt, and router versions must switch atomically.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from thunderline.decisions.bootstrap import bootstrap_from_windows
from thunderline.decisions.pipeline import decide
from thunderline.decisions.pool import load_pool
from thunderline.decisions.router_state import active_router, publish_router_version, router_history
from thunderline.experts import DEFAULT_EXPERT_SPECS
from thunderline.experts.registry import ExpertRegistry
from thunderline.flow.decision_partition import decide_windows
from thunderline.market.features import build_windows, to_feature_windows
from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks
from thunderline.risk import RiskConfig

TENANT = "default"
MARKET_SPECS = [s for s in DEFAULT_EXPERT_SPECS if s.family != "filing"][:4]


def _windows(seed: int, n_ticks: int, start_us: int):
    spec = SyntheticSpec(n_ticks=n_ticks, seed=seed, symbol="SYN", start_us=start_us)
    res = build_windows(synthetic_ticks(spec, TENANT))
    return to_feature_windows(res, tenant_id=TENANT, symbol="SYN")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow")
    history = _windows(1, 120_000, 1_704_205_800_000_000)
    live = _windows(2, 30_000, 1_706_884_200_000_000)
    registry = ExpertRegistry(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    state, report = bootstrap_from_windows(registry, history, specs=MARKET_SPECS, seed=7)
    experts, shadows = load_pool(registry, state)
    yield {"registry": registry, "state": state, "report": report, "experts": experts, "live": live,
           "history": history}
    registry.close()


def test_experts_come_from_the_registry_at_the_versions_the_router_records(trained):
    reg, state = trained["registry"], trained["state"]
    assert set(trained["report"].trained) == {s.name for s in MARKET_SPECS}
    for name, expert in trained["experts"].items():
        assert expert.alias == "champion"
        assert reg.aliases(name)["champion"] == expert.version == state.expert_versions[name]
    assert {e for pool in state.pools for e in pool} == set(trained["experts"])


def test_same_windows_same_router_give_identical_traces(trained):
    a = decide(trained["live"], trained["state"], trained["experts"], tenant_id=TENANT, enforce_budgets=False)
    b = decide(trained["live"], trained["state"], trained["experts"], tenant_id=TENANT, enforce_budgets=False)
    assert len(a.traces) == len(trained["live"]) > 50
    assert [t.content_hash for t in a.traces] == [t.content_hash for t in b.traces]
    assert [t.id for t in a.traces] == [t.id for t in b.traces]
    t = a.traces[0]
    assert t.router_version == trained["state"].version
    assert len(t.gate_scores) == len(trained["state"].pools) and len(t.embedding) == 16
    assert {x.expert for x in t.expert_actions} == {e for sel in t.selected_experts for e in sel}
    # not degenerate: the experts take positions and the blend decides (does not abstain)
    assert len({x.action for t in a.traces for x in t.expert_actions}) >= 2
    assert sum(t.blended_action != "abstain" for t in a.traces) > len(a.traces) // 2


def test_traces_persist_identically_on_both_backends(trained, warehouse):
    state, experts, live = trained["state"], trained["experts"], trained["live"]
    from thunderline.lineage import walk

    with warehouse.session(TENANT) as s:
        first = decide_windows(s, live, state, experts, enforce_budgets=False)
        rows = s.select("decision_traces")
        up = {(x.node_id, x.relation) for x in walk(s, rows[0]["id"], "up", 1)}
        down = {(x.node_id, x.relation) for x in walk(s, rows[0]["id"], "down", 1)}
        ranges = s.count("lineage_ranges")
    assert first.traces == len(rows) == len(live)
    # window → trace, router → trace, trace → expert versions: in the trace row and one range row per node
    assert up == {(rows[0]["feature_window_id"], "decided"), (state.version, "routed")}
    assert down == {(f"thunderline.expert.{a['expert']}/{a['model_version']}", "used")
                    for a in rows[0]["expert_actions"]}
    assert ranges == 1 + len({(a["expert"], a["model_version"]) for r in rows for a in r["expert_actions"]})
    stored = {r["id"]: r["content_hash"] for r in rows}
    with warehouse.session(TENANT) as s:
        s.delete("decision_traces")
        again = decide_windows(s, live, state, experts, enforce_budgets=False)
        assert {r["id"]: r["content_hash"] for r in s.select("decision_traces")} == stored
    assert again.hash_of_hashes == first.hash_of_hashes


class _Slow:
    """A real expert that takes longer than its budget."""

    def __init__(self, inner, seconds: float) -> None:
        self.inner, self.seconds = inner, seconds
        self.name, self.version, self.alias = inner.name, inner.version, inner.alias
        self.features, self.latency_budget_ms = inner.features, 5.0

    def predict(self, df):
        time.sleep(self.seconds)
        return self.inner.predict(df)


class _Broken(_Slow):
    def predict(self, df):
        raise RuntimeError("model file corrupted")


@pytest.mark.parametrize("wrapper,flag", [(lambda e: _Slow(e, 0.4), "latency_budget"),
                                          (lambda e: _Broken(e, 0), "expert_error")])
def test_slow_or_failing_expert_abstains_with_a_flag(trained, wrapper, flag):
    experts = dict(trained["experts"])
    victim = sorted(experts)[0]
    experts[victim] = wrapper(experts[victim])
    live = trained["live"][:40]  # small batch: the expert's own 5 ms budget applies
    t0 = time.perf_counter()
    batch = decide(live, trained["state"], experts, tenant_id=TENANT)
    assert time.perf_counter() - t0 < 30  # the batch was not stalled waiting for the slow expert
    hit = [t for t in batch.traces if any(a.expert == victim and a.weight > 0 for a in t.expert_actions)]
    assert hit, "the victim expert was kept for some windows"
    for t in hit:
        assert f"{flag}:{victim}" in t.risk_flags and t.blended_action == "abstain"
        assert {a.action for a in t.expert_actions if a.expert == victim} == {"abstain"}
    spared = [t for t in batch.traces if t not in hit]
    assert all(f"{flag}:{victim}" not in t.risk_flags for t in spared)


def test_shadow_is_logged_but_never_changes_the_blend(trained):
    live = trained["live"]
    base = decide(live, trained["state"], trained["experts"], tenant_id=TENANT, enforce_budgets=False)
    shadow = next(iter(trained["experts"].values()))

    class Contrarian:  # a shadow that always shouts the opposite with full confidence
        name, version, alias, features, latency_budget_ms = "contrarian", "9", "shadow", shadow.features, 50.0

        def predict(self, df):
            import pandas as pd

            return pd.DataFrame({"action": ["sell"] * len(df), "confidence": [1.0] * len(df)}, index=df.index)

    with_shadow = decide(live, trained["state"], trained["experts"], tenant_id=TENANT, shadows=[Contrarian()],
                         enforce_budgets=False)
    assert [t.blended_action for t in with_shadow.traces] == [t.blended_action for t in base.traces]
    assert [t.blended_confidence for t in with_shadow.traces] == [t.blended_confidence for t in base.traces]
    logged = [a for t in with_shadow.traces for a in t.expert_actions if a.alias == "shadow"]
    assert len(logged) == len(live) and all(a.weight == 0.0 and a.action == "sell" for a in logged)


def test_deny_map_halts_the_symbol(trained):
    risk = RiskConfig(deny={TENANT: ["SYN"]})
    batch = decide(trained["live"], trained["state"], trained["experts"], tenant_id=TENANT, risk=risk)
    assert all(t.blended_action == "abstain" and "risk.halt:deny_map" in t.risk_flags for t in batch.traces)
    other = decide(trained["live"], trained["state"], trained["experts"], tenant_id="other", risk=risk)
    assert not any("risk.halt:deny_map" in t.risk_flags for t in other.traces)


def test_router_versions_switch_atomically_and_are_recorded(trained, warehouse):
    state = trained["state"]
    with warehouse.session(TENANT) as s:
        v1 = publish_router_version(s, state, reason="seed")
    gates = tuple(g * 2.0 for g in state.gates)
    state2 = type(state)(state.config, gates, state.pools, state.expert_versions, state.embedding)
    with warehouse.session(TENANT) as s:
        v2 = publish_router_version(s, state2, reason="retrain", parent=v1)
        assert active_router(s).version == v2 != v1
        hist = router_history(s)
        assert [h["version"] for h in hist] == [v1, v2] and [h["is_active"] for h in hist] == [False, True]
    with pytest.raises(RuntimeError):  # a failed publication leaves the old version active
        with warehouse.session(TENANT) as s:
            publish_router_version(s, state, reason="rollback")
            raise RuntimeError("crash mid-publication")
    with warehouse.session(TENANT) as s:
        assert active_router(s).version == v2
    b1 = decide(trained["live"][:20], state, trained["experts"], tenant_id=TENANT)
    b2 = decide(trained["live"][:20], state2, trained["experts"], tenant_id=TENANT)
    assert {t.router_version for t in b1.traces} == {v1} and {t.router_version for t in b2.traces} == {v2}
    assert {t.id for t in b1.traces}.isdisjoint({t.id for t in b2.traces})
    np.testing.assert_array_equal(state.gates[0] * 2.0, state2.gates[0])


def test_backpressure_steps_lower_p_and_force_abstain(trained):
    """The ladder's 'lower p' keeps fewer experts per window; 'force abstain' silences an expert."""
    live = trained["live"]
    base = decide(live, trained["state"], trained["experts"], tenant_id=TENANT, enforce_budgets=False)
    lower = decide(live, trained["state"], trained["experts"], tenant_id=TENANT, enforce_budgets=False, p_shift=0.2)
    kept = lambda b: sum(len(sel) for t in b.traces for sel in t.selected_experts)  # noqa: E731
    assert kept(lower) < kept(base)
    assert all("backpressure.lower_p:0.2" in t.risk_flags for t in lower.traces)
    victim = sorted(trained["experts"])[0]
    forced = decide(live, trained["state"], trained["experts"], tenant_id=TENANT, enforce_budgets=False,
                    abstain_experts=[victim])
    acts = [a for t in forced.traces for a in t.expert_actions if a.expert == victim]
    assert acts and {a.action for a in acts} == {"abstain"}
    touched = [t for t in forced.traces if any(a.expert == victim for a in t.expert_actions)]
    assert all(f"backpressure.forced_abstain:{victim}" in t.risk_flags for t in touched)
    assert any(t.blended_action != "abstain" for t in touched)  # the others still decide


def test_a_decision_walks_back_to_its_tick_batch_and_the_filing_it_joined(trained, warehouse, tmp_path):
    from thunderline.edgar import build_windows as edgar_windows_of
    from thunderline.edgar.demo_filings import demo_ticker_map, parse_demo
    from thunderline.lineage import walk
    from thunderline.market.features import BatchRef

    edgar = edgar_windows_of(parse_demo(tmp_path / "filings", TENANT))
    spec = SyntheticSpec(n_ticks=4_000, seed=5, symbol="TLDM", start_us=1_742_304_600_000_000)  # 2025-03-18
    res = build_windows(synthetic_ticks(spec, TENANT))
    market = to_feature_windows(res, tenant_id=TENANT, symbol="TLDM", batches=[BatchRef("batch-1", 1, 4_000)])
    with warehouse.session(TENANT) as s:
        from thunderline.lineage import Edge, record_edges
        from thunderline.store.window_rows import window_row

        s.upsert("feature_windows", [window_row(w) for w in market] + [window_row(w) for w in edgar])
        record_edges(s, [Edge("tick_batch", "batch-1", "feature_window", w.id, "feature_input") for w in market])
        decide_windows(s, market, trained["state"], trained["experts"], ticker_map=demo_ticker_map(),
                       enforce_budgets=False)
        trace_id = s.select("decision_traces", limit=1)[0]["id"]
        up = {(st.kind, st.node_id) for st in walk(s, trace_id, "up", 3)}
    amendment = next(w for w in edgar if w.provenance["accession"] == "0000999001-25-000021")  # 10-K/A, 2025-03-14
    assert ("tick_batch", "batch-1") in up
    assert ("feature_window", amendment.id) in up  # the latest filled filing accepted before the window


def test_lineage_walks_are_the_same_as_with_one_edge_row_per_trace(trained, warehouse, tmp_path, monkeypatch):
    """Every walk, from every node of a decided partition (tick batch, market and filing windows,
    traces, router version, expert versions), up and down, equals the walk over the per-trace edges
    this layout replaced — written as lineage_edges rows for the same traces."""
    from thunderline.edgar import build_windows as edgar_windows_of
    from thunderline.edgar.demo_filings import demo_ticker_map, parse_demo
    from thunderline.flow import decision_partition
    from thunderline.lineage import Edge, describe, record_edge_columns, record_edges, walk
    from thunderline.market.features import BatchRef
    from thunderline.store.window_rows import window_row

    monkeypatch.setattr(decision_partition, "BATCH_WINDOWS", 8)  # several batches, several ranges
    edgar = edgar_windows_of(parse_demo(tmp_path / "filings", TENANT))
    spec = SyntheticSpec(n_ticks=12_000, seed=5, symbol="TLDM", start_us=1_742_304_600_000_000)  # 2025-03-18
    market = to_feature_windows(build_windows(synthetic_ticks(spec, TENANT)), tenant_id=TENANT, symbol="TLDM",
                                batches=[BatchRef("batch-1", 1, 12_000)])
    state, experts = trained["state"], trained["experts"]

    per_trace = []  # each batch's lineage one edge per row, as decide_windows prepares the batch
    prepare = decision_partition.prepare_batch
    monkeypatch.setattr(decision_partition, "prepare_batch",
                        lambda b, *rest: per_trace.append(decision_partition.batch_edge_columns(b)) or prepare(b, *rest))

    def walks(s, nodes):
        return {(n, d): [tuple(vars(x).values()) for x in walk(s, n, d, 5)] for n in nodes for d in ("up", "down")}

    with warehouse.session(TENANT) as s:
        s.upsert("feature_windows", [window_row(w) for w in market] + [window_row(w) for w in edgar])
        record_edges(s, [Edge("tick_batch", "batch-1", "feature_window", w.id, "feature_input") for w in market])
        decide_windows(s, market, state, experts, ticker_map=demo_ticker_map(), enforce_budgets=False)
        traces = s.select("decision_traces", columns=["id", "feature_window_id", "edgar_window_id", "expert_actions"])
        nodes = sorted({"batch-1", state.version} | {t["id"] for t in traces} | {t["feature_window_id"] for t in traces}
                       | {t["edgar_window_id"] for t in traces if t["edgar_window_id"]}
                       | {f"thunderline.expert.{a['expert']}/{a['model_version']}" for t in traces
                          for a in t["expert_actions"]})
        assert any(t["edgar_window_id"] for t in traces)
        assert s.count("lineage_edges") == len(market)  # only the tick batch's: decisions wrote none
        now = walks(s, nodes)
        printed = describe(s, traces[0]["id"], "up", 3)
        # the per-trace layout: lineage detail out of the rows, one lineage_edges row per edge
        s.delete("lineage_ranges")
        s.execute("UPDATE decision_traces SET lineage_batch = NULL, experts_used = NULL")
        assert len(per_trace) > 2
        for columns in per_trace:
            record_edge_columns(s, columns)
        assert s.count("lineage_edges") > 3 * len(market)
        before = walks(s, nodes)
        assert describe(s, traces[0]["id"], "up", 3) == printed
    assert now == before
    assert sum(len(v) for v in now.values()) > 10 * len(nodes)  # the walks are not empty
