"""Step 1: softmax gate scores, and the token entropy from the same pass.

Layout: scores are produced expert-major (e×n) because in step 3 every expert
ranks one contiguous row; the router exposes the transpose, an n×e view. Work
runs in blocks of tokens; each block's logits come from 8×8 register tiles
(simd.py), transposed to expert-major so the softmax loops run with the token
index innermost and vectorise, while each token's sums keep a fixed order
(logits over d in order, Z over experts in order) - the bits do not depend on
the block size or the machine.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from thunderline.routing.kernels.portable_math import (
    NORMAL_LIMIT,
    exp_normal,
    exp_tiny,
    log1p_nonnegative,
    quotient,
)
from thunderline.routing.kernels.simd import TILE, logits_tile

#: Tokens per block (a multiple of TILE): the block's logits stay in L1.
BLOCK_TOKENS = 128

#: Gaps L − max below this may give a score under QUOTIENT_MIN (ln QUOTIENT_MIN ≈ −623.8)
#: or an exp below NORMAL_LIMIT; a block with any takes the exact slow paths.
TINY_GAP = -600.0

#: Extra doubles per row of St: with n a power of two, rows 2^k bytes apart
#: would share cache sets, and reading one token across experts would thrash.
ROW_PAD = 24


@njit(cache=True, nogil=True)
def _block_logits(X, W, t0, nb, tail, logits):
    """logits[j, i] = Σ_k X[t0+i, k]·W[k, j] for i < nb: x₀·w₀, then one fma per term over k in order.

    W has zero columns up to a multiple of TILE; a last partial tile is read
    from ``tail`` (TILE×d zeros) so no tile reads past the end of X.
    """
    n = X.shape[0]
    padded_e = W.shape[1]
    for i0 in range(0, nb, TILE):
        t = t0 + i0
        if t + TILE <= n:
            for j0 in range(0, padded_e, TILE):
                logits_tile(X, t, W, logits, i0, j0)
        else:
            for r in range(n - t):
                tail[r] = X[t + r]
            for j0 in range(0, padded_e, TILE):
                logits_tile(tail, 0, W, logits, i0, j0)


@njit(cache=True, nogil=True)
def gate_scores(X, W):
    """Softmax scores St (e×n, in the first n columns of a C-contiguous e×(n+ROW_PAD) array) and the
    summed entropy −Σ_t Σ_j S ln S.

    S = exp(L − max)/Z with Z = 1 + Σ of the non-top terms, rounded exactly
    as a division would (see ``quotient``). Entropy uses ln S = (L − max) −
    ln Z with ln Z = log1p(Σ of the non-top terms): one log per token, and no
    cancellation for confident tokens. Returns ``(St, entropy_sum,
    first_bad_token)``; the last is −1 unless some logit is not finite
    (X·W overflowed), in which case St is meaningless.
    """
    n = X.shape[0]
    d = X.shape[1]
    e = W.shape[1]
    B = BLOCK_TOKENS
    padded_e = (e + TILE - 1) // TILE * TILE
    Wp = np.zeros((d, padded_e))
    Wp[:, :e] = W
    tail = np.zeros((TILE, d))
    stride = n + ROW_PAD
    flat = np.empty(e * stride)
    gap_flat = np.zeros(padded_e * B)  # zero-filled: a short last block leaves finite columns
    raw_flat = np.zeros(e * B)
    gap = gap_flat.reshape((padded_e, B))
    raw = raw_flat.reshape((e, B))
    peak = np.empty(B)
    probe = np.empty(B)  # stays 0.0 unless some logit is inf or NaN (x·0 is NaN then)
    top = np.empty(B, np.int64)
    rest = np.empty(B)
    z = np.empty(B)
    inv_z = np.empty(B)
    weighted_gap = np.empty(B)
    log_z = np.empty(B)
    entropy_sum = 0.0
    for t0 in range(0, n, B):
        nb = min(B, n - t0)
        _block_logits(X, Wp, t0, nb, tail, gap)
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
                return flat.reshape((e, stride)), entropy_sum, t0 + i
        tiny_gap = False
        for i in range(nb):
            rest[i] = 0.0
            weighted_gap[i] = 0.0
        for j in range(e):  # gaps L − max ≤ 0, their exp, and Z − 1 summed in expert order: one pass
            row = gap[j]
            v = raw[j]
            for i in range(nb):
                g = row[i] - peak[i]
                row[i] = g
                tiny_gap |= g < TINY_GAP
                x = exp_normal(g)
                v[i] = x
                rest[i] += x if top[i] != j else 0.0
        if tiny_gap:  # exp may underflow or a score fall below QUOTIENT_MIN: rare, element by element
            for i in range(nb):
                rest[i] = 0.0
            for j in range(e):
                for i in range(nb):
                    if gap[j, i] < NORMAL_LIMIT:
                        raw[j, i] = exp_tiny(gap[j, i])
                    rest[i] += raw[j, i] if top[i] != j else 0.0
        for i in range(nb):
            z[i] = 1.0 + rest[i]
            inv_z[i] = 1.0 / z[i]
        for j in range(e):
            g = gap[j]
            v = raw[j]
            out = flat[j * stride + t0:j * stride + t0 + nb]  # a contiguous slice: the loop vectorises
            if tiny_gap:  # some score may be below QUOTIENT_MIN: plain division
                for i in range(nb):
                    s = v[i] / z[i]
                    out[i] = s
                    weighted_gap[i] -= s * g[i]
            else:
                for i in range(nb):
                    s = quotient(v[i], z[i], inv_z[i])
                    out[i] = s
                    weighted_gap[i] -= s * g[i]
        for i in range(nb):
            log_z[i] = log1p_nonnegative(rest[i])
        for i in range(nb):
            entropy_sum += log_z[i] + weighted_gap[i]
    return flat.reshape((e, stride)), entropy_sum, -1
