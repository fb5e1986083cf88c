"""The fast kernels against plain restatements of what they compute.

Two checks the spec-level reference cannot make: the gate's tiled, fused
arithmetic must give exactly the bits of the scalar recurrence it documents
(x₀·w₀ then one fma per k; max, exp, Z summed in expert order, S = v/Z), and
the per-token pass - three best members tracked in vectorised lock-step, longer
cuts redone per token - must decide exactly like a per-token sort of A(t) on
the same scores, ties included (so no 1e-9 clearance is needed).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from numba import njit

from thunderline.routing import route
from thunderline.routing.kernels.gate import gate_scores
from thunderline.routing.kernels.portable_math import NORMAL_LIMIT, exp_normal, exp_tiny, fma, log1p_nonnegative


@njit
def _scalar_gate(X, W):
    n, d = X.shape
    e = W.shape[1]
    S = np.empty((n, e))
    L = np.empty(e)
    entropy = 0.0
    for t in range(n):
        for j in range(e):
            acc = W[0, j] * X[t, 0]
            for k in range(1, d):
                acc = fma(X[t, k], W[k, j], acc)
            L[j] = acc
        top = 0
        for j in range(1, e):
            if L[j] > L[top]:
                top = j
        peak = L[top]
        rest = 0.0
        for j in range(e):
            g = L[j] - peak
            L[j] = g
            v = exp_normal(g) if g >= NORMAL_LIMIT else exp_tiny(g)
            S[t, j] = v
            if j != top:
                rest += v
        weighted = 0.0
        for j in range(e):
            s = S[t, j] / (1.0 + rest)
            S[t, j] = s
            weighted -= s * L[j]
        entropy += log1p_nonnegative(rest) + weighted
    return S, entropy


@pytest.mark.parametrize(
    "n, d, e, scale",
    [(1, 1, 1, 1.0), (7, 3, 5, 1.0), (129, 5, 9, 2.0), (300, 32, 16, 0.3), (257, 2, 17, 1.0), (200, 4, 6, 400.0)],
)
def test_gate_scores_are_the_bits_of_the_scalar_recurrence(n, d, e, scale):
    """Partial tiles, padded expert columns, and (scale 400) exp underflow and tiny dividends."""
    rng = np.random.default_rng(n * 31 + e)
    X = rng.standard_normal((n, d)) * scale
    W = rng.standard_normal((d, e))
    St, entropy, bad = gate_scores(X, W)
    S, expected = _scalar_gate(X, W)
    assert bad == -1
    assert np.array_equal(St[:, :n].T, S)
    assert entropy == pytest.approx(expected, rel=1e-13, abs=1e-300)


def _plain_decisions(S, K, p, m):
    """Steps 3-5 restated per token on given scores: buckets, kept lists, kept masses."""
    n, e = S.shape
    buckets = [sorted(range(n), key=lambda t: (-S[t, j], t))[:K] for j in range(e)]
    member = np.zeros((n, e), bool)
    for j, b in enumerate(buckets):
        member[b, j] = True
    kept, masses = [], []
    for t in range(n):
        A = sorted(np.flatnonzero(member[t]).tolist(), key=lambda j: (-S[t, j], j))
        total, r = 0.0, len(A)
        sums = [0.0]
        for k, j in enumerate(A):
            total = total + S[t, j]
            sums.append(total)
            if total >= p:
                r = k + 1
                break
        r = min(r, m if m is not None else e)
        kept.append(A[:r])
        masses.append(sums[r] if r < len(sums) else sums[-1])
    return buckets, kept, masses


@pytest.mark.parametrize("p, m", [(0.2, None), (0.65, None), (0.65, 2), (0.99, None), (1.0, None), (1.0, 4), (0.5, 1)])
def test_per_token_pass_decides_like_a_per_token_sort(p, m):
    """Ties everywhere (twin tokens, twin experts, a block of identical rows) and cuts beyond three experts."""
    rng = np.random.default_rng(int(p * 100) + (m or 0))
    n, d, e = 1500, 6, 12
    X = rng.standard_normal((n, d))
    X[rng.integers(0, n, 400)] = X[rng.integers(0, n, 400)]
    X[200:330] = 0.0
    W = rng.standard_normal((d, e)) * 0.7
    W[:, 5] = W[:, 2]
    W[:, 9] = W[:, 2]
    for c in (0.3, 2.0, 5.0):
        a = route(X, W, c, p, m)
        S = np.asarray(a.scores)
        buckets, kept, masses = _plain_decisions(S, a.stats["capacity"], p, m)
        assert a.buckets.tolist() == buckets
        assert [a.kept_experts[a.kept_offsets[t]:a.kept_offsets[t + 1]].tolist() for t in range(n)] == kept
        assert a.kept_mass.tolist() == masses
        assert a.stats["kept_pairs"] == sum(map(len, kept))
        assert a.stats["experts_per_token_hist"] == np.bincount([len(k) for k in kept], minlength=e + 1).tolist()
        rows = np.repeat(np.arange(n), a.kept_counts)
        assert np.array_equal(a.weights[rows, a.kept_experts], S[rows, a.kept_experts] / a.kept_mass[rows])
        assert math.isclose(a.weights.sum(), n - a.stats["n_undercovered"], rel_tol=1e-12)
