"""route() against the loop reference, with the spec's Numerics tolerances.

Discrete outputs must match exactly; scores and weights within 1e-12; float
stats within 1e-9 relative - on inputs whose decisions are all ≥ 1e-9 from a
tie or from p, plus exactly representable ties.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from router_cases import cases
from router_reference import decisions_are_clear, reference_route

from thunderline.routing import route

FLOAT_STATS = ("avg_experts_per_token", "load_balance", "capacity_utilization", "entropy", "undercovered_fraction")


def assert_matches_reference(a, ref):
    assert a.stats["capacity"] == ref.K
    assert a.buckets.tolist() == ref.buckets
    assert [[j for j, _ in pairs] for pairs in a.token_experts] == ref.kept
    assert a.expert_tokens == ref.expert_tokens
    np.testing.assert_allclose(a.scores, ref.S, rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.weights, ref.weights, rtol=0, atol=1e-12)
    for mine, theirs in zip(a.token_experts, ref.token_experts):
        assert [j for j, _ in mine] == [j for j, _ in theirs]
        np.testing.assert_allclose([s for _, s in mine], [s for _, s in theirs], rtol=0, atol=1e-12)
    assert set(a.stats) == set(ref.stats)
    for key, expected in ref.stats.items():
        if key in FLOAT_STATS:
            assert math.isclose(a.stats[key], expected, rel_tol=1e-9, abs_tol=1e-300), key
        else:
            assert a.stats[key] == expected, key


@settings(max_examples=200, deadline=None)
@given(cases())
def test_random_inputs_match_reference(case):
    ref = reference_route(case.X, case.W, case.c, case.p, case.m)
    assume(decisions_are_clear(ref, case.p))
    assert_matches_reference(route(case.X, case.W, case.c, case.p, case.m), ref)


@pytest.mark.parametrize(
    "n, d, e, c, p", [(300, 8, 16, 2.0, 0.65), (257, 5, 7, 1.1, 0.5), (130, 3, 3, 0.7, 0.9), (2000, 6, 8, 1.5, 0.6)]
)
def test_larger_batches_match_reference(n, d, e, c, p):
    """Several token blocks, a partial last block; seeds whose decisions are clear of ties."""
    checked = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((n, d))
        W = rng.standard_normal((d, e)) * 0.6
        ref = reference_route(X, W, c, p)
        if not decisions_are_clear(ref, p):
            continue
        assert_matches_reference(route(X, W, c, p), ref)
        checked += 1
        if checked == 4:
            return
    pytest.fail(f"only {checked} of 40 seeds had every decision 1e-9 clear of a tie")


def test_all_tokens_identical_ties_everywhere():
    """Every score is exactly 1/e: buckets take the lowest indices, A(t) is expert order."""
    X = np.zeros((300, 4))
    W = np.ones((4, 5))
    for c, p, m in [(1.0, 0.65, None), (2.5, 0.3, 2), (5.0, 1.0, None)]:
        a, ref = route(X, W, c, p, m), reference_route(X, W, c, p, m)
        assert_matches_reference(a, ref)
    assert a.buckets.tolist() == [list(range(300))] * 5


def test_duplicated_rows_and_columns_tie_exactly():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((120, 6))
    X[60:] = X[:60]  # every token has a twin: ties broken by the lower index
    W = rng.standard_normal((6, 6))
    W[:, 3] = W[:, 1]  # experts 1 and 3 tie within every token
    for c, p in [(1.0, 0.6), (0.4, 0.8), (2.0, 0.45)]:
        ref = reference_route(X, W, c, p)
        assert decisions_are_clear(ref, p)
        assert_matches_reference(route(X, W, c, p), ref)


def test_confident_tokens_fill_the_top_bin():
    """Scores of exactly 1.0 and 0.0 (exp underflow) in bulk: the merge-sort path of the ranking."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((500, 4)) * 400
    W = rng.standard_normal((4, 6))
    a = route(X, W, 1.5, 0.7)
    assert (a.scores == 1.0).sum() > 100
    assert (a.scores == 0.0).sum() > 100
    assert_matches_reference(a, reference_route(X, W, 1.5, 0.7))


def test_token_whose_experts_all_score_zero_splits_weight_equally():
    """Spec gap: S/R_r is 0/0 here; the router splits the weight equally (documented)."""
    X = np.array([[0.0, 0.0, -1000.0], [math.log(9), 0.0, -1000.0], [0.0, math.log(9), -1000.0]])
    a = route(X, np.eye(3), 1.0, 0.65)
    assert a.buckets.tolist() == [[1], [2], [0]]
    assert a.token_experts[0] == [(2, 0.0)]
    assert a.weights[0].tolist() == [0.0, 0.0, 1.0]
    assert a.stats["p_saturation"]["exhausted"] == 1
    assert_matches_reference(a, reference_route(X, np.eye(3), 1.0, 0.65))


def test_single_token_single_expert():
    a = route([[0.3]], [[2.0]], 0.01, 0.2)
    assert a.buckets.tolist() == [[0]]
    assert a.token_experts == [[(0, 1.0)]]
    assert a.weights.tolist() == [[1.0]]
    assert a.stats["entropy"] == 0.0
