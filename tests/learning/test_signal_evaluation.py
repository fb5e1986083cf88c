"""Decisions that can be judged: gates and scales learn who is right, the null is a real null,
the walk-forward never lets a training label see the test period, and the report is stored."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thunderline.decisions.fitting import clock_returns_for, fit_thresholds, score_targets
from thunderline.decisions.gates import fit_gate
from thunderline.decisions.stacking import ic_weighted_scale, near_best_scale, purged_folds, stack_weights
from thunderline.evaluation.signal import permutation_band, rank_ic, signal_quality, weighting_ceiling
from thunderline.evaluation.walkforward import Fold, FoldResult, format_table, report_rows, walk_forward_folds
from thunderline.labels.clock import QuoteMids


def _softmax(L):
    L = L - L.max(axis=1, keepdims=True)
    E = np.exp(L)
    return E / E.sum(axis=1, keepdims=True)


def _planted(n=4000, d=8, seed=0):
    """Expert 0 is right where x0 > 0, expert 1 where x0 < 0, expert 2 is noise."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = rng.standard_normal(n)
    truth = np.sign(y)
    s0 = np.where(X[:, 0] > 0, 0.6 * truth, rng.uniform(-0.6, 0.6, n))
    s1 = np.where(X[:, 0] < 0, 0.6 * truth, rng.uniform(-0.6, 0.6, n))
    s2 = rng.uniform(-0.6, 0.6, n)
    return X, y, np.column_stack([s0, s1, s2])


def test_gate_training_moves_weight_toward_the_expert_that_is_right_there():
    X, y, S = _planted()
    W = fit_gate(X, score_targets(S, y), 3).W
    P = _softmax(X @ W)
    right0, right1 = X[:, 0] > 0.5, X[:, 0] < -0.5
    assert P[right0, 0].mean() > 0.6 and P[right0, 0].mean() > 2 * P[right0, 2].mean()
    assert P[right1, 1].mean() > 0.6 and P[right1, 1].mean() > 2 * P[right1, 2].mean()
    # before training (seeded zero gates) every expert weighs the same
    assert np.allclose(_softmax(X @ np.zeros_like(W)), 1 / 3)


