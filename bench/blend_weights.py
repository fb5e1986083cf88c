"""Which blend weights generalise? The IC²-weighted fallback against correlation-aware IC weights, on the same scores.

Usage: python bench/blend_weights.py [--cases amzn,synthetic,demo,lobster] [--seeds 1 2 3] [--lobster FILE…]
                                     [--json out.json]

Same cases as ``bench/decision_quality.py`` (its generators). Per case, the training period's purged
out-of-fold scores are computed exactly as :func:`thunderline.decisions.fitting.fit_decision_stack` does
(same labels, folds, purge, experts), and the experts trained on the whole period score the test
period. Every weighting is then fitted on the out-of-fold rows only and its blend — ``S·α``, which is what
the decision path computes under uniform routing once α is divided by the routing share — is scored by
rank IC on the test period at 250 ms and 1 s, against the best single expert chosen after the fact.

Weightings:

* ``ic2``: :func:`~thunderline.decisions.stacking.ic_weighted_scale`, today's fallback (on every case
  measured so far the select stage kept it, so its rows equal ``decision_quality.py``'s blend): near-copies
  (out-of-fold rank correlation ≥ ``REDUNDANT_RHO``) share one weight;
* ``ic2_all``: the same without grouping near-copies (the fallback before 2026-12-04: every useful expert
  its own IC²);
* ``corr_cv``: ``min βᵀRβ − 2βᵀr + λ‖β − β₀‖²``, β ≥ 0, on the standardised useful scores (``R`` their
  correlation, ``r`` their correlation with the stacking target, ``β₀`` the IC² weights scaled to fit),
  λ by the mean rank IC over the purged folds (weights fitted on the other folds; ties to the larger λ).
  λ = 0 is non-negative least squares (a weaker copy of a stronger expert earns nothing), λ = ∞ is ``ic2``;
* ``corr_1se``: the same, λ the largest within one paired standard error (over folds) of the best.

And ``oracle``: :func:`~thunderline.evaluation.signal.weighting_ceiling` (what ``thunderline evaluate`` prints as
"the best fixed weighting after the fact"), non-negative weights fitted on the test period's own moves — roughly how far any fixed
linear weighting of these experts could get above the best one (least squares on the ranked moves maximises
the blend's correlation with the ranks, not its own rank IC, so a fitted weighting can come out a little
above it). Where it is near 0 the experts carry the same information, and only a more diverse expert, not
a better weighting, can lift the blend.

Not a pass/fail check: it prints per case and horizon blend − best expert, and over all pairs how often
each weighting is ≥ the best expert and its mean difference. Deterministic (same seeds, same numbers).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import decision_quality as dq  # noqa: E402
import numpy as np  # noqa: E402
from scipy.optimize import nnls  # noqa: E402

from thunderline.decisions.stacking import MIN_T, _useful, ic_weighted_scale, rank_ic_t  # noqa: E402
from thunderline.evaluation.signal import rank_ic, weighting_ceiling  # noqa: E402

#: Penalties tried for the correlation-aware weights (standardised units; inf = the IC² prior itself).
CORR_GRID = (0.0, 0.03, 0.1, 0.3, 1.0, 3.0, float("inf"))


def corr_coefficients(S: np.ndarray, y: np.ndarray, lam: float, *, min_t: float = MIN_T, power: float = 2.0):
    """Non-negative raw-unit coefficients of the correlation-aware weights (module docstring); the best expert
    alone when no expert's out-of-fold rank IC has t > ``min_t``."""
    useful, best, stats = _useful(S, y, min_t)
    beta = np.zeros(S.shape[1])
    if not useful:
        beta[best] = 1.0
        return beta
    U = S[:, useful]
    sd = np.where(U.std(axis=0) > 0, U.std(axis=0), 1.0)
    Z = (U - U.mean(axis=0)) / sd
    yy = (y - y.mean()) / (np.std(y) or 1.0)
    R, r = Z.T @ Z / len(yy), Z.T @ yy / len(yy)
    w = np.array([max(stats[j][0], 0.0) ** power for j in useful])
    b0 = w * max(float(w @ r) / max(float(w @ R @ w), 1e-12), 0.0)
    if np.isinf(lam):
        b = b0
    else:
        chol = np.linalg.cholesky(R + max(lam, 1e-9) * np.eye(len(useful)))
        b, _ = nnls(chol.T, np.linalg.solve(chol, r + lam * b0))
    beta[useful] = b / sd
    return beta


def choose_lambda(S: np.ndarray, y: np.ndarray, fold: np.ndarray, one_se: bool) -> tuple[float, dict]:
    """λ by purged cross-validation over ``fold`` (rank IC of each fold under weights fitted on the others)."""
    per = {}
    for lam in CORR_GRID:
        per[lam] = np.array([rank_ic_t(S[fold == f] @ corr_coefficients(S[fold != f], y[fold != f], lam),
                                       y[fold == f])[0] for f in np.unique(fold)])
    mean = {k: float(v.mean()) for k, v in per.items()}
    top = max(mean, key=lambda k: (mean[k], k))
    if one_se:
        for lam in sorted(CORR_GRID, reverse=True):
            d = per[top] - per[lam]
            if d.mean() <= d.std(ddof=1) / np.sqrt(len(d)):
                return lam, mean
    return top, mean


