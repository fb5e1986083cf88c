"""Paper PnL and metrics: hand computations, attribution by blend weight, shadows never paid, both backends."""

import dataclasses
import math

import numpy as np
import pytest

from thunderline.contracts import DecisionTrace, ExpertAction
from thunderline.evaluation import CostModel, attribute, max_drawdown, paper_trades, performance, positions
from thunderline.evaluation.harness import evaluate_month
from thunderline.flow.decision_partition import trace_row
from thunderline.flow.learning_partition import pnl_partition, realise_label_partition
from thunderline.labels.realise import LabelSpec

from .learning_data import TENANT, series, store_windows

T0 = 1_709_287_200_000_000  # 2024-03-01 10:00 UTC
R = [0.0, 1e-4, 3e-4, -2e-4, 5e-4, 0.0, -1e-4, 4e-4, -3e-4, 1e-4, 2e-4, 0.0]
SPREAD = [2.0, 2.5, 3.0, 1.0, 4.0, 2.0, 1.5, 2.0, 2.0, 3.5, 1.0, 2.0]


def test_paper_trade_by_hand():
    cost = CostModel(fee_bps=0.5, spread_share=0.5)
    t = paper_trades(positions(["buy", "sell", "hold", "abstain"]), [3e-4, 3e-4, 3e-4, 3e-4], [3.0] * 4, [4.0] * 4,
                     cost)
    assert t.position.tolist() == [1.0, -1.0, 0.0, 0.0]
    assert t.gross[0] == math.expm1(3e-4) and t.gross[1] == -math.expm1(3e-4)
    # half of 3 bps to enter, half of 4 bps to leave, 0.5 bps fee each side = 4.5 bps
    assert t.cost[0] == pytest.approx(4.5e-4, rel=1e-12) and t.cost[2] == 0.0
    assert t.net[0] == pytest.approx(math.expm1(3e-4) - 4.5e-4, rel=1e-12)


def test_metrics_by_hand():
    pos = np.array([1.0, -1.0, 1.0, 0.0, -1.0])
    r = np.array([2e-4, 1e-4, -1e-4, 5e-4, -3e-4])
    conf = np.array([0.9, 0.6, 0.5, 0.7, 0.8])
    net = np.array([1.0, -2.0, 0.5, 0.0, -1.0])
    perf = performance(pos, conf, r, net, np.zeros(5), net, time_order=[0, 1, 2, 3, 4])
    assert (perf.n, perf.n_positions) == (5, 4)
    assert perf.hit_rate == 0.5  # right on #0 and #4
    assert perf.turnover == pytest.approx(2 * 4 / 5)
    assert perf.max_drawdown == 2.5  # cum 1, −1, −0.5, −0.5, −1.5 → peak 1 → trough −1.5
    assert perf.net == -1.5
    # score = position × confidence = [.9, −.6, .5, 0, −.8]; ranks vs returns by hand
    from scipy.stats import spearmanr

    assert perf.ic == pytest.approx(spearmanr([.9, -.6, .5, 0, -.8], r).statistic, abs=1e-12)
    assert max_drawdown(np.array([1.0, 1.0])) == 0.0 and max_drawdown(np.array([-1.0])) == 1.0


def _acts(weights_by_expert, action="buy", shadow=("shadow_x", "sell")):
    acts = [ExpertAction(layer=0, expert=n, model_version="1", alias="champion", action=a, confidence=0.8,
                         latency_ms=1.0, weight=w) for n, (a, w) in weights_by_expert.items()]
    acts.append(ExpertAction(layer=-1, expert=shadow[0], model_version="7", alias="shadow", action=shadow[1],
                             confidence=0.99, latency_ms=1.0, weight=0.0))
    return acts


def test_attribution_is_by_blend_weight_and_never_pays_a_shadow():
    acts = [a.__dict__ for a in _acts({"a": ("buy", 0.6), "b": ("buy", 0.2), "c": ("abstain", 0.2)})]
    acts.append({**acts[0], "layer": 1, "weight": 0.2})  # a kept by a second layer too: weights add up
    got = attribute(-1.0, acts)
    assert set(got) == {"a", "b"}
    assert got["a"]["share"] == pytest.approx(0.8 / 1.0) and got["b"]["share"] == pytest.approx(0.2 / 1.0)
    assert sum(x["net"] for x in got.values()) == pytest.approx(-1.0)


