"""Steps 4-7 for every token: A(t), the running-sum cut at p, the cap m, blend weights.

Why per token in one compiled loop: the running sums are sequential by
contract (R_k = R_(k−1) + S[t, A_k(t)], in kept order) and A(t) is small, so an
insertion sort and a short scan per token beat any whole-matrix formulation.
The same loop lists each bucket's certain members (see choice.py), since it is
the one place that already knows every membership.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from thunderline.routing.kernels.choice import score_bin


@njit(cache=True, nogil=True)
def assign_tokens(St, buckets, bucket_scores, boundary, bins, p, max_experts):
    """Apply steps 4-7; ``max_experts`` is m, or e when unset.

    Also writes each bucket's members from bins above ``boundary`` to the
    front of its row, in token order, for :func:`order_buckets` to rank.

    A token is in B_j exactly when it ranks at or above B_j's last entry, so
    membership is two comparisons. If every kept score is exactly 0 (possible
    only after exp underflow) the weight is split equally: S/R_r would be 0/0.

    Returns ``(weights, kept_mask, kept_experts, kept_offsets, assigned,
    kept_mass, expert_counts)``; token t's kept experts in kept order are
    ``kept_experts[kept_offsets[t]:kept_offsets[t + 1]]``.
    """
    e, n = St.shape
    K = buckets.shape[1]
    last_token = buckets[:, K - 1].copy()
    last_score = bucket_scores[:, K - 1].copy()
    weights = np.empty((n, e))  # rows are written whole below: one pass, no memset
    kept_mask = np.empty((n, e), np.bool_)
    kept_experts = np.empty(e * K, np.int64)  # N ≤ Σ a_t = e·K
    kept_offsets = np.zeros(n + 1, np.int64)
    assigned = np.zeros(n, np.int64)
    kept_mass = np.zeros(n)
    expert_counts = np.zeros(e, np.int64)
    order = np.empty(e, np.int64)
    ordered = np.empty(e)
    running = np.zeros(e + 1)
    filled = np.zeros(e, np.int64)
    total = 0
    for t in range(n):
        a = 0
        for j in range(e):  # branch-free append of the experts whose bucket holds t
            s = St[j, t]
            member = (s > last_score[j]) | ((s == last_score[j]) & (t <= last_token[j]))
            order[a] = j
            ordered[a] = s
            a += member
        for i in range(a):  # certain members join their bucket, in token order
            j = order[i]
            slot = filled[j]
            if score_bin(ordered[i], bins) > boundary[j] and slot < K:  # bound: never write past a row
                buckets[j, slot] = t
                bucket_scores[j, slot] = ordered[i]
                filled[j] = slot + 1
        for i in range(1, a):  # stable: equal scores keep the lower expert first
            j = order[i]
            s = ordered[i]
            pos = i
            while pos > 0 and ordered[pos - 1] < s:
                ordered[pos] = ordered[pos - 1]
                order[pos] = order[pos - 1]
                pos -= 1
            ordered[pos] = s
            order[pos] = j
        r = a
        for k in range(a):
            running[k + 1] = running[k] + ordered[k]
            if running[k + 1] >= p:
                r = k + 1
                break
        r = min(r, max_experts)
        mass = running[r]
        for j in range(e):
            weights[t, j] = 0.0
            kept_mask[t, j] = False
        for k in range(r):
            j = order[k]
            weights[t, j] = ordered[k] / mass if mass > 0.0 else 1.0 / r
            kept_mask[t, j] = True
            kept_experts[total + k] = j
            expert_counts[j] += 1
        total += r
        kept_offsets[t + 1] = total
        assigned[t] = a
        kept_mass[t] = mass
    return weights, kept_mask, kept_experts[:total].copy(), kept_offsets, assigned, kept_mass, expert_counts


@njit(cache=True, nogil=True)
def bucket_kept(buckets, kept_mask):
    """Which bucket entries kept their expert: expert_tokens[j] = buckets[j][mask[j]]."""
    e, K = buckets.shape
    out = np.empty((e, K), np.bool_)
    for j in range(e):
        for i in range(K):
            out[j, i] = kept_mask[buckets[j, i], j]
    return out
