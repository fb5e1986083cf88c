"""Stacking on out-of-fold scores: purged K-fold over the training period, ridge shrunk toward the best expert.

Why out of fold: the blend's weights must be fitted on scores the experts produced on windows they
were not trained on — otherwise an expert that memorises its training rows (boosted trees do) looks
better to the stack than it will be. And why all of the training period rather than a held-back
tail: a stack fitted on a quarter of the data picks weights by luck on one cut of a day and not on
another. So:

* :func:`purged_folds` cuts the training period into ``k`` contiguous blocks by decision time; the
  experts of block ``j`` are trained on the other blocks, minus every row within ``purge_us`` of
  block ``j`` on either side (before it: its label would read quotes inside the block; after it:
  its features overlap the block's labels). Every training row thus gets an out-of-fold score.
* :func:`shrunk_stack`: non-negative ridge regression of the move's direction on the experts'
  standardised out-of-fold scores, among the experts whose own rank IC has a t-statistic above
  ``min_t``, with the penalty pulling the coefficients toward **the best single expert**
  (its own univariate coefficient, every other expert 0) rather than toward zero. λ = 0 is
  the free stack, λ → ∞ the best expert alone, so a stack that cannot earn its extra weights
  on held-out rows collapses to the expert the blend would otherwise fall back to.
* :func:`ic_weighted_scale`: the fallback the stack and every routing must beat — every expert
  whose out-of-fold rank IC has t > ``min_t``, standardised, weighted by its IC² (the share of the
  move it explained). On synthetic days whose regimes favour different experts, and on the real
  AMZN day, the expert best out of fold is often not the best on the next period: a fallback that
  keeps only the experts statistically tied with it (below) narrows to one expert by luck when the
  standard error is counted on overlapping windows, and loses to the after-the-fact best by up to
  0.06 rank IC; weighting every useful expert by IC² keeps the strong ones in front and lets
  experts with different information (order flow, momentum) average their errors out. Experts that
  are near-copies of each other (every pair's out-of-fold rank correlation ≥ ``REDUNDANT_RHO``:
  the logistic order-flow experts at 250 ms and 1 s, the same model with another penalty) carry one
  piece of information and count once (:func:`redundant_groups`): the group weighs its best member's
  IC², shared among members in proportion to their IC². Without that, three logistic copies
  outweighed the one boosted-tree order-flow expert three to one, whatever their information.
* :func:`near_best_scale` (a candidate; the fallback before the IC-weighted average): the
  equal-weight average of the standardised scores of every expert whose out-of-fold rank IC is
  within ``z`` standard errors of the best one's (``sqrt(2(1−ρ)/n)``, ρ their rank correlation).
  With a single expert near the top it is that expert alone.
* :func:`stack_weights` chooses λ from :data:`SHRINK_GRID` by the same purged folds (the stack of
  each λ is fitted on the other folds' out-of-fold rows and scored by rank IC on the fold),
  then fits it on every row. Weights are rescaled so the largest is 1.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.optimize import nnls
from scipy.spatial.distance import squareform
from scipy.stats import rankdata

#: Contiguous purged folds of the training period (out-of-fold scores, choice of λ).
CV_FOLDS = 4
#: Shrinkage toward the best expert tried by cross-validation (per window, standardised units).
SHRINK_GRID = (0.0, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
#: An expert enters the stack only when the t-statistic of its own out-of-fold rank IC exceeds this.
MIN_T = 2.0


def purged_folds(end_us: np.ndarray, k: int, purge_us: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` contiguous blocks by decision time: (train mask, block mask) per block, the train mask
    without every row within ``purge_us`` of the block (either side)."""
    t = np.asarray(end_us, dtype=np.int64)
    if t.size == 0 or k < 2:
        raise ValueError(f"purged_folds: need rows and k ≥ 2 (got {t.size} rows, k={k})")
    edges = np.linspace(int(t.min()), int(t.max()) + 1, k + 1).astype(np.int64)
    out = []
    for j in range(k):
        lo, hi = int(edges[j]), int(edges[j + 1])
        block = (t >= lo) & (t < hi)
        train = (t + purge_us < lo) | (t - purge_us >= hi)
        out.append((train, block))
    return out


