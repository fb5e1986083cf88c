"""Steps 4-7 for every token: A(t), the running-sum cut at p, the cap m; and the blend weights.

Why blocks of tokens with the token index innermost: the running sums are
sequential by contract (R_k = R_(k−1) + S[t, A_k(t)], in kept order) but
independent across tokens, and A(t) is small, so tracking each token's best
few members in lock-step vectorises - where a per-token sort and scan spent
most of its time in mispredicted branches. The same pass tallies the
statistics, so nothing re-reads per-token arrays.

Why the weights are separate: they are S/R_r on the kept experts, zeros
elsewhere - an n×e matrix that the compact record (kept experts, their mass)
determines - so :func:`blend_weights` builds it only when it is read.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Indices into the ``saturation`` array of :func:`assign_tokens`.
UNCOVERED, REACHED, CAPPED, EXHAUSTED = 0, 1, 2, 3

#: Tokens per block of the per-token pass.
_BLOCK = 128

#: Best members tracked per token in the vectorised pass (k_t ≤ 3 for almost every token).
_TOP = 3


@njit(cache=True, nogil=True)
def _assign_one(St, t, last_token, last_score, p, cap, order, ordered, running):
    """Steps 4-5 for token t alone: sorts A(t) into ``order``/``ordered``; returns (a_t, k_t, R_r)."""
    e = St.shape[0]
    a = 0
    for j in range(e):
        s = St[j, t]
        if s > last_score[j] or (s == last_score[j] and t <= last_token[j]):
            pos = a
            while pos > 0 and ordered[pos - 1] < s:  # stable: equal scores keep the lower expert first
                ordered[pos] = ordered[pos - 1]
                order[pos] = order[pos - 1]
                pos -= 1
            ordered[pos] = s
            order[pos] = j
            a += 1
    r = a
    running[0] = 0.0
    for k in range(a):
        running[k + 1] = running[k] + ordered[k]
        if running[k + 1] >= p:
            r = k + 1
            break
    r = min(r, cap)
    return a, r, running[r]


@njit(cache=True, nogil=True)
def assign_tokens(St, n, K, last_token, last_score, p, max_experts):
    """Apply steps 4-5 to tokens 0..n-1 of St (e×≥n); ``max_experts`` is m, or e when unset.

    A token is in B_j exactly when it ranks at or above B_j's last entry
    (``last_token[j]``, ``last_score[j]``), so membership is two comparisons.

    Tokens go through in blocks with the token index innermost, so the loops
    vectorise and no branch depends on a score: one pass over the experts
    counts each token's members and keeps its three best in (score desc,
    expert asc) order - an insertion with strict comparisons, so equal scores
    keep the lower expert first - and the running sums over those three
    settle every token whose cut falls within them. The rare token that
    needs more (sum still below p after three, more members, cap above
    three) is redone alone by a sort of its whole A(t).

    Returns ``(kept_experts, kept_offsets, kept_mass, expert_counts, hist,
    saturation, assigned_pairs, undercovered)``: token t's kept experts in
    kept order are ``kept_experts[kept_offsets[t]:kept_offsets[t + 1]]``,
    ``kept_mass[t]`` is R_r; ``hist[k]`` counts tokens keeping k experts,
    ``saturation`` is indexed by UNCOVERED, REACHED, CAPPED, EXHAUSTED, and
    ``undercovered`` lists the tokens no expert chose, ascending.
    """
    e = St.shape[0]
    B = _BLOCK
    cap = min(max_experts, e)
    kept_experts = np.empty(e * K + _TOP, np.int64)  # N ≤ Σ a_t = e·K, plus slack for fixed-width writes
    kept_offsets = np.empty(n + 1, np.int64)
    kept_mass = np.empty(n)
    expert_counts = np.zeros(e, np.int64)
    hist = np.zeros(e + 1, np.int64)
    saturation = np.zeros(4, np.int64)
    undercovered = np.empty(n, np.int64)
    assigned = np.empty(B, np.int64)
    s1 = np.empty(B)  # the three best member scores, −1 where A(t) is shorter (scores are ≥ 0)
    s2 = np.empty(B)
    s3 = np.empty(B)
    x1 = np.empty(B, np.int64)  # their experts, e where A(t) is shorter
    x2 = np.empty(B, np.int64)
    x3 = np.empty(B, np.int64)
    kept = np.empty(B, np.int64)
    mass = np.empty(B)
    order = np.empty(e, np.int64)
    ordered = np.empty(e)
    running = np.empty(e + 1)
    total = 0
    assigned_pairs = 0
    n_under = 0
    kept_offsets[0] = 0
    for t0 in range(0, n, B):
        nb = min(B, n - t0)
        for i in range(nb):
            assigned[i] = 0
            s1[i] = s2[i] = s3[i] = -1.0
            x1[i] = x2[i] = x3[i] = e
        for j in range(e):
            row = St[j, t0:t0 + nb]
            ls = last_score[j]
            lt = last_token[j] - t0
            for i in range(nb):
                # Written without branches or selects between a loaded value and a new one: LLVM turns
                # those into masked stores, which stall the next expert's loads (and ran 2x slower).
                s = row[i]
                member = np.int64((s > ls) | ((s == ls) & (i <= lt)))
                assigned[i] += member
                m = np.float64(member)
                v = s * m + (m - 1.0)  # S[t, j] for a member, −1 otherwise
                a1, a2, a3 = s1[i], s2[i], s3[i]
                b1, b2, b3 = x1[i], x2[i], x3[i]
                up1 = -np.int64(v > a1)  # all ones where v displaces the best, strictly
                up2 = -np.int64(v > a2)
                up3 = -np.int64(v > a3)
                s1[i] = max(v, a1) + 0.0  # (+ 0.0 keeps the store unconditional)
                s2[i] = max(min(v, a1), a2) + 0.0
                s3[i] = max(min(v, a2), a3) + 0.0
                x1[i] = (j & up1) | (b1 & ~up1)
                x2[i] = (b1 & up1) | (((j & up2) | (b2 & ~up2)) & ~up1)
                x3[i] = (b2 & up2) | (((j & up3) | (b3 & ~up3)) & ~up2)
        for i in range(nb):  # R_1..R_3 in kept order; r = min(first k with R_k ≥ p, a, cap)
            a = assigned[i]
            R1 = 0.0 + s1[i]
            R2 = R1 + s2[i]
            R3 = R2 + s3[i]
            cut = 1 if R1 >= p else (2 if R2 >= p else (3 if R3 >= p else _TOP + 1))
            r = min(cut, a, cap)
            kept[i] = r
            mass[i] = 0.0 if r == 0 else (R1 if r == 1 else (R2 if r == 2 else R3))
        for i in range(nb):
            r = kept[i]
            if r > _TOP:  # the cut lies beyond the three best: redo this token alone
                a, r, m = _assign_one(St, t0 + i, last_token, last_score, p, cap, order, ordered, running)
                for k in range(r):
                    kept_experts[total + k] = order[k]
                hist[r] += 1
                kept[i] = r
                mass[i] = m
            else:
                kept_experts[total] = x1[i]  # fixed-width writes: slots past r are overwritten next
                kept_experts[total + 1] = x2[i]
                kept_experts[total + 2] = x3[i]
            total += r
            kept_offsets[t0 + i + 1] = total
        uncovered = reached = capped = pairs = 0
        for i in range(nb):
            a = assigned[i]
            r = kept[i]
            kept_mass[t0 + i] = mass[i]
            pairs += a
            covered = a > 0
            uncovered += a == 0
            reached += covered & (mass[i] >= p)
            capped += covered & (mass[i] < p) & (r < a)
        for k in range(_TOP + 1):  # longer cuts were counted as they were redone
            size = 0
            for i in range(nb):
                size += kept[i] == k
            hist[k] += size
        assigned_pairs += pairs
        saturation[UNCOVERED] += uncovered
        saturation[REACHED] += reached
        saturation[CAPPED] += capped
        saturation[EXHAUSTED] += nb - uncovered - reached - capped
        if uncovered:
            for i in range(nb):
                if assigned[i] == 0:
                    undercovered[n_under] = t0 + i
                    n_under += 1
    for q in range(total):  # C_j, once the lists are final: no chains of increments to one slot
        expert_counts[kept_experts[q]] += 1
    return (kept_experts[:total], kept_offsets, kept_mass, expert_counts, hist, saturation, assigned_pairs,
            undercovered[:n_under].copy())


@njit(cache=True, nogil=True)
def blend_weights(St, kept_experts, kept_offsets, kept_mass):
    """Step 6 as an n×e matrix: S[t, j]/R_r on kept(t), 0 elsewhere.

    If every kept score is exactly 0 (possible only after exp underflow) the
    weight is split equally: S/R_r would be 0/0.
    """
    e, n = St.shape
    weights = np.zeros((n, e))
    for t in range(n):
        lo = kept_offsets[t]
        r = kept_offsets[t + 1] - lo
        mass = kept_mass[t]
        for k in range(r):
            j = kept_experts[lo + k]
            weights[t, j] = St[j, t] / mass if mass > 0.0 else 1.0 / r
    return weights


@njit(cache=True, nogil=True)
def kept_mask(e, kept_experts, kept_offsets):
    """n×e: whether token t kept expert j."""
    n = kept_offsets.shape[0] - 1
    mask = np.zeros((n, e), np.bool_)
    for t in range(n):
        for k in range(kept_offsets[t], kept_offsets[t + 1]):
            mask[t, kept_experts[k]] = True
    return mask


@njit(cache=True, nogil=True)
def bucket_kept(buckets, mask):
    """Which bucket entries kept their expert: expert_tokens[j] = buckets[j][mask[j]]."""
    e, K = buckets.shape
    out = np.empty((e, K), np.bool_)
    for j in range(e):
        for i in range(K):
            out[j, i] = mask[buckets[j, i], j]
    return out
