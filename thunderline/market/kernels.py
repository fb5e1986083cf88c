"""Numba kernels for sliding-window market features (no I/O, no Arrow: numpy arrays in, arrays out).

The window algebra: with step ``s`` and width ``w = r·s`` (``r`` integer), window ``k``
covers ``[k·s, k·s + w)`` and is the union of the ``r`` step-buckets ``k … k+r−1``.
:func:`bucket_pass` touches every tick once and folds it into its bucket's additive
aggregates (sums, counts, first/last); :func:`combine_windows` adds ``r`` consecutive
buckets into each window. Every per-tick term that needs the *previous* tick (order-flow
imbalance, mid returns, the spread in force) reads carried state, so a chunked stream
gives bitwise the same buckets — and windows — as one pass over the whole day.

Conventions (the pandas reference in tests/market follows them literally):

* time is made monotone: a tick earlier than the running max of ``ts`` counts at that max;
* a row "has a book" when its level-1 bid or ask price is finite; it has a mid when both are;
* empty levels (NaN price) count as bid −∞ / ask +∞ with size 0 in order-flow imbalance;
  NaN sizes count as 0;
* a trade is ``event_type == EVENT_TRADE`` with finite ``trade_px`` and ``trade_sz > 0``.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

# bucket int64 columns
I_IDX, I_N, I_FIRST_SEQ, I_LAST_SEQ, I_NBOOK, I_NTRADE, I_PREV_MID_BUCKET = range(7)
NBI = 7
# bucket float64 columns
(F_FIRST_MID, F_LAST_MID, F_SPREAD, F_SPREAD_BPS, F_IMB1, F_IMBN, F_RV, F_CROSS_RV,
 F_OFI0, _F1, _F2, _F3, _F4, F_VOL, F_PXVOL, F_SVOL, F_TW, F_TWCOV, F_END_SPREAD,
 F_END_IMB, F_END_MPDEV, F_MID_CHG_T, F_EWM_FAST, F_EWM_SLOW) = range(24)
NBF = 24
MAX_OFI_LEVELS = 5
BLOCK = 512  # ticks per pass-A block (scratch stays in L1)
LOG_SERIES_MAX = 1e-3
NO_BUCKET = -(2**62)

# carried scalar state
S_HAS_OPEN, S_HAS_T, S_TMAX, S_BUCKET_END, S_TW_T, S_HAS_MID, S_MID_BUCKET, S_HAS_BOOK = range(8)
NSI = 8
SF_LAST_MID, SF_CUR_SPREAD, SF_MID_CHG_T = range(3)
NSF = 3
#: time constants (µs) of the exponentially decayed top-of-book OFI (``ofi_1_ewm_1s`` / ``ofi_1_ewm_5s``)
EWM_FAST_US = 1_000_000.0
EWM_SLOW_US = 5_000_000.0

# full feature matrix columns (the recipe picks a subset, in its own order)
FEATURES_ALL: tuple[str, ...] = (
    "mid_return", "spread", "spread_bps", "spread_twa", "imbalance_top1", "imbalance_topn",
    "ofi_1", "ofi_2", "ofi_3", "ofi_4", "ofi_5", "order_flow_imbalance", "realized_vol",
    "trade_count", "volume", "vwap", "signed_volume", "tick_rate", "microburst",
    "imbalance_top1_end", "microprice_dev_bps", "mid_age_log_ms", "ofi_1_ewm_1s", "ofi_1_ewm_5s",
)
NFEAT = len(FEATURES_ALL)
EVENT_TRADE_CODE = 1  # contracts.EVENT_TRADE (kept literal for numba)


def new_state() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fresh carried state: (state_i, state_f, last_book[4, 5], open_bi, open_bf)."""
    si = np.zeros(NSI, np.int64)
    sf = np.full(NSF, np.nan)
    book = np.zeros((4, MAX_OFI_LEVELS))
    return si, sf, book, np.zeros(NBI, np.int64), np.zeros(NBF)


