"""Plain reference of ROUTER_SPEC.md, written from the spec text with loops.

Deliberately naive (Python sorts, lists, math.exp) and independent of
``thunderline.routing``: it is what the kernels are checked against. The one
rule beyond the spec matches the router's documented choice: when every kept
score is exactly 0 (exp underflow), the weight is split equally.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class Reference:
    S: np.ndarray
    K: int
    buckets: list[list[int]]
    assigned: list[list[int]]  # A(t)
    running: list[list[float]]  # R_1..R_a for each token
    kept: list[list[int]]
    weights: np.ndarray
    token_experts: list[list[tuple[int, float]]]
    expert_tokens: list[list[int]]
    stats: dict


def capacity(n: int, c: float, e: int) -> int:
    x = (n * c) / e
    return min(n, max(1, math.ceil(x - 1e-9 * max(1.0, x))))


def softmax_rows(X: np.ndarray, W: np.ndarray) -> np.ndarray:
    L = X @ W
    n, e = L.shape
    S = np.empty((n, e))
    for t in range(n):
        top = max(L[t])
        ex = [math.exp(L[t, j] - top) for j in range(e)]
        z = sum(ex)
        for j in range(e):
            S[t, j] = ex[j] / z
    return S


def reference_route(X, W, c: float, p: float, m: int | None = None) -> Reference:
    X = np.asarray(X, dtype=np.float64)
    W = np.asarray(W, dtype=np.float64)
    n, e = X.shape[0], W.shape[1]
    S = softmax_rows(X, W)
    K = capacity(n, c, e)

    buckets = []
    for j in range(e):
        ranked = sorted(range(n), key=lambda t: (-S[t, j], t))
        buckets.append(ranked[:K])
    in_bucket = [set(b) for b in buckets]

    assigned, running, kept = [], [], []
    weights = np.zeros((n, e))
    for t in range(n):
        a = sorted((j for j in range(e) if t in in_bucket[j]), key=lambda j: (-S[t, j], j))
        sums, total = [], 0.0
        for j in a:
            total = total + S[t, j]
            sums.append(total)
        r = len(a)
        for k, R in enumerate(sums, start=1):
            if R >= p:
                r = k
                break
        if m is not None:
            r = min(r, m)
        keep = a[:r]
        z = sums[r - 1] if r else 0.0
        for j in keep:
            weights[t, j] = S[t, j] / z if z > 0 else 1.0 / r
        assigned.append(a)
        running.append(sums)
        kept.append(keep)

    token_experts = [[(j, float(S[t, j])) for j in kept[t]] for t in range(n)]
    expert_tokens = [[t for t in buckets[j] if j in kept[t]] for j in range(e)]
    counts = [len(expert_tokens[j]) for j in range(e)]
    N = sum(len(k) for k in kept)
    undercovered = [t for t in range(n) if not assigned[t]]
    saturation = {"uncovered": 0, "reached": 0, "capped": 0, "exhausted": 0}
    for t in range(n):
        k_t, a_t = len(kept[t]), len(assigned[t])
        if a_t == 0:
            saturation["uncovered"] += 1
        elif running[t][k_t - 1] >= p:
            saturation["reached"] += 1
        elif k_t < a_t:
            saturation["capped"] += 1
        else:
            saturation["exhausted"] += 1
    hist = [0] * (e + 1)
    for k in kept:
        hist[len(k)] += 1
    entropy = 0.0
    for t in range(n):
        entropy += -sum(s * math.log(s) for s in S[t] if s > 0)
    stats = {
        "n_tokens": n,
        "n_experts": e,
        "capacity": K,
        "capacity_factor": float(c),
        "p": float(p),
        "max_experts": m,
        "total_slots": e * K,
        "assigned_pairs": sum(len(a) for a in assigned),
        "kept_pairs": N,
        "avg_experts_per_token": N / n,
        "expert_counts": tuple(counts),
        "load_balance": math.sqrt(sum((cj - N / e) ** 2 for cj in counts) / e),
        "capacity_utilization": N / (e * K),
        "p_saturation": saturation,
        "experts_per_token_hist": hist,
        "entropy": entropy / n,
        "undercovered": undercovered,
        "n_undercovered": len(undercovered),
        "undercovered_fraction": len(undercovered) / n,
    }
    return Reference(S, K, buckets, assigned, running, kept, weights, token_experts, expert_tokens, stats)


def decisions_are_clear(ref: Reference, p: float, margin: float = 1e-9) -> bool:
    """The spec's acceptance condition: every decision ≥ margin from a tie or from p (exact ties allowed)."""
    S = ref.S
    for col in list(S.T) + list(S):
        values = np.unique(col)
        if values.size > 1 and np.diff(values).min() < margin:
            return False
    for sums in ref.running:
        if any(abs(R - p) < margin for R in sums):
            return False
    return True