def test_stacking_gives_noise_experts_no_weight_and_the_good_one_the_most():
    rng = np.random.default_rng(1)
    n = 3000
    y = rng.standard_normal(n)
    good = np.tanh(np.sign(y) * 0.3 + rng.standard_normal(n) * 0.5)
    noise = rng.uniform(-1, 1, (n, 2))
    alpha, stats, info = stack_weights(np.column_stack([noise[:, 0], good, noise[:, 1]]), y, ["n1", "good", "n2"],
                                       np.arange(n) * 4 // n)
    assert alpha == {"n1": 0.0, "good": 1.0, "n2": 0.0}
    assert stats["good"]["t"] > 5 and info["best"] == "good"


def test_stacking_combines_complementary_experts_and_shrinks_a_redundant_one_to_the_best():
    """Two experts that each see half of the signal are both weighted (the cross-validated stack beats either
    alone); a noisy copy of the best expert adds nothing out of fold, so the penalty keeps it small."""
    rng = np.random.default_rng(4)
    n = 6000
    a, b = rng.standard_normal(n), rng.standard_normal(n)
    y = np.sign(a + b + rng.standard_normal(n))
    fold = np.arange(n) * 4 // n
    S = np.column_stack([a, b, a + 2.0 * rng.standard_normal(n)])
    alpha, _, info = stack_weights(S, y, ["a", "b", "copy"], fold)
    assert alpha["a"] > 0.5 and alpha["b"] > 0.5 and alpha["copy"] < 0.2
    assert set(info["cv_rank_ic"]) and info["lambda"] in info["cv_rank_ic"]
    # with nothing to gain beyond the best expert, the chosen λ leaves (almost) the best expert alone
    S2 = np.column_stack([a, a + 3.0 * rng.standard_normal(n)])
    alpha2, _, _ = stack_weights(S2, np.sign(a + rng.standard_normal(n)), ["a", "noisy"], fold)
    assert alpha2["a"] == 1.0 and alpha2["noisy"] < 0.15


def test_near_best_fallback_averages_the_experts_tied_with_the_best_and_drops_the_clearly_worse():
    """Three experts that each see the signal through their own noise are tied out of fold: the fallback is
    their scale-calibrated average (α = 1/sd, so a member with a ten times larger score scale counts the same),
    which beats each of them on fresh data; a clearly weaker and a pure-noise expert get 0."""
    rng = np.random.default_rng(11)

    def draw(n):
        sig = rng.standard_normal(n)
        y = np.sign(sig + 1.5 * rng.standard_normal(n))
        S = np.column_stack([sig + rng.standard_normal(n), 10 * (sig + rng.standard_normal(n)),
                             sig + rng.standard_normal(n), sig + 4 * rng.standard_normal(n),
                             rng.standard_normal(n)])
        return S, y

    names = ["a", "big", "c", "weak", "noise"]
    S, y = draw(20_000)
    alpha, info = near_best_scale(S, y, names)
    assert set(info["members"]) == {"a", "big", "c"} and alpha["weak"] == 0.0 and alpha["noise"] == 0.0
    assert max(alpha.values()) == 1.0 and alpha["big"] == pytest.approx(0.1 * alpha["a"], rel=0.1)
    S2, y2 = draw(20_000)
    blend = S2 @ np.array([alpha[n] for n in names])
    assert rank_ic(blend, y2) > max(rank_ic(S2[:, j], y2) for j in range(3)) + 0.02
    # a single expert clearly ahead of the rest: the fallback is that expert alone
    alpha1, info1 = near_best_scale(np.column_stack([S[:, 0], S[:, 3]]), y, ["a", "weak"])
    assert alpha1 == {"a": 1.0, "weak": 0.0} and info1["members"] == ["a"]
    # nothing above noise: the best alone (never an empty blend)
    alpha0, _ = near_best_scale(rng.standard_normal((500, 2)), rng.standard_normal(500), ["x", "z"])
    assert sorted(alpha0.values()) == [0.0, 1.0]


def test_ic_weighted_fallback_weighs_each_useful_expert_by_its_out_of_fold_ic_and_beats_the_best():
    """Experts that see different parts of the signal (order flow in one regime, momentum in another) are
    each weighted by their out-of-fold rank IC squared once standardised; noise gets 0. On fresh data the average
    beats every member, where the near-best rule (one expert clearly ahead) would keep the best alone."""
    rng = np.random.default_rng(12)

    def draw(n):
        a, b = rng.standard_normal(n), rng.standard_normal(n)
        y = np.sign(1.3 * a + b + 1.5 * rng.standard_normal(n))
        return np.column_stack([a, 10 * b, rng.standard_normal(n)]), y

    names = ["flow", "momentum", "noise"]
    S, y = draw(20_000)
    alpha, info = ic_weighted_scale(S, y, names)
    assert info["members"] == ["flow", "momentum"] and alpha["noise"] == 0.0 and alpha["flow"] == 1.0
    ics = info["rank_ic"]
    assert alpha["momentum"] == pytest.approx(0.1 * (ics["momentum"] / ics["flow"]) ** 2, rel=0.05)
    S2, y2 = draw(20_000)
    blend = S2 @ np.array([alpha[n] for n in names])
    assert rank_ic(blend, y2) > max(rank_ic(S2[:, j], y2) for j in range(3)) + 0.02
    near, _ = near_best_scale(S, y, names)
    assert near == {"flow": 1.0, "momentum": 0.0, "noise": 0.0}
    # nothing above noise: the best alone (never an empty blend)
    alpha0, _ = ic_weighted_scale(rng.standard_normal((500, 2)), rng.standard_normal(500), ["x", "z"])
    assert sorted(alpha0.values()) == [0.0, 1.0]


def test_near_copies_of_one_expert_count_once_in_the_ic_weighted_average():
    """Three near-copies of one signal (the logistic order-flow experts at two horizons and penalties) and one
    expert with other information of the same strength: each piece of information gets the same weight,
    the copies sharing theirs, so the blend beats both on fresh data; counting every copy (``rho`` > 1) lets
    the copies outweigh the other expert three to one and the blend falls behind the grouped one."""
    rng = np.random.default_rng(5)

    def draw(n):
        a, b = rng.standard_normal(n), rng.standard_normal(n)
        y = np.sign(a + b + 2.0 * rng.standard_normal(n))
        copies = [a + 0.2 * rng.standard_normal(n) for _ in range(3)]
        return np.column_stack([b, *copies]), y

    names = ["trees", "logit_h1", "logit_h1_l2", "logit_h4"]
    S, y = draw(30_000)
    alpha, info = ic_weighted_scale(S, y, names)
    assert info["redundant"] == [["logit_h1", "logit_h1_l2", "logit_h4"]]
    copies = sum(alpha[n] for n in names[1:])
    assert copies == pytest.approx(alpha["trees"], rel=0.15)  # one IC² each, whoever holds it
    every, every_info = ic_weighted_scale(S, y, names, rho=float("inf"))
    assert every_info["redundant"] == [] and sum(every[n] for n in names[1:]) > 2.5 * every["trees"]
    S2, y2 = draw(30_000)
    grouped = rank_ic(S2 @ np.array([alpha[n] for n in names]), y2)
    assert grouped > rank_ic(S2 @ np.array([every[n] for n in names]), y2) + 0.005
    assert grouped > max(rank_ic(S2[:, j], y2) for j in range(4)) + 0.02


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 6), st.integers(0, 10_000_000), st.integers(50, 400))
def test_purged_folds_cover_every_row_once_and_train_never_near_the_block(k, purge, n):
    t = np.sort(np.random.default_rng(n).integers(0, 600_000_000, n))
    folds = purged_folds(t, k, purge)
    blocks = np.sum([b for _, b in folds], axis=0)
    assert np.all(blocks == 1)  # every row in exactly one block
    for train, block in folds:
        assert not (train & block).any()
        if block.any():
            lo, hi = t[block].min(), t[block].max()
            # no training row within the purge of the block on either side
            assert not np.any(train & (t + purge > lo) & (t - purge < hi + 1))


