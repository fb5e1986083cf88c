"""Regime gates learn which expert is right in which regime; the blend weighs experts as fitted whatever
layers they sit in."""

from __future__ import annotations

import numpy as np
import pandas as pd

from thunderline.decisions.embedding import fit_embedding
from thunderline.decisions.fitting import per_share, routing_share
from thunderline.decisions.regime_gates import REGIME_FEATURES, fit_regime_gates, regime_basis, regime_gates
from thunderline.decisions.router_state import RouterState
from thunderline.decisions.seeding import EMBEDDING_FEATURES
from thunderline.evaluation.signal import rank_ic
from thunderline.experts.blend import blend_scores
from thunderline.routing import RouterConfig, RouterLayerConfig


def _regime_day(n=6000, seed=0):
    """Features of a day with two regimes (high realized_vol: the momentum expert is right; low: the
    order-flow expert), the two experts' scores and the realised direction."""
    rng = np.random.default_rng(seed)
    volatile = (np.arange(n) // 500) % 2 == 1  # regimes of 500 windows, alternating
    F = pd.DataFrame(rng.standard_normal((n, len(EMBEDDING_FEATURES))), columns=list(EMBEDDING_FEATURES))
    F["realized_vol"] = np.where(volatile, 3.0, 1.0) + 0.3 * rng.standard_normal(n)
    y = np.sign(rng.standard_normal(n))
    right = 0.5 * y + 0.6 * rng.standard_normal(n)
    noise = 0.5 * np.sign(rng.standard_normal(n)) + 0.6 * rng.standard_normal(n)
    flow = np.tanh(np.where(volatile, noise, right))
    momentum = np.tanh(np.where(volatile, right, noise[::-1]))
    return F, np.column_stack([flow, momentum]), y, volatile


def _state(F: pd.DataFrame, pools) -> RouterState:
    emb = fit_embedding(F.to_numpy(np.float64), EMBEDDING_FEATURES, d=32, seed=0)
    cfg = RouterConfig(layers=tuple(RouterLayerConfig(name=f"l{i}", n_experts=len(p), capacity_factor=float(len(p)),
                                                      p=1.0) for i, p in enumerate(pools)), d=32)
    return RouterState(cfg, tuple(np.zeros((32, len(p))) for p in pools), tuple(pools),
                       {e: "1" for p in pools for e in p}, emb)


def test_regime_basis_recovers_the_standardised_regime_features_from_the_embedding():
    F, _, _, _ = _regime_day(800)
    state = _state(F, [("flow", "momentum")])
    X = state.embedding.embed(F.to_numpy(np.float64))
    R = X @ regime_basis(state.embedding)
    names = list(EMBEDDING_FEATURES)
    for j, f in enumerate(REGIME_FEATURES):
        k = names.index(f)
        z = (F[f].to_numpy() - state.embedding.mean[k]) / state.embedding.std[k]
        np.testing.assert_allclose(R[:, j], np.clip(z, -8, 8), atol=1e-8)


def test_regime_gate_sends_each_regime_to_the_expert_right_there_and_beats_both_out_of_sample():
    F, S, y, volatile = _regime_day()
    state = _state(F, [("flow", "momentum")])
    X = state.embedding.embed(F.to_numpy(np.float64))
    train = np.arange(len(y)) < 4000  # train on the first 4000 windows, judge on the rest
    gates, info = regime_gates(state, ["flow", "momentum"], S[train], {"flow": 1.0, "momentum": 1.0}, X[train],
                               y[train])
    assert info["corr_after"] > info["corr_before"] + 0.05
    logits = X @ gates[0]
    p_momentum = 1.0 / (1.0 + np.exp(logits[:, 0] - logits[:, 1]))
    assert p_momentum[volatile].mean() > 0.8 and p_momentum[~volatile].mean() < 0.2
    # the gated blend through the blend's own formula, on windows it never saw
    test = ~train
    W = np.column_stack([1 - p_momentum, p_momentum])[test]
    z, _ = blend_scores(np.zeros((test.sum(), 2), np.int8), S[test], W)
    assert rank_ic(z, y[test]) > max(rank_ic(S[test, 0], y[test]), rank_ic(S[test, 1], y[test])) + 0.05
    # before training (zero gates) the blend is the plain average, worse than the gated one
    z0, _ = blend_scores(np.zeros((test.sum(), 2), np.int8), S[test], np.full((test.sum(), 2), 0.5))
    assert rank_ic(z, y[test]) > rank_ic(z0, y[test]) + 0.05


def test_a_regime_gate_with_nothing_to_learn_stays_near_the_plain_blend():
    rng = np.random.default_rng(5)
    n = 3000
    R = rng.standard_normal((n, 3))
    y = np.sign(rng.standard_normal(n))
    V = [np.column_stack([np.tanh(0.4 * y + rng.standard_normal(n)), np.tanh(0.4 * y + rng.standard_normal(n))])]
    Bs, info = fit_regime_gates(R, V, y)
    assert np.abs(Bs[0]).max() < 0.5  # the ridge keeps it close to uniform routing
    assert info["corr_after"] >= info["corr_before"]


def test_uniform_routing_weighs_experts_as_fitted_whatever_layers_they_sit_in():
    """Momentum experts sit in three layers' pools, order-flow ones in two: uniform routing alone would weigh
    a momentum score 2.5 times an order-flow score. Divided by the routing share, the blend is Σ α·s."""
    pools = [("flow_a", "flow_b", "mom"), ("flow_a", "flow_b", "mom"), ("mom",)]
    F, _, _, _ = _regime_day(200)
    state = _state(F, pools)
    share = routing_share(state)
    assert share["mom"] == 2 * (1 / 9) + 1 / 3 and share["flow_a"] == 2 * (1 / 9)
    alpha = per_share({"flow_a": 1.0, "flow_b": 0.0, "mom": 1.0}, share)
    rng = np.random.default_rng(2)
    s = {e: rng.uniform(-1, 1, 50) for e in share}
    cols = [e for p in pools for e in p]
    W = np.column_stack([np.full(50, 1 / (len(pools) * len(p))) for p in pools for _ in p])
    z, _ = blend_scores(np.zeros((50, len(cols)), np.int8), np.column_stack([s[e] for e in cols]), W,
                        np.array([alpha[e] for e in cols]))
    want = s["flow_a"] + s["mom"]
    np.testing.assert_allclose(z / z[0] * want[0], want, rtol=1e-9)
