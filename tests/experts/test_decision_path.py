"""One batch end to end: router weights → experts under budgets → blend (shadow excluded) → risk hooks."""

import threading

import numpy as np

from thunderline.experts import ExpertRunner, blend, window_risk_flags
from thunderline.risk import FLAG_DENY, RiskConfig, apply_risk
from thunderline.routing import route

from .conftest import renamed
from .test_runner import Fake


def test_router_experts_blend_and_risk_on_one_batch(registry, pool, planted):
    for name in ("order_flow_logit_h1", "momentum_gbm_h1", "filing_logit_h10"):
        registry.register(renamed(pool[name], f"dp_{name}"), alias="champion")
    registry.register(renamed(pool["momentum_gbm_h4"], "dp_shadow"), alias="shadow")
    live = [registry.load(f"dp_{n}", "champion") for n in ("order_flow_logit_h1", "momentum_gbm_h1",
                                                           "filing_logit_h10")]
    shadow = registry.load("dp_shadow", "shadow")
    release = threading.Event()
    slow = Fake("dp_slow", sleep=5.0, release=release)
    experts = live + [slow, shadow]
    x = planted.frame[planted.test].head(40)

    rng = np.random.default_rng(0)
    assignment = route(rng.normal(size=(40, 8)), rng.normal(size=(8, 5)), capacity_factor=2.0, p=0.65)
    weights = assignment.weights.copy()
    weights[:, 4] = 0.3  # the router never gives a shadow weight; make sure the blend ignores it anyway
    shadow_mask = np.array([False, False, False, False, True])

    try:
        results = ExpertRunner().run_all(experts, x, 1_500.0)
    finally:
        release.set()
    actions = np.column_stack([r.actions for r in results])
    confidences = np.column_stack([r.confidences for r in results])
    blended, conf = blend(actions, confidences, weights, shadow_mask)
    flags = window_risk_flags(results, weights, shadow_mask)
    symbols = np.where(np.arange(40) < 5, "AMZN", "AAPL")
    final, risk_flags = apply_risk("acme", symbols, blended, conf, 100.0, 0.0, flags,
                                   config=RiskConfig.from_mapping({"deny": {"acme": ["AMZN"]}}))

    slow_said = weights[:, 3] > 0
    assert slow_said.any() and (~slow_said).any()  # the router kept the slow expert for some windows only
    assert all(final[slow_said] == "abstain")
    assert all("latency_budget:dp_slow" in f for f in np.array(risk_flags, dtype=object)[slow_said])
    assert all(f[-1] == FLAG_DENY for f in risk_flags[:5]) and set(final[:5]) == {"abstain"}
    clean = ~slow_said & (symbols == "AAPL")
    np.testing.assert_array_equal(final[clean], blended[clean])
    # the shadow ran, was recorded with weight 0, and dropping it changes nothing
    assert results[4].ok and all(a.weight == 0.0 for a in results[4].expert_actions(0, weights[:, 4]))
    without = blend(actions[:, :4], confidences[:, :4], weights[:, :4])
    np.testing.assert_array_equal(without[0], blended)
    np.testing.assert_allclose(without[1], conf, rtol=0, atol=1e-15)