def test_a_fold_may_test_before_its_training_period_with_the_embargo_before_training():
    from thunderline.evaluation.report import single_fold

    f = single_fold(100_000_000, 200_000_000, 0, 100_000_000, embargo_us=5_000_000)
    assert (f.test_start_us, f.test_end_us) == (0, 95_000_000) and f.train_start_us == 100_000_000
    with pytest.raises(ValueError, match="must not overlap"):
        single_fold(0, 200_000_000, 100_000_000, 300_000_000)


def test_score_targets_ignore_unmoved_windows_and_wrong_experts():
    S = np.array([[0.5, -0.2], [0.1, 0.3], [-0.4, -0.1], [0.2, 0.2]])
    y = np.array([1.0, 1.0, 1.0, 0.0])
    assert score_targets(S, y).tolist() == [0, 1, -1, -1]


def test_thresholds_hold_when_nothing_pays_its_costs():
    rng = np.random.default_rng(2)
    z = rng.uniform(-1, 1, 2000)
    r = rng.standard_normal(2000) * 0.1  # bps: far below a 2 bps spread
    (tb, ts), info = fit_thresholds(z, r, np.full(2000, 2.0))
    assert tb == ts and tb >= np.abs(z).max()
    # a signal that pays: the threshold is below the largest score
    (tb2, _), _ = fit_thresholds(z, 20 * z + r, np.full(2000, 2.0))
    assert tb2 < np.abs(z).max()


def test_permutation_band_holds_noise_and_rejects_signal():
    rng = np.random.default_rng(3)
    n = 3000
    y = rng.standard_normal(n)
    models = {f"noise{k}": rng.standard_normal(n) for k in range(5)}
    models["signal"] = y + 3 * rng.standard_normal(n)
    band = permutation_band(models, y, n_perm=200, level=0.99, seed=0)
    assert band == permutation_band(models, y, n_perm=200, level=0.99, seed=0)  # deterministic
    assert 0 < band["band"] < 0.1
    assert abs(rank_ic(models["signal"], y)) > band["band"]
    inside = sum(abs(rank_ic(s, y)) <= band["band"] for k, s in models.items() if k != "signal")
    assert inside == 5
    # with the labels shuffled every model, the real signal included, falls inside the band
    shuffled = rng.permutation(y)
    assert all(abs(rank_ic(s, shuffled)) <= band["band"] for s in models.values())