@nb.njit(cache=True, nogil=True, error_model="numpy")
def close_open_bucket(si, sf, open_bi, open_bf, out_bi, out_bf, nout):
    """Account the spread in force up to the bucket end, then append the open bucket to out[nout]."""
    bend = si[S_BUCKET_END]
    cur = sf[SF_CUR_SPREAD]
    if cur == cur:
        open_bf[F_TW] += cur * (bend - si[S_TW_T])
        open_bf[F_TWCOV] += bend - si[S_TW_T]
    open_bf[F_END_SPREAD] = cur
    out_bi[nout, :] = open_bi
    out_bf[nout, :] = open_bf
    si[S_HAS_OPEN] = 0


@nb.njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _log_ratio(x, prev):
    """log(x / prev). For |x/prev − 1| < 1e-3 (nearly every tick-to-tick mid move) a 5-term
    log1p series, accurate to ~1 ulp and several times cheaper than ``log``; ``log`` otherwise."""
    d = (x - prev) / prev
    if abs(d) < LOG_SERIES_MAX:
        return d * (1.0 - d * (0.5 - d * (1.0 / 3.0 - d * (0.25 - d * 0.2))))
    return math.log(x / prev)


@nb.njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _store(bi, bf, row, idx, n, fseq, lseq, nbook, ntrade, pmb, fmid, lmid, ssp, sbps, simb1, simbn, srv, crv,
           ofi, vol, pxvol, svol, tw, twcov, end_spread, eimb, emp, chg_t):
    bi[row, I_IDX] = idx
    bi[row, I_N] = n
    bi[row, I_FIRST_SEQ] = fseq
    bi[row, I_LAST_SEQ] = lseq
    bi[row, I_NBOOK] = nbook
    bi[row, I_NTRADE] = ntrade
    bi[row, I_PREV_MID_BUCKET] = pmb
    bf[row, F_FIRST_MID] = fmid
    bf[row, F_LAST_MID] = lmid
    bf[row, F_SPREAD] = ssp
    bf[row, F_SPREAD_BPS] = sbps
    bf[row, F_IMB1] = simb1
    bf[row, F_IMBN] = simbn
    bf[row, F_RV] = srv
    bf[row, F_CROSS_RV] = crv
    for lv in range(MAX_OFI_LEVELS):
        bf[row, F_OFI0 + lv] = ofi[lv]
    bf[row, F_VOL] = vol
    bf[row, F_PXVOL] = pxvol
    bf[row, F_SVOL] = svol
    bf[row, F_TW] = tw
    bf[row, F_TWCOV] = twcov
    bf[row, F_END_SPREAD] = end_spread
    bf[row, F_END_IMB] = eimb
    bf[row, F_END_MPDEV] = emp
    bf[row, F_MID_CHG_T] = chg_t


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _pass_a(bp1, bq1, ap1, aq1, b0, m, full, a_pb, a_qb, a_pa, a_qa, a_e, a_spr, a_mid, a_bps, a_imb, a_d, a_r):
    """Per-tick terms of ticks b0 … b0+m−1 that need only the row and the row before it.
    Branch-free over contiguous 1-D level-1 arrays, so LLVM vectorises it (divisions included)."""
    inf = np.inf
    for j in range(m):
        i = b0 + j
        bp = bp1[i]
        ap = ap1[i]
        qb = bq1[i]
        qa = aq1[i]
        qb = qb if qb == qb else 0.0
        qa = qa if qa == qa else 0.0
        pb_ = bp if bp == bp else -inf
        qb_ = qb if bp == bp else 0.0
        pa_ = ap if ap == ap else inf
        qa_ = qa if ap == ap else 0.0
        a_pb[j] = pb_
        a_qb[j] = qb_
        a_pa[j] = pa_
        a_qa[j] = qa_
        spr = ap - bp
        mid = 0.5 * (ap + bp)
        a_spr[j] = spr
        a_mid[j] = mid
    if not full:
        return
    for j in range(m):
        i = b0 + j
        bp = bp1[i]
        ap = ap1[i]
        qb = bq1[i]
        qa = aq1[i]
        qb = qb if qb == qb else 0.0
        qa = qa if qa == qa else 0.0
        a_bps[j] = (ap - bp) / (0.5 * (ap + bp)) * 1e4
        den = qb + qa
        a_imb[j] = (qb - qa) / den if den > 0.0 else 0.0
    start = 0
    if b0 == 0:  # the chunk's first row has no row before it here (carried state handles it)
        a_e[0] = 0.0
        a_d[0] = 0.0
        a_r[0] = 0.0
        start = 1
    for j in range(start, m):
        i = b0 + j
        lbp = bp1[i - 1]
        lap = ap1[i - 1]
        lqb = bq1[i - 1]
        lqa = aq1[i - 1]
        lqb = lqb if lqb == lqb else 0.0
        lqa = lqa if lqa == lqa else 0.0
        lpb_ = lbp if lbp == lbp else -inf
        lqb_ = lqb if lbp == lbp else 0.0
        lpa_ = lap if lap == lap else inf
        lqa_ = lqa if lap == lap else 0.0
        pb_ = a_pb[j]
        pa_ = a_pa[j]
        a_e[j] = a_qb[j] * (pb_ >= lpb_) - lqb_ * (pb_ <= lpb_) - a_qa[j] * (pa_ <= lpa_) + lqa_ * (pa_ >= lpa_)
        mid = a_mid[j]
        pm = 0.5 * (lap + lbp)
        d = (mid - pm) / pm
        a_d[j] = d
        a_r[j] = d * (1.0 - d * (0.5 - d * (1.0 / 3.0 - d * (0.25 - d * 0.2))))