def rank_ic_t(s: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(Spearman rank IC, its t-statistic) of score and target; (0, 0) when either is constant."""
    s = np.asarray(s, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if s.size < 3 or np.ptp(s) == 0 or np.ptp(y) == 0:
        return 0.0, 0.0
    a, b = rankdata(s) - (s.size + 1) / 2, rankdata(y) - (y.size + 1) / 2
    ic = float(a @ b / np.sqrt((a @ a) * (b @ b)))
    return ic, ic * np.sqrt(max(s.size - 2, 1)) / np.sqrt(max(1e-12, 1 - ic * ic))


def shrunk_stack(S: np.ndarray, y: np.ndarray, lam: float, useful: Sequence[int], best: int) -> np.ndarray:
    """Non-negative coefficients (raw score units, one per column of ``S``; 0 outside ``useful``) of the
    ridge regression of ``y`` on the standardised ``useful`` scores, shrunk toward ``best`` alone."""
    beta = np.zeros(S.shape[1])
    useful = list(useful)
    if not useful:
        return beta
    sd = S[:, useful].std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    Z = S[:, useful] / sd
    yy = y / (np.std(y) or 1.0)
    prior = np.zeros(len(useful))
    if best in useful:
        zb = Z[:, useful.index(best)]
        prior[useful.index(best)] = max(float(zb @ yy) / max(float(zb @ zb), 1e-12), 0.0)
    root = np.sqrt(lam * len(yy))
    coef, _ = nnls(np.vstack([Z, root * np.eye(len(useful))]), np.r_[yy, root * prior])
    beta[useful] = coef / sd
    return beta


def _useful(S: np.ndarray, y: np.ndarray, min_t: float) -> tuple[list[int], int, list[tuple[float, float]]]:
    stats = [rank_ic_t(S[:, j], y) for j in range(S.shape[1])]
    useful = [j for j, (_, t) in enumerate(stats) if t > min_t]
    best = int(np.argmax([t for _, t in stats])) if stats else 0
    return useful, best, stats


#: The IC-weighted fallback weighs a standardised expert by its out-of-fold rank IC to this power.
IC_POWER = 2.0
#: Experts whose out-of-fold scores have rank correlation ≥ this, pair by pair, count once in the IC-weighted
#: average (their information is the same). 0.8 and 0.95 measured alike on the 32 case × horizon pairs of
#: ``bench/blend_weights.py`` (docs/decisions.md); experts that read other features sit at 0.4-0.75.
REDUNDANT_RHO = 0.9
#: How many standard errors of the IC difference an expert may trail the best and still join the near-best average.
NEAR_Z = 2.0


def near_best_scale(S: np.ndarray, y: np.ndarray, names: Sequence[str], *, z: float = NEAR_Z,
                    min_t: float = MIN_T, n_eff: float | None = None) -> tuple[dict, dict]:
    """α per expert for the near-best average (module docstring): ``1/sd`` (scale calibration: every
    member's score counts the same once standardised) for the experts within ``z`` standard errors of
    the best's out-of-fold rank IC among those with t > ``min_t``, 0 for the rest; the largest α is 1.
    With no expert above ``min_t``, the best alone. ``n_eff``: independent observations among the rows
    (their labels overlap; :func:`thunderline.decisions.fitting.effective_n`), the ``n`` of the standard
    error; default the number of rows. Returns (α, {"members", "best", "rank_ic"})."""
    S = np.asarray(S, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(y) & np.isfinite(S).all(axis=1)
    S, y = S[ok], y[ok]
    useful, best, stats = _useful(S, y, min_t)
    members = [best]
    n = max(min(len(y), n_eff if n_eff is not None else len(y)), 3)
    if best in useful:
        rb = rankdata(S[:, best])
        for j in useful:
            if j == best:
                continue
            rho = rank_ic_t(S[:, j], rb)[0] if np.ptp(S[:, j]) > 0 else 0.0
            if stats[best][0] - stats[j][0] <= z * np.sqrt(2.0 * max(1.0 - rho, 0.0) / n):
                members.append(j)
    sd = S.std(axis=0) if len(y) else np.ones(S.shape[1])
    inv = {j: (1.0 / sd[j] if sd[j] > 0 else 0.0) for j in members}
    top = max(inv.values(), default=0.0)
    alpha = {n: 0.0 for n in names}
    for j, v in inv.items():
        alpha[names[j]] = float(v / top) if top > 0 else float(j == best)
    if not any(alpha.values()) and len(names):
        alpha[names[best]] = 1.0
    return alpha, {"members": sorted(names[j] for j in members), "best": names[best] if len(names) else None,
                   "rank_ic": {names[j]: float(stats[j][0]) for j in members}}


def redundant_groups(S: np.ndarray, members: Sequence[int], rho: float = REDUNDANT_RHO) -> list[list[int]]:
    """The columns ``members`` of ``S`` grouped so that every pair inside a group has rank correlation ≥ ``rho``
    (complete linkage); singletons for the rest. Groups and their members in column order (deterministic)."""
    members = list(members)
    if len(members) < 2:
        return [[j] for j in members]
    R = np.corrcoef(np.column_stack([rankdata(S[:, j]) for j in members]), rowvar=False)
    D = 1.0 - np.clip(np.nan_to_num(R, nan=0.0), -1.0, 1.0)
    np.fill_diagonal(D, 0.0)
    labels = fcluster(linkage(squareform(D, checks=False), method="complete"), t=1.0 - rho, criterion="distance")
    groups: dict[int, list[int]] = {}
    for j, g in zip(members, labels):
        groups.setdefault(int(g), []).append(j)
    return sorted(groups.values())


def ic_weighted_scale(S: np.ndarray, y: np.ndarray, names: Sequence[str], *, min_t: float = MIN_T,
                      power: float = IC_POWER, rho: float = REDUNDANT_RHO) -> tuple[dict, dict]:
    """α per expert for the IC-weighted average (module docstring): ``IC^power / sd`` of its out-of-fold
    score for every expert whose out-of-fold rank IC has t > ``min_t`` (0 for the rest; the best alone
    when none has), the largest α = 1; near-copies (:func:`redundant_groups` at ``rho``; ``rho`` > 1: none)
    share the weight of their best member. Once standardised, each piece of information counts in
    proportion to the share of the move it explained out of fold (IC², with the default power). Returns
    (α, {"members", "best", "rank_ic", "redundant"})."""
    S = np.asarray(S, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(y) & np.isfinite(S).all(axis=1)
    S, y = S[ok], y[ok]
    useful, best, stats = _useful(S, y, min_t)
    members = useful or ([best] if len(names) else [])
    sd = S.std(axis=0) if len(y) else np.ones(S.shape[1])
    groups = redundant_groups(S, members, rho) if len(y) > 2 and rho <= 1.0 else [[j] for j in members]
    w = {}
    for group in groups:
        ic = np.array([max(stats[j][0], 0.0) ** power for j in group])
        share = ic / ic.sum() if ic.sum() > 0 else np.zeros(len(group))
        for j, v in zip(group, ic.max() * share):
            w[j] = float(v / sd[j]) if sd[j] > 0 else 0.0
    top = max(w.values(), default=0.0)
    alpha = {n: 0.0 for n in names}
    for j, v in w.items():
        alpha[names[j]] = float(v / top) if top > 0 else 0.0
    if not any(alpha.values()) and len(names):
        alpha[names[best]] = 1.0
    return alpha, {"members": sorted(names[j] for j in members if alpha[names[j]] > 0),
                   "best": names[best] if len(names) else None,
                   "rank_ic": {names[j]: float(stats[j][0]) for j in members},
                   "redundant": [sorted(names[j] for j in g) for g in groups if len(g) > 1]}


def stack_weights(S: np.ndarray, y: np.ndarray, names: Sequence[str], fold_id: np.ndarray | None = None, *,
                  grid: Sequence[float] = SHRINK_GRID, min_t: float = MIN_T) -> tuple[dict, dict, dict]:
    """α per expert (largest 1) from out-of-fold scores ``S`` (rows × experts) and target ``y``; λ chosen by
    cross-validation over ``fold_id`` (one λ, the first of ``grid``, without folds). Returns
    (α, per-expert stats, {"lambda", "cv_rank_ic", "best"})."""
    S = np.asarray(S, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(y) & np.isfinite(S).all(axis=1)
    S, y = S[ok], y[ok]
    fold = None if fold_id is None else np.asarray(fold_id)[ok]
    useful, best, stats = _useful(S, y, min_t)
    cv: dict[float, float] = {}
    if fold is not None and len(np.unique(fold)) >= 2:
        for lam in grid:
            scores = []
            for f in np.unique(fold):
                tr, te = fold != f, fold == f
                u, b, _ = _useful(S[tr], y[tr], min_t)
                scores.append(rank_ic_t(S[te] @ shrunk_stack(S[tr], y[tr], lam, u, b), y[te])[0])
            cv[float(lam)] = float(np.mean(scores))
        lam = max(cv, key=lambda k: (cv[k], k))  # ties: the stronger shrinkage
    else:
        lam = float(grid[0])
    beta = shrunk_stack(S, y, lam, useful, best)
    alpha = {n: 0.0 for n in names}
    if beta.max() > 0:
        for j, n in enumerate(names):
            alpha[n] = float(np.clip(beta[j] / beta.max(), 0.0, 1.0))
    per = {n: {"rank_ic": stats[j][0], "t": float(stats[j][1]), "n": int(len(y))} for j, n in enumerate(names)}
    return alpha, per, {"lambda": lam, "cv_rank_ic": cv, "best": names[best] if len(names) else None}