def test_weighting_ceiling_gains_on_complementary_experts_and_not_on_copies():
    """The after-the-fact ceiling is well above the best expert when experts see different parts of the move, and
    about the best expert when the others are noisier copies of it (weight ~0) or noise (weight 0)."""
    rng = np.random.default_rng(11)
    n = 20_000
    a, b = rng.standard_normal(n), rng.standard_normal(n)
    y = a + b + rng.standard_normal(n)
    noise = rng.standard_normal(n)
    apart = weighting_ceiling({"sees_a": a, "sees_b": b, "noise": noise}, y)
    assert apart["gain"] > 0.1 and apart["weights"]["sees_a"] > 0.5 and apart["weights"]["sees_b"] > 0.5
    assert apart["weights"]["noise"] < 0.05 and apart["best_expert"] in ("sees_a", "sees_b")
    best = a + b
    experts = {"best": best, "copy": best + 0.5 * rng.standard_normal(n), "noise": noise}
    copies = weighting_ceiling(experts, y)
    assert copies["best_expert"] == "best" and copies["weights"]["best"] == 1.0
    assert abs(copies["gain"]) < 0.01 and copies["weights"]["copy"] < 0.1
    assert copies == weighting_ceiling(experts, y)  # deterministic
    y_nan = y.copy()
    y_nan[:10] = np.nan  # unlabelled rows are left out, not propagated
    assert np.isfinite(weighting_ceiling({"best": best}, y_nan)["rank_ic"])
    assert weighting_ceiling({}, y)["best_expert"] is None
    fold = Fold(0, 0, 1, 2, 3)
    table = format_table(FoldResult(fold, [], {}, {}, {}, {"clock": {}, "chained_windows": {}}, (0.1, 0.1), 0,
                                    ceiling={250: copies}))
    assert "after the fact at 250ms: the best fixed weighting of the experts" in table
    assert f"reaches rank IC {copies['rank_ic']:+.4f} (best {copies['best_expert_rank_ic']:+.4f}" in table


def test_signal_quality_definitions():
    y = np.array([1.0, -1.0, 0.0, 2.0, np.nan, -3.0])
    s = np.array([0.5, -0.1, 0.2, 0.0, 0.9, 0.4])
    moved = np.array([True, True, False, True, False, True])
    q = signal_quality("m", 250, s, y, moved, np.zeros(6), n_boot=50)
    assert q.n == 5 and q.n_moved == 4
    assert q.hit_rate == pytest.approx(2 / 3)  # window 3 has score 0: not judged; window 5 is a miss
    assert q.rank_ic_lo <= q.rank_ic <= q.rank_ic_hi or q.n < 10


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 4), st.floats(0.2, 0.8), st.integers(0, 3_000_000))
def test_walk_forward_purge_and_embargo(n_folds, frac, embargo):
    start, end = 0, 600_000_000
    folds = walk_forward_folds(start, end, n_folds, embargo_us=embargo, train_fraction=frac)
    rng = np.random.default_rng(n_folds)
    ts = np.sort(rng.integers(start, end, 400)) // 125_000 * 125_000
    mids = QuoteMids(np.unique(ts), 100 + np.cumsum(rng.standard_normal(np.unique(ts).size)) * 0.01)
    for f in folds:
        assert f.test_start_us >= f.train_end_us + embargo
        frame = pd.DataFrame({"symbol": "S", "window_end_us": ts + 250_000})
        train = (ts >= f.train_start_us) & (ts + 250_000 <= f.train_end_us)
        rets = clock_returns_for(frame[train].reset_index(drop=True), {"S": mids}, (250, 1000, 5000),
                                 known_until_us=f.train_end_us)
        for h, r in rets.items():
            filled = r["status"].to_numpy() == "filled"
            # purge: a training label that is realised never reaches past the end of training
            assert np.all(frame[train]["window_end_us"].to_numpy()[filled] + h * 1000 <= f.train_end_us)