@nb.njit(cache=True, nogil=True, error_model="numpy")
def bucket_pass(ts, seq, etype, bpx, bsz, apx, asz, tpx, tsz, tside, step, n_ofi, full,
                si, sf, last_book, open_bi, open_bf, out_bi, out_bf, bp1, bq1, ap1, aq1):
    """Fold ticks into step-buckets; return the number of buckets *closed* (written to out_*).

    ``bpx``/``bsz``/``apx``/``asz`` are (n, D) level arrays (D ≥ 1, best first) and
    ``bp1``/``bq1``/``ap1``/``aq1`` contiguous copies (or views) of their level 1. The bucket
    holding the last tick stays open in ``open_bi``/``open_bf``; all carried state is updated
    in place. ``full=False`` computes only the coarse aggregates (mid, spread, trades).
    Accumulators live in locals (registers) and touch memory only when a bucket closes.
    """
    n = ts.shape[0]
    depth = bpx.shape[1]
    nlev = min(depth, n_ofi)
    nout = 0
    has_t = si[S_HAS_T]
    tmax = si[S_TMAX]
    bend = si[S_BUCKET_END]
    tw_t = si[S_TW_T]
    has_mid = si[S_HAS_MID]
    mid_bucket = si[S_MID_BUCKET]
    has_book = si[S_HAS_BOOK]
    has_open = si[S_HAS_OPEN]
    last_mid = sf[SF_LAST_MID]
    cur_spread = sf[SF_CUR_SPREAD]
    chg_t = sf[SF_MID_CHG_T]
    inf = np.inf
    ofi = np.zeros(MAX_OFI_LEVELS)
    lb = np.empty((4, MAX_OFI_LEVELS))
    lb[:, :] = last_book
    # open-bucket accumulators
    idx = open_bi[I_IDX]
    c_n = open_bi[I_N]
    c_fseq = open_bi[I_FIRST_SEQ]
    c_lseq = open_bi[I_LAST_SEQ]
    c_nbook = open_bi[I_NBOOK]
    c_ntrade = open_bi[I_NTRADE]
    c_pmb = open_bi[I_PREV_MID_BUCKET]
    c_fmid = open_bf[F_FIRST_MID]
    c_lmid = open_bf[F_LAST_MID]
    c_sp = open_bf[F_SPREAD]
    c_bps = open_bf[F_SPREAD_BPS]
    c_imb1 = open_bf[F_IMB1]
    c_imbn = open_bf[F_IMBN]
    c_rv = open_bf[F_RV]
    c_crv = open_bf[F_CROSS_RV]
    for lv in range(MAX_OFI_LEVELS):
        ofi[lv] = open_bf[F_OFI0 + lv]
    ofi0 = ofi[0]
    l0pb = lb[0, 0]
    l0qb = lb[1, 0]
    l0pa = lb[2, 0]
    l0qa = lb[3, 0]
    c_vol = open_bf[F_VOL]
    c_pxvol = open_bf[F_PXVOL]
    c_svol = open_bf[F_SVOL]
    c_tw = open_bf[F_TW]
    c_twcov = open_bf[F_TWCOV]
    c_eimb = open_bf[F_END_IMB]
    c_emp = open_bf[F_END_MPDEV]
    # Two passes per block of ticks: pass A computes the per-tick terms that depend only on the
    # row and the row before it (no branches, so LLVM vectorises the divisions); pass C walks the
    # ticks in order and accumulates, falling back to the carried state where "the previous
    # book / mid row" is not simply the row before (chunk starts, rows without a book). Both
    # paths evaluate the same expressions, so the result does not depend on which one ran.
    a_pb = np.empty(BLOCK)
    a_qb = np.empty(BLOCK)
    a_pa = np.empty(BLOCK)
    a_qa = np.empty(BLOCK)
    a_e = np.empty(BLOCK)
    a_spr = np.empty(BLOCK)
    a_mid = np.empty(BLOCK)
    a_bps = np.empty(BLOCK)
    a_imb = np.empty(BLOCK)
    a_d = np.empty(BLOCK)
    a_r = np.empty(BLOCK)
    last_book_row = -2  # "before this chunk" (never equal to i - 1)
    last_mid_row = -2
    for b0 in range(0, n, BLOCK):
        m = min(BLOCK, n - b0)
        # ---------------------------------------------------------------- pass A
        _pass_a(bp1, bq1, ap1, aq1, b0, m, full, a_pb, a_qb, a_pa, a_qa, a_e, a_spr, a_mid, a_bps, a_imb, a_d, a_r)
        # ---------------------------------------------------------------- pass C
        for j in range(m):
            i = b0 + j
            t = ts[i]
            if has_t == 1 and t < tmax:
                t = tmax
            else:
                tmax = t
                has_t = 1
            if has_open == 0 or t >= bend:
                if has_open == 1:
                    if cur_spread == cur_spread:
                        c_tw += cur_spread * (bend - tw_t)
                        c_twcov += bend - tw_t
                    ofi[0] = ofi0
                    _store(out_bi, out_bf, nout, idx, c_n, c_fseq, c_lseq, c_nbook, c_ntrade, c_pmb, c_fmid,
                           c_lmid, c_sp, c_bps, c_imb1, c_imbn, c_rv, c_crv, ofi, c_vol, c_pxvol, c_svol, c_tw,
                           c_twcov, cur_spread, c_eimb, c_emp, chg_t)
                    nout += 1
                idx = t // step
                c_n = 0
                c_nbook = 0
                c_ntrade = 0
                c_pmb = NO_BUCKET
                c_fmid = np.nan
                c_lmid = np.nan
                c_sp = 0.0
                c_bps = 0.0
                c_imb1 = 0.0
                c_imbn = 0.0
                c_rv = 0.0
                c_crv = 0.0
                for lv in range(MAX_OFI_LEVELS):
                    ofi[lv] = 0.0
                ofi0 = 0.0
                c_vol = 0.0
                c_pxvol = 0.0
                c_svol = 0.0
                c_tw = 0.0
                c_twcov = 0.0
                c_eimb = np.nan
                c_emp = np.nan
                c_fseq = seq[i]
                has_open = 1
                tw_t = idx * step
                bend = tw_t + step
            c_n += 1
            c_lseq = seq[i]
            bp_ok = a_pb[j] != -inf
            ap_ok = a_pa[j] != inf
            if full and (bp_ok or ap_ok):
                pb_ = a_pb[j]
                qb_ = a_qb[j]
                pa_ = a_pa[j]
                qa_ = a_qa[j]
                if has_book == 1:
                    if last_book_row == i - 1:
                        ofi0 += a_e[j]
                    else:
                        ofi0 += qb_ * (pb_ >= l0pb) - l0qb * (pb_ <= l0pb) - qa_ * (pa_ <= l0pa) + l0qa * (pa_ >= l0pa)
                l0pb = pb_
                l0qb = qb_
                l0pa = pa_
                l0qa = qa_
                last_book_row = i
                # deeper levels (order-flow imbalance per level, same indicator form)
                for lv in range(1, nlev):
                    pb = bpx[i, lv]
                    qb = bsz[i, lv]
                    pa = apx[i, lv]
                    qa = asz[i, lv]
                    if pb != pb:
                        pb = -inf
                        qb = 0.0
                    if pa != pa:
                        pa = inf
                        qa = 0.0
                    if qb != qb:
                        qb = 0.0
                    if qa != qa:
                        qa = 0.0
                    if has_book == 1:
                        lpb = lb[0, lv]
                        lqb = lb[1, lv]
                        lpa = lb[2, lv]
                        lqa = lb[3, lv]
                        ofi[lv] += qb * (pb >= lpb) - lqb * (pb <= lpb) - qa * (pa <= lpa) + lqa * (pa >= lpa)
                    lb[0, lv] = pb
                    lb[1, lv] = qb
                    lb[2, lv] = pa
                    lb[3, lv] = qa
                has_book = 1
            if bp_ok and ap_ok:
                c_nbook += 1
                spr = a_spr[j]
                mid = a_mid[j]
                c_sp += spr
                first_in_bucket = c_fmid != c_fmid
                if first_in_bucket:
                    c_fmid = mid
                c_lmid = mid
                if full:
                    c_bps += a_bps[j]
                    imb = a_imb[j]
                    c_imb1 += imb
                    c_eimb = imb
                    c_emp = 0.5 * a_bps[j] * imb  # (microprice − mid) / mid in bps: spread/2 × imbalance
                    if depth == 1:
                        c_imbn += imb
                    else:
                        sb = 0.0
                        sa = 0.0
                        for lv in range(depth):
                            x = bsz[i, lv]
                            if x == x:
                                sb += x
                            x = asz[i, lv]
                            if x == x:
                                sa += x
                        if sb + sa > 0.0:
                            c_imbn += (sb - sa) / (sb + sa)
                    if has_mid == 1:
                        if last_mid_row == i - 1 and abs(a_d[j]) < LOG_SERIES_MAX:
                            r = a_r[j]
                        else:
                            r = _log_ratio(mid, last_mid)
                        r2 = r * r
                        if first_in_bucket:
                            c_crv = r2
                            c_pmb = mid_bucket
                        else:
                            c_rv += r2
                    if cur_spread == cur_spread:
                        c_tw += cur_spread * (t - tw_t)
                        c_twcov += t - tw_t
                    tw_t = t
                    cur_spread = spr
                if has_mid == 0 or mid != last_mid:
                    chg_t = float(t)
                has_mid = 1
                last_mid = mid
                last_mid_row = i
                mid_bucket = idx
            if etype[i] == EVENT_TRADE_CODE:
                px = tpx[i]
                q = tsz[i]
                if px == px and q > 0.0:
                    c_ntrade += 1
                    c_vol += q
                    c_pxvol += px * q
                    c_svol += tside[i] * q
    ofi[0] = ofi0
    lb[0, 0] = l0pb
    lb[1, 0] = l0qb
    lb[2, 0] = l0pa
    lb[3, 0] = l0qa
    if has_open == 1:
        ob = open_bi.reshape(1, NBI)
        of = open_bf.reshape(1, NBF)
        _store(ob, of, 0, idx, c_n, c_fseq, c_lseq, c_nbook, c_ntrade, c_pmb, c_fmid, c_lmid, c_sp, c_bps,
               c_imb1, c_imbn, c_rv, c_crv, ofi, c_vol, c_pxvol, c_svol, c_tw, c_twcov, np.nan, c_eimb, c_emp,
               chg_t)
    last_book[:, :] = lb
    si[S_HAS_OPEN] = has_open
    si[S_HAS_T] = has_t
    si[S_TMAX] = tmax
    si[S_BUCKET_END] = bend
    si[S_TW_T] = tw_t
    si[S_HAS_MID] = has_mid
    si[S_MID_BUCKET] = mid_bucket
    si[S_HAS_BOOK] = has_book
    sf[SF_LAST_MID] = last_mid
    sf[SF_CUR_SPREAD] = cur_spread
    sf[SF_MID_CHG_T] = chg_t
    return nout


