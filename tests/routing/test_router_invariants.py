"""The ten invariants of ROUTER_SPEC.md as property tests.

Each test reads only the Assignment (scores, buckets, token_experts...) and the
spec, so it checks the router's outputs against each other, not against a
second implementation (that is test_router_reference.py).
"""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from router_cases import assigned_experts, cases, kept_experts, rank_key, running_sums

from thunderline.routing import route

PROPERTY = settings(max_examples=150, deadline=None)


def routed(case):
    return route(case.X, case.W, case.c, case.p, case.m)


@PROPERTY
@given(cases())
def test_1_buckets_hold_the_K_best_tokens(case):
    a = routed(case)
    K = a.stats["capacity"]
    assert 1 <= K <= case.n
    assert a.buckets.shape == (case.e, K)
    for j in range(case.e):
        bucket = a.buckets[j].tolist()
        assert len(set(bucket)) == K
        keys = [rank_key(a, j, t) for t in bucket]
        assert keys == sorted(keys)  # bucket order is ranking order
        outside = [rank_key(a, j, t) for t in range(case.n) if t not in set(bucket)]
        if outside:
            assert max(keys) < min(outside)


@PROPERTY
@given(cases())
def test_2_kept_is_a_prefix_of_assigned(case):
    a = routed(case)
    m = case.m if case.m is not None else case.e
    for t in range(case.n):
        A, kept = assigned_experts(a, t), kept_experts(a, t)
        assert kept == A[: len(kept)]
        if not A:
            assert kept == []
        else:
            assert 1 <= len(kept) <= min(len(A), m)


@PROPERTY
@given(cases())
def test_3_cut_happens_at_the_first_running_sum_reaching_p(case):
    a = routed(case)
    m = case.m if case.m is not None else case.e
    for t in range(case.n):
        A, k = assigned_experts(a, t), len(a.token_experts[t])
        if not A:
            continue
        R = running_sums(a, t, A)
        assert R[k - 1] < case.p
        if k < len(A) and k < m:
            assert R[k] >= case.p
        if R[k] < case.p:
            assert k == min(len(A), m)


@PROPERTY
@given(cases())
def test_4_weights_are_normalised_scores_of_kept_experts(case):
    a = routed(case)
    for t in range(case.n):
        kept = kept_experts(a, t)
        row = a.weights[t]
        outside = np.ones(case.e, bool)
        outside[kept] = False
        assert (row[outside] == 0).all()
        if kept:
            Z = running_sums(a, t, kept)[-1]
            np.testing.assert_allclose(row[kept], a.scores[t, kept] / Z, rtol=0, atol=1e-12)
            assert abs(row.sum() - 1.0) <= 1e-12


@PROPERTY
@given(cases())
def test_5_expert_tokens_mirror_token_experts(case):
    a = routed(case)
    pairs_from_tokens = {(t, j) for t in range(case.n) for j in kept_experts(a, t)}
    pairs_from_experts = {(t, j) for j in range(case.e) for t in a.expert_tokens[j]}
    assert pairs_from_tokens == pairs_from_experts
    for j in range(case.e):  # bucket order is kept
        bucket = a.buckets[j].tolist()
        assert a.expert_tokens[j] == [t for t in bucket if t in set(a.expert_tokens[j])]
    assert sum(a.stats["expert_counts"]) == a.stats["kept_pairs"] == len(pairs_from_tokens)
    assert a.stats["expert_counts"] == tuple(len(x) for x in a.expert_tokens)


@PROPERTY
@given(cases())
def test_6_histogram_and_saturation_partition_the_tokens(case):
    s = routed(case).stats
    assert sum(s["experts_per_token_hist"]) == case.n
    assert len(s["experts_per_token_hist"]) == case.e + 1
    assert sum(s["p_saturation"].values()) == case.n
    assert s["experts_per_token_hist"][0] == s["p_saturation"]["uncovered"] == s["n_undercovered"]
    assert 0 < s["capacity_utilization"] <= 1
    assert s["assigned_pairs"] == s["total_slots"]