def test_signal_evaluation_rows_are_stored_and_replaced(warehouse):
    from thunderline.evaluation.report import EvaluationRun, store_run

    fold = Fold(0, 0, 10, 15, 30)
    rows = [signal_quality(m, 250, np.arange(20.0), np.arange(20.0) * (1 if m == "blend" else -1),
                           np.ones(20, bool), np.zeros(20), n_boot=20).as_dict() for m in ("blend", "x")]
    res = FoldResult(fold, rows, {250: 0.1}, {250: {"all_inside": True}}, {}, {}, (0.1, 0.1), 20)
    run = EvaluationRun("run-1", {"symbols": "S"}, [res])
    assert len(report_rows("default", "run-1", [res])) == 2
    with warehouse.session("default") as s:
        assert store_run(s, run) == 2
    with warehouse.session("default") as s:
        store_run(s, run)  # the same run again replaces, not duplicates
        got = sorted((r["model"], r["rank_ic"]) for r in s.select("signal_evaluations"))
    assert got == [("blend", pytest.approx(1.0)), ("x", pytest.approx(-1.0))]
    with warehouse.session("other") as s:
        assert s.select("signal_evaluations") == []  # tenants do not see each other's reports


def test_decision_stack_fits_on_out_of_fold_scores_and_refits_experts_on_the_whole_period():
    """On planted windows (order flow predicts the next move, momentum does not): every training window gets an
    out-of-fold score, the stack weights the order-flow expert, and the experts that decide are refitted on
    the whole training period."""
    from thunderline.decisions.fitting import fit_decision_stack
    from thunderline.decisions.stacking import CV_FOLDS, SHRINK_GRID
    from thunderline.experts.catalog import DEFAULT_SPECS_BY_NAME, FILING_FEATURES

    from .learning_data import planted_windows

    wins = planted_windows(n_symbols=2, n_windows=1200, seed=7)
    wins = [dataclasses.replace(w, features={k: v for k, v in w.features.items() if k not in FILING_FEATURES})
            for w in wins]  # no filings (a symbol without EDGAR history)
    mids = {}
    for sym in sorted({w.key for w in wins}):
        ws = sorted((w for w in wins if w.key == sym), key=lambda w: w.window_start_us)
        ts = np.array([w.window_end_us for w in ws], dtype=np.int64)
        mids[sym] = QuoteMids(ts, 100 * np.exp(np.cumsum([w.features["mid_return"] for w in ws])))
    specs = [DEFAULT_SPECS_BY_NAME[n] for n in ("order_flow_logit_h1", "momentum_gbm_h1_shallow", "ofi_linear_h1",
                                                  "filing_logit_h10")]
    fit = fit_decision_stack(wins, mids, specs=specs, d=8)
    r = fit.report
    # no filings: the filing expert cannot be trained, and the report (and the evaluation table) says why
    assert list(r["skipped"]) == ["filing_logit_h10"] and "filing_logit_h10" not in fit.experts
    assert f"no row has {', '.join(FILING_FEATURES)}" in r["skipped"]["filing_logit_h10"]
    fold = Fold(0, 0, 1, 2, 3)
    table = format_table(FoldResult(fold, [], {}, {}, r, {"clock": {}, "chained_windows": {}}, (0.1, 0.1), 0))
    assert f"not trained, left out of the blend: filing_logit_h10 ({r['skipped']['filing_logit_h10']})" in table
    assert r["cv_folds"] == CV_FOLDS and r["stack_windows"] == len(wins)
    assert r["stacking"]["final"]["lambda"] in SHRINK_GRID
    assert fit.state.scale_of("order_flow_logit_h1") > 0.5
    assert r["calibrate_stats"]["order_flow_logit_h1"]["t"] > r["calibrate_stats"]["momentum_gbm_h1_shallow"]["t"]
    assert all(fx.train_info["n_rows"] == len(wins) for fx in fit.experts.values())
    assert r["chosen"] in r["select_rank_ic"]


def test_select_stage_counts_independent_label_spans_not_overlapping_windows():
    """Windows every 250 ms whose labels look 5 s ahead share most of their path: 100 s of them are about
    21 independent observations per symbol, not 400; sparse windows count one each."""
    from collections import namedtuple

    from thunderline.decisions.fitting import effective_n

    W = namedtuple("W", "key window_end_us")
    dense = [W(s, t) for s in ("A", "B") for t in range(0, 100_000_000, 250_000)]
    assert effective_n(dense, 5000) == pytest.approx(2 * (99.75 / 5 + 1))
    sparse = [W("A", t) for t in range(0, 100_000_000_000, 60_000_000)]
    assert effective_n(sparse, 5000) == len(sparse)
    assert effective_n(dense[:2], 5000) == 3.0