@nb.njit(cache=True, nogil=True, error_model="numpy")
def combine_windows(bi, bf, nb_, r, step, k_from, k_limit, prior_end_spread, ewma, alpha, factor,
                    width_s, out_k, out_f, out_first_seq, out_last_seq, out_n):
    """Sum ``r`` consecutive buckets into every non-empty window ``k`` in [k_from, k_limit).

    ``bi``/``bf`` rows 0..nb_-1 are closed buckets sorted by index; ``prior_end_spread`` is the
    spread in force at the end of the last bucket dropped before ``bi[0]``. ``ewma`` =
    [has_value, value] is the microburst baseline carried across calls. Returns the number of
    windows written.
    """
    nw = 0
    last_k = k_from - 1
    p0 = 0
    for p in range(nb_):
        j = bi[p, I_IDX]
        k_lo = max(last_k + 1, j - r + 1)
        k_hi = min(j, k_limit - 1)
        for k in range(k_lo, k_hi + 1):
            while p0 < nb_ and bi[p0, I_IDX] < k:
                p0 += 1
            eff = prior_end_spread if p0 == 0 else bf[p0 - 1, F_END_SPREAD]
            n = 0
            nbook = 0
            ntrade = 0
            first_mid = np.nan
            last_mid = np.nan
            first_seq = 0
            last_seq = 0
            s_spread = 0.0
            s_bps = 0.0
            s_imb1 = 0.0
            s_imbn = 0.0
            s_rv = 0.0
            o0 = 0.0
            o1 = 0.0
            o2 = 0.0
            o3 = 0.0
            o4 = 0.0
            vol = 0.0
            pxvol = 0.0
            svol = 0.0
            tw = 0.0
            cov = 0.0
            e_imb = np.nan
            e_mp = np.nan
            q_last = -1
            q = p0
            for jj in range(k, k + r):
                if q < nb_ and bi[q, I_IDX] == jj:
                    if n == 0:
                        first_seq = bi[q, I_FIRST_SEQ]
                    last_seq = bi[q, I_LAST_SEQ]
                    n += bi[q, I_N]
                    nbook += bi[q, I_NBOOK]
                    ntrade += bi[q, I_NTRADE]
                    fm = bf[q, F_FIRST_MID]
                    if fm == fm:
                        if first_mid != first_mid:
                            first_mid = fm
                        last_mid = bf[q, F_LAST_MID]
                    s_spread += bf[q, F_SPREAD]
                    s_bps += bf[q, F_SPREAD_BPS]
                    s_imb1 += bf[q, F_IMB1]
                    s_imbn += bf[q, F_IMBN]
                    s_rv += bf[q, F_RV]
                    if bi[q, I_PREV_MID_BUCKET] >= k:
                        s_rv += bf[q, F_CROSS_RV]
                    o0 += bf[q, F_OFI0]
                    o1 += bf[q, F_OFI0 + 1]
                    o2 += bf[q, F_OFI0 + 2]
                    o3 += bf[q, F_OFI0 + 3]
                    o4 += bf[q, F_OFI0 + 4]
                    vol += bf[q, F_VOL]
                    pxvol += bf[q, F_PXVOL]
                    svol += bf[q, F_SVOL]
                    tw += bf[q, F_TW]
                    cov += bf[q, F_TWCOV]
                    eff = bf[q, F_END_SPREAD]
                    if bf[q, F_END_IMB] == bf[q, F_END_IMB]:
                        e_imb = bf[q, F_END_IMB]
                        e_mp = bf[q, F_END_MPDEV]
                    q_last = q
                    q += 1
                elif eff == eff:
                    tw += eff * step
                    cov += step
            f = out_f[nw]
            f[0] = math.log(last_mid / first_mid) if first_mid == first_mid else np.nan
            if nbook > 0:
                f[1] = s_spread / nbook
                f[2] = s_bps / nbook
                f[4] = s_imb1 / nbook
                f[5] = s_imbn / nbook
            else:
                f[1] = np.nan
                f[2] = np.nan
                f[4] = np.nan
                f[5] = np.nan
            f[3] = tw / cov if cov > 0.0 else np.nan
            f[6] = o0
            f[7] = o1
            f[8] = o2
            f[9] = o3
            f[10] = o4
            f[11] = o0 + o1 + o2 + o3 + o4
            f[12] = math.sqrt(s_rv)
            f[13] = ntrade
            f[14] = vol
            f[15] = pxvol / vol if vol > 0.0 else np.nan
            f[16] = svol
            rate = n / width_s
            f[17] = rate
            if ewma[0] == 1.0:
                f[18] = 1.0 if rate > factor * ewma[1] else 0.0
                ewma[1] = alpha * rate + (1.0 - alpha) * ewma[1]
            else:
                f[18] = 0.0
                ewma[0] = 1.0
                ewma[1] = rate
            _window_end_state(f, bf, bi, q_last, k + r, step, e_imb, e_mp)
            out_k[nw] = k
            out_first_seq[nw] = first_seq
            out_last_seq[nw] = last_seq
            out_n[nw] = n
            nw += 1
            last_k = k
    return nw


