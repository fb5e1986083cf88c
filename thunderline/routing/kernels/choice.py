"""Step 3: every expert takes its K best tokens, ranked by (score desc, index asc).

Why a histogram instead of sorting all n scores per expert: one pass over the
expert's row says which bin holds its K-th ranked token; only that bin needs
sorting to find each bucket's last entry, which is all that membership needs
(:func:`bucket_bounds`, on the routing path). The full ranking of a bucket is
needed only by ``Assignment.buckets`` and ``expert_tokens``, so
:func:`rank_buckets` builds it when they are first read.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Most equal-width bins over [0, 1] per expert; exactness never depends on
#: the count, only speed. The count is passed to the kernels as an argument,
#: never read as a global inside them: numba freezes globals into its cache,
#: and kernels that disagreed on the count would write outside the buckets.
SCORE_BINS = 4096


def score_bins(n: int) -> int:
    """About 16 tokens per bin, so small batches do not walk thousands of empty bins."""
    return min(SCORE_BINS, max(16, n // 16))


#: Runs up to this length are insertion-sorted (they arrive nearly ordered);
#: longer ones are merge-sorted so degenerate score distributions stay O(n log n).
_INSERTION_LIMIT = 32


@njit(cache=True, nogil=True, inline="always")
def score_bin(score, bins):
    """Monotone in score (0 ≤ S ≤ 1), so a higher bin always means a higher score."""
    return int(score * bins)


@njit(cache=True, nogil=True, inline="always")
def _before(score_a, token_a, score_b, token_b):
    return score_a > score_b or (score_a == score_b and token_a < token_b)


@njit(cache=True, nogil=True)
def _insertion_sort(tokens, scores):
    for i in range(1, tokens.shape[0]):
        tok = tokens[i]
        sc = scores[i]
        pos = i
        while pos > 0 and _before(sc, tok, scores[pos - 1], tokens[pos - 1]):
            tokens[pos] = tokens[pos - 1]
            scores[pos] = scores[pos - 1]
            pos -= 1
        tokens[pos] = tok
        scores[pos] = sc


@njit(cache=True, nogil=True)
def rank_sort(tokens, scores, tmp_tokens, tmp_scores):
    """Sort (token, score) pairs in place by score desc, token asc: a total order, one result."""
    size = tokens.shape[0]
    if size <= _INSERTION_LIMIT:
        _insertion_sort(tokens, scores)
        return
    src_t, src_s = tokens, scores
    dst_t, dst_s = tmp_tokens[:size], tmp_scores[:size]
    in_tmp = False
    width = 1
    while width < size:
        for lo in range(0, size, 2 * width):
            mid = min(lo + width, size)
            hi = min(lo + 2 * width, size)
            a, b, out = lo, mid, lo
            while a < mid and b < hi:
                if _before(src_s[b], src_t[b], src_s[a], src_t[a]):
                    dst_t[out] = src_t[b]
                    dst_s[out] = src_s[b]
                    b += 1
                else:
                    dst_t[out] = src_t[a]
                    dst_s[out] = src_s[a]
                    a += 1
                out += 1
            while a < mid:
                dst_t[out] = src_t[a]
                dst_s[out] = src_s[a]
                a += 1
                out += 1
            while b < hi:
                dst_t[out] = src_t[b]
                dst_s[out] = src_s[b]
                b += 1
                out += 1
        src_t, dst_t = dst_t, src_t
        src_s, dst_s = dst_s, src_s
        in_tmp = not in_tmp
        width *= 2
    if in_tmp:
        tokens[:] = src_t
        scores[:] = src_s


@njit(cache=True, nogil=True)
def bucket_bounds(St, n, K, bins):
    """Each bucket's last entry over tokens 0..n-1 of St (e×≥n): ``(last_token, last_score)``.

    That is, the K-th ranked token of every expert under (score desc, token
    asc), which is all membership needs: t is in B_j exactly when it ranks at
    or above B_j's last entry. A histogram of the expert's row finds the bin
    holding the K-th score; only that bin's tokens are listed and sorted.
    The listing pass of expert j shares its loop with the histogram of expert
    j + 1: the histogram's increments wait on each other through memory, and
    the listing's independent loads and compares fill those cycles.
    """
    e = St.shape[0]
    last_token = np.empty(e, np.int64)
    last_score = np.empty(e)
    count = np.zeros((2, bins + 1), np.int32)
    tie_tokens = np.empty(n, np.int64)
    tie_scores = np.empty(n)
    tmp_tokens = np.empty(n, np.int64)
    tmp_scores = np.empty(n)
    first = count[0]
    row = St[0, :n]
    for t in range(n):
        first[score_bin(row[t], bins)] += 1
    for j in range(e):
        this = count[j % 2]
        taken = 0
        b = bins
        while taken + this[b] < K:
            taken += this[b]
            b -= 1
        row = St[j, :n]
        ties = 0
        if j + 1 < e:
            following = St[j + 1, :n]
            nxt = count[(j + 1) % 2]
            nxt[:] = 0
            for t in range(n):
                nxt[score_bin(following[t], bins)] += 1
                s = row[t]
                if score_bin(s, bins) == b:
                    tie_tokens[ties] = t
                    tie_scores[ties] = s
                    ties += 1
        else:
            for t in range(n):
                s = row[t]
                if score_bin(s, bins) == b:
                    tie_tokens[ties] = t
                    tie_scores[ties] = s
                    ties += 1
        rank_sort(tie_tokens[:ties], tie_scores[:ties], tmp_tokens, tmp_scores)
        last_token[j] = tie_tokens[K - 1 - taken]
        last_score[j] = tie_scores[K - 1 - taken]
    return last_token, last_score


@njit(cache=True, nogil=True)
def rank_buckets(St, K, last_token, last_score, bins):
    """The e×K buckets in ranking order, from each bucket's last entry (see :func:`bucket_bounds`).

    Members are listed in token order, counting-sorted by bin (stable, so
    token order within a bin), and the few inversions inside bins are fixed
    by insertion sort; large bins are merge-sorted first so degenerate score
    distributions stay O(K log K). Scores travel with token indices so sorting
    never chases rows of S through memory.
    """
    e, n = St.shape
    buckets = np.empty((e, K), np.int64)
    scores = np.empty(K)
    listed_tokens = np.empty(K, np.int64)
    listed_scores = np.empty(K)
    counts = np.empty(bins + 1, np.int64)
    cursor = np.empty(bins + 1, np.int64)
    tmp_tokens = np.empty(K, np.int64)
    tmp_scores = np.empty(K)
    for j in range(e):
        row = St[j]
        ls = last_score[j]
        lt = last_token[j]
        counts[:] = 0
        size = 0
        for t in range(n):
            s = row[t]
            if s > ls or (s == ls and t <= lt):
                listed_tokens[size] = t
                listed_scores[size] = s
                counts[score_bin(s, bins)] += 1
                size += 1
        taken = 0
        for b in range(bins, -1, -1):
            cursor[b] = taken
            taken += counts[b]
        tokens = buckets[j]
        for i in range(K):  # counting sort by bin, descending, stable in token order
            s = listed_scores[i]
            b = score_bin(s, bins)
            slot = cursor[b]
            tokens[slot] = listed_tokens[i]
            scores[slot] = s
            cursor[b] = slot + 1
        pos = 0
        for b in range(bins, -1, -1):
            size = counts[b]
            if size > _INSERTION_LIMIT:
                rank_sort(tokens[pos:pos + size], scores[pos:pos + size], tmp_tokens, tmp_scores)
            pos += size
        # Bins are in order and large ones are ordered, so this only fixes the
        # few inversions inside small bins: O(K + inversions).
        _insertion_sort(tokens, scores)
    return buckets