def out_of_fold_and_test(windows, mids, fold):
    """(names, OOF scores, stacking target, fold id, test scores, test returns per horizon) of one case, the
    out-of-fold part exactly as ``fit_decision_stack`` computes it."""
    from thunderline.decisions import fitting as F
    from thunderline.decisions.seeding import training_frame
    from thunderline.evaluation.walkforward import split_fold
    from thunderline.experts import DEFAULT_EXPERT_SPECS

    train, test = split_fold(sorted(windows, key=lambda w: (w.key, w.window_start_us)), fold)
    specs = tuple(DEFAULT_EXPERT_SPECS)
    df = training_frame(train)
    horizons = sorted({s.clock_horizon_ms for s in specs} | {F.DEFAULT_BLEND_HORIZON_MS})
    rets = F.clock_returns_for(df, mids, horizons, known_until_us=fold.train_end_us)
    labels = F.class_labels(rets, specs, df.index)
    fitted, skipped = F._train_all(specs, df, labels, 0)
    oof = F._out_of_fold(fitted, specs, df, labels, 0, max(horizons) * 1000, skipped)
    names = sorted(n for n in fitted if n not in skipped)
    S = oof.scores[:, [oof.names.index(n) for n in names]]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        y = np.nanmean(np.column_stack([np.sign(rets[h]["fwd_return"].to_numpy()) for h in horizons]), axis=1)
    test_df = training_frame(test)
    St = np.column_stack([F._scores(fitted[n], test_df) for n in names])
    test_rets = F.clock_returns_for(test_df, mids, dq.HORIZONS, known_until_us=fold.test_end_us + max(horizons) * 1000)
    return names, S, y, oof.fold, St, {h: test_rets[h]["fwd_return"].to_numpy() for h in dq.HORIZONS}


def weightings(names, S, y, fold) -> tuple[dict[str, np.ndarray], dict]:
    """Each weighting's coefficients (one per expert), fitted on the out-of-fold rows."""
    rows = (fold >= 0) & np.isfinite(y) & np.isfinite(S).all(axis=1)
    S, y, fold = S[rows], y[rows], fold[rows]
    icw, _ = ic_weighted_scale(S, y, names)
    icw_all, _ = ic_weighted_scale(S, y, names, rho=float("inf"))
    lam, cv = choose_lambda(S, y, fold, one_se=False)
    lam1, _ = choose_lambda(S, y, fold, one_se=True)
    out = {"ic2": np.array([icw[n] for n in names]), "ic2_all": np.array([icw_all[n] for n in names]), "corr_cv": corr_coefficients(S, y, lam),
           "corr_1se": corr_coefficients(S, y, lam1)}
    return out, {"lambda_cv": lam, "lambda_1se": lam1, "cv_rank_ic": {str(k): v for k, v in cv.items()}}


def run_case(name, windows, mids, fold) -> dict:
    names, S, y, fid, St, rets = out_of_fold_and_test(windows, mids, fold)
    ws, info = weightings(names, S, y, fid)
    res = {"case": name, **info, "weights": {k: dict(zip(names, (b / (b.max() or 1.0)).round(4).tolist()))
                                            for k, b in ws.items()}, "horizons": {}}
    for h, r in rets.items():
        experts = {n: rank_ic(St[:, j], r) for j, n in enumerate(names)}
        best = max(experts, key=experts.get)
        res["horizons"][h] = {"best_expert": best, "best": experts[best],
                              **{k: rank_ic(St @ b, r) - experts[best] for k, b in ws.items()},
                              "oracle": weighting_ceiling(dict(zip(names, St.T)), r)["rank_ic"] - experts[best]}
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", default="amzn,synthetic,demo")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6])
    ap.add_argument("--cuts", type=int, nargs="+", default=list(range(len(dq.AMZN_CUTS))))
    ap.add_argument("--synthetic-ticks", type=int, default=3_000_000)
    ap.add_argument("--lobster", nargs="*", default=[])
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    gens = {"amzn": lambda: dq.amzn_cases(a.cuts), "synthetic": lambda: dq.synthetic_cases(a.seeds, a.synthetic_ticks),
            "demo": dq.demo_case, "lobster": lambda: dq.lobster_cases(a.lobster)}
    keys = ("ic2", "ic2_all", "corr_cv", "corr_1se", "oracle")
    out = []
    print(f"{'case':<34}{'h':>6}" + "".join(f"{k + ' -best':>16}" for k in keys) + "  λ cv / 1se (best expert)")
    for kind in a.cases.split(","):
        for name, windows, mids, fold in gens[kind]():
            c0 = time.process_time()
            res = run_case(name, windows, mids, fold)
            res["cpu_s"] = time.process_time() - c0
            out.append(res)
            for h, v in res["horizons"].items():
                print(f"{name:<34}{h:>4}ms" + "".join(f"{v[k]:>+16.4f}" for k in keys)
                      + f"  {res['lambda_cv']} / {res['lambda_1se']} ({v['best_expert']})", flush=True)
    for k in keys:
        d = np.array([v[k] for r in out for v in r["horizons"].values()])
        print(f"{k:<9} ≥ best expert on {int((d >= 0).sum())}/{d.size} pairs, mean {d.mean():+.4f}, worst {d.min():+.4f}")
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
