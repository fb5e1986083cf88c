"""ROUTER_SPEC.md's worked example, every variant it lists.

Logits are ln of the example's score rows, so the softmax returns them (up to
the last bit); token 3's two logits are identical, an exact tie.
"""

from __future__ import annotations

import numpy as np
import pytest

from thunderline.routing import route

ROWS = np.array([[0.75, 0.25], [0.6, 0.4], [0.3, 0.7], [0.5, 0.5]])
X = np.log(ROWS)
W = np.eye(2)


def experts(assignment):
    return [[j for j, _ in pairs] for pairs in assignment.token_experts]


def test_base_case():
    a = route(X, W, 1.5, 0.65)
    assert a.stats["capacity"] == 3
    assert a.buckets.tolist() == [[0, 1, 3], [2, 3, 1]]
    assert experts(a) == [[0], [0, 1], [1], [0, 1]]
    np.testing.assert_allclose(a.scores, ROWS, atol=1e-15)
    np.testing.assert_allclose(a.weights, [[1, 0], [0.6, 0.4], [0, 1], [0.5, 0.5]], atol=1e-15)
    assert a.weights[3].tolist() == [0.5, 0.5]  # the exact tie: expert 0 first, equal halves
    assert a.expert_tokens == [[0, 1, 3], [2, 3, 1]]
    for t, pairs in enumerate(a.token_experts):
        for j, score in pairs:
            assert score == a.scores[t, j]
    assert a.stats["undercovered"] == []
    assert a.stats["p_saturation"] == {"uncovered": 0, "reached": 4, "capped": 0, "exhausted": 0}
    assert a.stats["experts_per_token_hist"] == [0, 2, 2]
    assert a.stats["kept_pairs"] == 6
    assert a.stats["expert_counts"] == (3, 3)


def test_max_experts_one_caps_tokens_1_and_3_at_expert_0():
    a = route(X, W, 1.5, 0.65, max_experts=1)
    assert experts(a) == [[0], [0], [1], [0]]
    assert a.weights.tolist() == [[1, 0], [1, 0], [0, 1], [1, 0]]
    sat = a.stats["p_saturation"]
    assert (sat["capped"], sat["reached"]) == (2, 2)


def test_lower_p_lets_token_3_keep_expert_0_only():
    a = route(X, W, 1.5, 0.5)
    assert experts(a)[3] == [0]
    assert experts(a) == [[0], [0], [1], [0]]
    assert a.weights[3].tolist() == [1.0, 0.0]


def test_capacity_one_leaves_tokens_1_and_3_undercovered():
    a = route(X, W, 0.5, 0.65)
    assert a.stats["capacity"] == 1
    assert a.buckets.tolist() == [[0], [2]]
    assert experts(a) == [[0], [], [1], []]
    assert a.stats["undercovered"] == [1, 3]
    assert a.stats["n_undercovered"] == 2
    assert a.stats["undercovered_fraction"] == 0.5
    assert a.weights[[1, 3]].tolist() == [[0, 0], [0, 0]]


@pytest.mark.parametrize("p", [0.65, 0.5])
def test_stats_echo_inputs(p):
    a = route(X, W, 1.5, p)
    s = a.stats
    assert (s["n_tokens"], s["n_experts"], s["capacity_factor"], s["p"], s["max_experts"]) == (4, 2, 1.5, p, None)
    assert s["total_slots"] == s["assigned_pairs"] == 6
