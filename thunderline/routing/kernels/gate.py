"""Step 1: softmax gate scores, and the token entropy from the same pass.

Layout: scores are produced expert-major (e×n) because in step 3 every expert
ranks one contiguous row; the router exposes the transpose, an n×e view. Work
runs in blocks of tokens with the token index innermost, so loops vectorise
while each token's sums keep a fixed order (logits over d in order, Z over
experts in order) - the bits do not depend on the block size or the machine.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from thunderline.routing.kernels.portable_math import exp_nonpositive, fma

#: Tokens per block: the block's transposed X and its logits stay in L1/L2.
BLOCK_TOKENS = 128

#: Extra doubles per row of St: with n a power of two, rows 2^k bytes apart
#: would share cache sets, and reading one token across experts would thrash.
ROW_PAD = 24


@njit(cache=True, nogil=True)
def _block_logits(X, W, t0, nb, xt, logits):
    """logits[j, i] = Σ_k X[t0+i, k]·W[k, j]: one fma per term, over k in order."""
    d = X.shape[1]
    e = W.shape[1]
    for i in range(nb):
        for k in range(d):
            xt[k, i] = X[t0 + i, k]
    for j in range(e):
        acc = logits[j]
        w = W[0, j]
        x0 = xt[0]
        for i in range(nb):
            acc[i] = w * x0[i]
        k = 1
        while k + 4 <= d:
            w0, w1, w2, w3 = W[k, j], W[k + 1, j], W[k + 2, j], W[k + 3, j]
            x0, x1, x2, x3 = xt[k], xt[k + 1], xt[k + 2], xt[k + 3]
            for i in range(nb):
                acc[i] = fma(x3[i], w3, fma(x2[i], w2, fma(x1[i], w1, fma(x0[i], w0, acc[i]))))
            k += 4
        while k < d:
            w0 = W[k, j]
            x0 = xt[k]
            for i in range(nb):
                acc[i] = fma(x0[i], w0, acc[i])
            k += 1


@njit(cache=True, nogil=True)
def gate_scores(X, W):
    """Softmax scores St (e×n) and the summed entropy −Σ_t Σ_j S ln S.

    Entropy uses ln S = (L − max) − ln Z with ln Z = log1p(Σ of the non-top
    terms): one log per token, and no cancellation for confident tokens.
    Returns ``(St, entropy_sum, first_bad_token)``; the last is −1 unless some
    logit is not finite (X·W overflowed), in which case St is meaningless.
    """
    n = X.shape[0]
    d = X.shape[1]
    e = W.shape[1]
    B = BLOCK_TOKENS
    St = np.empty((e, n + ROW_PAD))[:, :n]
    xt = np.zeros((d, B))
    gap_flat = np.zeros(e * B)  # zero-filled: a short last block leaves finite columns
    raw_flat = np.zeros(e * B)
    scratch = np.empty(e * B)
    gap = gap_flat.reshape((e, B))
    raw = raw_flat.reshape((e, B))
    peak = np.empty(B)
    probe = np.empty(B)  # stays 0.0 unless some logit is inf or NaN (x·0 is NaN then)
    top = np.empty(B, np.int64)
    rest = np.empty(B)
    weighted_gap = np.empty(B)
    entropy_sum = 0.0
    for t0 in range(0, n, B):
        nb = min(B, n - t0)
        _block_logits(X, W, t0, nb, xt, gap)
        for i in range(nb):
            peak[i] = gap[0, i]
            probe[i] = gap[0, i] * 0.0
            top[i] = 0
        for j in range(1, e):
            row = gap[j]
            for i in range(nb):
                v = row[i]
                higher = v > peak[i]
                top[i] = j if higher else top[i]
                peak[i] = v if higher else peak[i]
                probe[i] += v * 0.0
        for i in range(nb):
            if probe[i] != 0.0:
                return St, entropy_sum, t0 + i
        for j in range(e):
            row = gap[j]
            for i in range(nb):
                row[i] = row[i] - peak[i]
        exp_nonpositive(gap_flat, raw_flat, scratch)
        for i in range(nb):
            rest[i] = 0.0
            weighted_gap[i] = 0.0
        for j in range(e):
            v = raw[j]
            for i in range(nb):
                rest[i] += v[i] if top[i] != j else 0.0
        for j in range(e):
            g = gap[j]
            v = raw[j]
            out = St[j, t0:t0 + nb]
            for i in range(nb):
                s = v[i] / (1.0 + rest[i])
                out[i] = s
                weighted_gap[i] -= s * g[i]
        for i in range(nb):
            entropy_sum += math.log1p(rest[i]) + weighted_gap[i]
    return St, entropy_sum, -1