@PROPERTY
@given(cases(), st.floats(0.0, 1.0))
def test_7a_raising_p_never_shrinks_kept(case, bump):
    higher = case.p + (1.0 - case.p) * bump
    low = routed(case)
    high = route(case.X, case.W, case.c, higher, case.m)
    assert np.array_equal(low.buckets, high.buckets)
    for t in range(case.n):
        small, big = kept_experts(low, t), kept_experts(high, t)
        assert big[: len(small)] == small


@PROPERTY
@given(cases(), st.floats(1.0, 4.0))
def test_7b_raising_c_extends_buckets_and_never_adds_undercovered(case, factor):
    low = routed(case)
    high = route(case.X, case.W, case.c * factor, case.p, case.m)
    K = low.stats["capacity"]
    assert high.stats["capacity"] >= K
    assert np.array_equal(high.buckets[:, :K], low.buckets)
    assert set(high.stats["undercovered"]) <= set(low.stats["undercovered"])


@PROPERTY
@given(cases())
def test_8_full_capacity_is_plain_dynamic_top_p(case):
    a = route(case.X, case.W, float(case.e), case.p, case.m)  # c = e gives K = n
    assert a.stats["capacity"] == case.n
    m = case.m if case.m is not None else case.e
    S = a.scores
    for t in range(case.n):
        everyone = sorted(range(case.e), key=lambda j: (-S[t, j], j))
        R = running_sums(a, t, everyone)
        r = next((k for k in range(1, case.e + 1) if R[k] >= case.p), case.e)
        assert kept_experts(a, t) == everyone[: min(r, m)]
    assert a.stats["n_undercovered"] == 0


@PROPERTY
@given(cases())
def test_9_one_expert_cap_keeps_the_top_assigned_expert_with_weight_one(case):
    a = route(case.X, case.W, case.c, case.p, 1)
    for t in range(case.n):
        A = assigned_experts(a, t)
        if A:
            assert kept_experts(a, t) == [A[0]]
            assert a.weights[t, A[0]] == 1.0
        else:
            assert kept_experts(a, t) == []


@PROPERTY
@given(cases())
def test_10a_runs_repeat_exactly(case):
    first, second = routed(case), routed(case)
    for name in ("scores", "weights", "buckets", "kept_experts", "kept_offsets", "kept_mask", "bucket_kept"):
        assert np.array_equal(getattr(first, name), getattr(second, name))
    assert first.stats == second.stats
    assert first.token_experts == second.token_experts
    assert first.expert_tokens == second.expert_tokens


@PROPERTY
@given(cases(ties=False), st.randoms(use_true_random=False))
def test_10b_permuting_tie_free_tokens_permutes_results(case, random):
    a = routed(case)
    assume(all(np.unique(col).size == case.n for col in a.scores.T))  # no exact ties between tokens
    perm = list(range(case.n))
    random.shuffle(perm)
    perm = np.array(perm)
    inverse = np.argsort(perm)
    b = route(case.X[perm], case.W, case.c, case.p, case.m)
    assert np.array_equal(b.scores, a.scores[perm])  # bits do not depend on a token's position
    assert np.array_equal(b.weights, a.weights[perm])
    assert np.array_equal(b.buckets, inverse[a.buckets])
    assert [b.token_experts[i] for i in range(case.n)] == [a.token_experts[t] for t in perm]
    assert b.expert_tokens == [inverse[x].tolist() for x in a.expert_tokens]
    assert b.stats["undercovered"] == sorted(inverse[a.stats["undercovered"]].tolist())
    for key in ("expert_counts", "experts_per_token_hist", "p_saturation", "kept_pairs"):
        assert b.stats[key] == a.stats[key]
    assert np.isclose(b.stats["entropy"], a.stats["entropy"], rtol=1e-12, atol=0)