def _trace(w, action, conf, experts):
    return DecisionTrace(tenant_id=TENANT, feature_window_id=w.id, symbol=w.key, window_start_us=w.window_start_us,
                         window_end_us=w.window_end_us, router_version="rv-test", gate_scores=[[0.5, 0.5]],
                         selected_experts=[["a", "b"]], expert_actions=experts, blended_action=action,
                         blended_confidence=conf, risk_flags=[], embedding=[0.0] * 16)


def test_pnl_partition_and_monthly_metrics_in_the_warehouse(warehouse):
    windows = series("S", T0, R, SPREAD)
    store_windows(warehouse, windows)
    blended = ["buy", "sell", "hold", "buy", "abstain", "sell", "buy", "sell", "buy", "buy", "sell", "buy"]
    traces = [_trace(w, a, 0.7, _acts({"a": (a if a != "abstain" else "hold", 0.75), "b": ("hold", 0.25)}))
              for w, a in zip(windows, blended)]
    cost = CostModel(fee_bps=0.5, horizon=1)
    with warehouse.session(TENANT) as s:
        s.upsert("decision_traces", [trace_row(t) for t in traces])
        realise_label_partition(s, "2024-03", "S", [LabelSpec(1)])
        summary = pnl_partition(s, "2024-03", "S", cost)
        rows = {r["feature_window_id"]: r for r in s.select("pnl")}
    assert summary.traces == 12 and summary.priced == 10 and summary.waiting_for_labels == 2
    w0 = rows[windows[0].id]
    # window 0 buys; its label reads window 2: r = 3 bps, spread 3 bps in and out, 0.5 bps fee each side
    assert w0["position"] == 1.0 and w0["fwd_return"] == 3e-4
    assert w0["net"] == pytest.approx(math.expm1(3e-4) - (0.5 * 6 + 1.0) * 1e-4, rel=1e-12)
    assert w0["attribution"]["a"]["share"] == pytest.approx(0.75) and "shadow_x" not in w0["attribution"]
    assert rows[windows[4].id]["net"] == 0.0 and rows[windows[2].id]["cost"] == 0.0  # abstain / hold: no trade
    with warehouse.session(TENANT) as s:
        ev = evaluate_month(s, "2024-03", cost)
        stored = s.count("evaluation_metrics")
        again = evaluate_month(s, "2024-03", cost)
        assert s.count("evaluation_metrics") == stored == len(again.rows)
    blend = ev.get("blend", "blend")
    nets = [rows[w.id]["net"] for w in windows[:10]]
    assert blend["n"] == 10 and blend["net"] == pytest.approx(sum(nets), rel=1e-12)
    assert blend["n_positions"] == 8 and blend["turnover"] == pytest.approx(2 * 8 / 10)
    attributed = ev.get("a", "attributed")
    assert attributed["net"] + ev.get("b", "attributed")["net"] == pytest.approx(blend["net"], rel=1e-9)
    shadow = ev.get("shadow_x", "standalone")
    assert shadow["detail"]["alias"] == "shadow" and shadow["n_positions"] == 10  # judged alone, every window
    assert ev.get("shadow_x", "attributed") is None  # and never paid from the blend


def test_a_window_decided_again_counts_once_in_the_month_total(warehouse):
    windows = series("S", T0, R, SPREAD)
    store_windows(warehouse, windows)
    old = [_trace(w, "buy", 0.7, _acts({"a": ("buy", 1.0)})) for w in windows]
    new = [dataclasses.replace(t, router_version="rv-next", blended_action="sell") for t in old[:3]]
    with warehouse.session(TENANT) as s:
        realise_label_partition(s, "2024-03", "S", [LabelSpec(1)])
        s.upsert("decision_traces", [trace_row(t) for t in old])
        pnl_partition(s, "2024-03", "S")
        s.upsert("decision_traces", [trace_row(t) for t in new])  # later: three windows re-decided
        pnl_partition(s, "2024-03", "S")
        ev = evaluate_month(s, "2024-03")
    assert ev.get("blend", "blend", "*")["n"] == 10  # one trade per window: the latest decision
    assert ev.get("blend", "blend", "rv-test")["n"] == 10 and ev.get("blend", "blend", "rv-next")["n"] == 3
    assert ev.get("blend", "blend", "*")["n_positions"] == 10
    assert ev.get("a", "attributed")["n"] == 10