@nb.njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _window_end_state(f, bf, bi, q_last, k_end, step, e_imb, e_mp):
    """The book as of the window's end (bucket ``k_end`` starts there): queue imbalance and microprice
    deviation at its last book row, log(1 + ms since the mid last changed), and the decayed top-of-book
    OFI of its last bucket carried to the window end (no bucket after the window is read)."""
    f[19] = e_imb
    f[20] = e_mp
    chg = bf[q_last, F_MID_CHG_T]
    f[21] = math.log1p((k_end * step - chg) / 1000.0) if chg == chg else np.nan
    gap = (k_end - 1 - bi[q_last, I_IDX]) * step
    f[22] = bf[q_last, F_EWM_FAST] * math.exp(-gap / EWM_FAST_US)
    f[23] = bf[q_last, F_EWM_SLOW] * math.exp(-gap / EWM_SLOW_US)


@nb.njit(cache=True, nogil=True, error_model="numpy")
def ofi_ewm_pass(bi, bf, nrows, step, state):
    """Fill ``F_EWM_FAST``/``F_EWM_SLOW`` of closed buckets 0..nrows-1 (in index order): top-of-book OFI
    decayed exponentially over bucket time, as of each bucket's end. ``state`` = [has, last bucket
    index, fast, slow] is carried across calls, so chunking does not change a value."""
    for p in range(nrows):
        idx = bi[p, I_IDX]
        o = bf[p, F_OFI0]
        if state[0] == 1.0:
            gap = (idx - state[1]) * step
            state[2] = state[2] * math.exp(-gap / EWM_FAST_US) + o
            state[3] = state[3] * math.exp(-gap / EWM_SLOW_US) + o
        else:
            state[0] = 1.0
            state[2] = o
            state[3] = o
        state[1] = idx
        bf[p, F_EWM_FAST] = state[2]
        bf[p, F_EWM_SLOW] = state[3]
