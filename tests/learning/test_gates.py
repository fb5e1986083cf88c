"""Learned gates: targets by hand, the fitted W_g routes windows to the expert that was right, experts never right
get the mean column minus a margin, deterministic, and what the router then does with it."""

import numpy as np
import pytest

from thunderline.decisions.gates import GateFitError, fit_gate, fit_router_gates, right_expert_targets
from thunderline.routing import route


def test_right_expert_targets_by_hand():
    actions = np.array([["buy", "buy", "sell"],
                        ["hold", "sell", "abstain"],
                        ["buy", "buy", "buy"],
                        ["abstain", "abstain", "abstain"],
                        ["sell", "buy", "hold"]], dtype=object)
    conf = np.array([[0.6, 0.9, 0.8], [0.7, 0.5, 0.0], [0.5, 0.5, 0.4], [0, 0, 0], [0.9, 0.9, 0.9]])
    labels = np.array([["buy", "buy", "buy"],  # experts 0 and 1 right; 1 more confident
                       ["hold", "hold", "hold"],  # only expert 0 right
                       ["buy", "buy", "buy"],  # tie 0.5/0.5 → the lower index
                       ["sell", "sell", "sell"],  # abstentions are never right
                       [None, "sell", "hold"]], dtype=object)  # expert 0's label unknown; 2 right
    assert right_expert_targets(actions, conf, labels).tolist() == [1, 0, 0, -1, 2]


def test_fitted_gate_routes_each_window_to_the_expert_that_was_right():
    rng = np.random.default_rng(0)
    n, d = 600, 6
    X = rng.normal(size=(n, d))
    # expert 0 is right when x0 > 0, expert 2 when x0 < 0; expert 1 (and 3) never
    target = np.where(X[:, 0] > 0, 0, 2)
    target[rng.random(n) < 0.1] = -1  # nobody right here: left out of the fit
    fit = fit_gate(X, target, 4, C=1.0, margin=1.0)
    assert fit.W.shape == (d, 4) and fit.n_used == int((target >= 0).sum())
    assert fit.never_right == [1, 3] and set(fit.right_counts) == {0, 2}
    logits = X @ fit.W
    used = target >= 0
    assert np.mean(np.argmax(logits[used], axis=1) == target[used]) > 0.95
    # binary case: the two columns are ±half of one vector (same softmax as the fitted logistic model)
    np.testing.assert_allclose(fit.W[:, 0], -fit.W[:, 2], rtol=0, atol=0)
    # never-right columns: mean of the fitted ones minus margin × the least-squares fit of 1 on X
    Xu = X[used]
    beta = np.linalg.solve(Xu.T @ Xu + 1e-3 * len(Xu) * np.eye(d), Xu.T @ np.ones(len(Xu)))
    np.testing.assert_allclose(fit.W[:, 1], (fit.W[:, 0] + fit.W[:, 2]) / 2 - beta, rtol=1e-12, atol=1e-15)
    # deterministic, bit for bit
    again = fit_gate(X, target, 4, C=1.0, margin=1.0)
    assert again.W.tobytes() == fit.W.tobytes()
    # and the router now sends most windows to the expert that would have been right
    a = route(X, fit.W * 4.0, capacity_factor=2.0, p=0.65)
    top = np.array([tk[0][0] if tk else -1 for tk in a.token_experts])
    assert np.mean(top[used] == target[used]) > 0.8


def test_margin_lowers_never_right_experts_where_the_embedding_can_express_it():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 5)) + np.array([2.0, 0, 0, 0, 0])  # not centred: a linear gate can shift logits
    target = rng.integers(0, 3, 400)
    fit = fit_gate(X, target, 4, margin=2.0)
    logits = X @ fit.W
    assert np.mean(logits[:, 3] - logits[:, :3].mean(axis=1)) == pytest.approx(-2.0, abs=0.5)


def test_multinomial_layers_and_a_layer_nobody_was_right_in():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 4))
    names = ["a", "b", "c"]
    cls = np.argmax(X[:, :3], axis=1)
    label = np.array(["buy", "sell", "hold"], dtype=object)[cls]
    actions = {n: np.where(cls == i, label, "abstain") for i, n in enumerate(names)}
    conf = {n: np.full(300, 0.7) for n in names}
    labels = {n: label for n in names}
    prev = [np.zeros((4, 3)), np.ones((4, 1))]
    gates, report = fit_router_gates(X, [names, ["z"]], {**actions, "z": np.full(300, "abstain", dtype=object)},
                                     {**conf, "z": np.zeros(300)}, {**labels, "z": label}, previous=prev)
    assert report[0]["learned"] and report[0]["right_counts"] == {n: int((cls == i).sum()) for i, n in
                                                                   enumerate(names)}
    assert np.mean(np.argmax(X @ gates[0], axis=1) == cls) > 0.9
    assert not report[1]["learned"] and np.array_equal(gates[1], prev[1])  # kept, reported
    with pytest.raises(GateFitError):
        fit_gate(X, np.full(300, -1), 3)
