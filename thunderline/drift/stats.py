"""The drift statistics: quantile bins, Population Stability Index, two-sample KS.

Why these definitions (all vectorised numpy, float64):

* **Bins** are the baseline's quantiles at ``linspace(0, 1, n_bins + 1)``; only
  the interior cut points are kept and the outer bins are open, so a current
  value outside the baseline's range still lands in the first or last bin.
  Repeated cut points (a feature with ties, e.g. a count) are merged, so a
  discrete feature gets fewer, never empty-by-construction, bins. A value ``x``
  falls in bin ``i`` when ``cut[i-1] < x <= cut[i]`` (``searchsorted(side="left")``).
* **PSI** = Σ (a_i − e_i) · ln(a_i / e_i) over bins, with e the baseline and a
  the current proportions. An empty bin's proportion (exactly 0) is replaced by
  ``epsilon`` in both vectors so the log stays finite; proportions are not
  renormalised afterwards (the usual convention: the correction is tiny and keeps
  hand-computed values reproducible).
* **KS** is the two-sample Kolmogorov-Smirnov statistic sup |F_base − F_cur|
  with scipy's asymptotic two-sided p-value for the true sample sizes.

Non-finite values (NaN = feature absent) are dropped before anything is counted.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as _sps

DEFAULT_BINS = 10
DEFAULT_EPSILON = 1e-4
WARN_PSI = 0.1
FAIL_PSI = 0.25


def finite(values) -> np.ndarray:
    """The finite values of ``values`` as a 1-D float64 array."""
    a = np.asarray(values, dtype=np.float64).ravel()
    return a[np.isfinite(a)]


def quantile_cuts(baseline: np.ndarray, n_bins: int = DEFAULT_BINS) -> np.ndarray:
    """Interior, strictly increasing cut points of ``n_bins`` quantile bins of ``baseline``."""
    if n_bins < 2:
        raise ValueError(f"n_bins must be at least 2, got {n_bins}")
    base = finite(baseline)
    if base.size == 0:
        raise ValueError("cannot bin an empty baseline")
    qs = np.quantile(base, np.linspace(0.0, 1.0, n_bins + 1)[1:-1])
    return np.unique(qs)


def bin_counts(values: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Counts per bin (``len(cuts) + 1`` bins) of the finite ``values``."""
    idx = np.searchsorted(np.asarray(cuts, dtype=np.float64), finite(values), side="left")
    return np.bincount(idx, minlength=len(cuts) + 1).astype(np.int64)


def proportions(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    return counts / total if total > 0 else np.zeros_like(counts)


def psi(expected: np.ndarray, actual: np.ndarray, epsilon: float = DEFAULT_EPSILON) -> float:
    """Population Stability Index of ``actual`` against ``expected`` bin proportions."""
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    if e.shape != a.shape:
        raise ValueError(f"proportion vectors differ in length: {e.shape} vs {a.shape}")
    if epsilon <= 0:
        raise ValueError(f"epsilon must be > 0, got {epsilon}")
    e = np.where(e == 0.0, epsilon, e)
    a = np.where(a == 0.0, epsilon, a)
    return float(np.sum((a - e) * np.log(a / e)))


def ks_statistic(baseline_sorted: np.ndarray, current: np.ndarray) -> float:
    """sup_x |F_base(x) − F_cur(x)| for a sorted baseline sample and any current sample."""
    b = np.asarray(baseline_sorted, dtype=np.float64)
    c = np.sort(finite(current))
    if b.size == 0 or c.size == 0:
        return float("nan")
    grid = np.concatenate([b, c])
    fb = np.searchsorted(b, grid, side="right") / b.size
    fc = np.searchsorted(c, grid, side="right") / c.size
    return float(np.max(np.abs(fb - fc)))


def ks_pvalue(statistic: float, n_baseline: int, n_current: int) -> float:
    """Asymptotic two-sided p-value of a two-sample KS statistic (scipy's ``kstwo`` with n·m/(n+m))."""
    if not np.isfinite(statistic) or n_baseline <= 0 or n_current <= 0:
        return float("nan")
    en = n_baseline * n_current / (n_baseline + n_current)
    return float(np.clip(_sps.kstwo.sf(statistic, max(1, round(en))), 0.0, 1.0))


def ks_sample(baseline: np.ndarray, points: int) -> np.ndarray:
    """A sorted stand-in for the baseline sample of at most ``points`` values.

    Small baselines are kept whole (KS is then exact); larger ones are reduced to
    their order statistics at probabilities (i + 0.5) / points, which moves the KS
    statistic by at most 1 / (2·points).
    """
    base = np.sort(finite(baseline))
    if base.size <= points:
        return base
    return np.quantile(base, (np.arange(points) + 0.5) / points)


def status_of(psi_value: float | None, warn_at: float = WARN_PSI, fail_at: float = FAIL_PSI) -> str:
    """ok / warn (PSI > warn_at) / fail (PSI > fail_at); no measurement at all is a failure."""
    if psi_value is None or not np.isfinite(psi_value):
        return "fail"
    if psi_value > fail_at:
        return "fail"
    if psi_value > warn_at:
        return "warn"
    return "ok"
