"""Decisions that can be judged: gates and scales learn who is right, the null is a real null,
the walk-forward never lets a training label see the test period, and the report is stored."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thunderline.decisions.fitting import clock_returns_for, fit_thresholds, score_targets, stack_scales, stage_split
from thunderline.decisions.gates import fit_gate
from thunderline.evaluation.signal import permutation_band, rank_ic, signal_quality
from thunderline.evaluation.walkforward import Fold, FoldResult, report_rows, walk_forward_folds
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
    alpha, stats = stack_scales(np.column_stack([noise[:, 0], good, noise[:, 1]]), y, ["n1", "good", "n2"])
    assert alpha == {"n1": 0.0, "good": 1.0, "n2": 0.0}
    assert stats["good"]["t"] > 5


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


def test_stage_split_is_chronological_and_purged():
    t = np.arange(0, 10_000_000, 125_000)
    sp = stage_split(t, purge_us=5_000_000)
    c1, c2 = sp.cuts_us
    assert np.all(t[sp.fit] + 5_000_000 <= c1) and np.all(t[sp.calibrate] >= c1)
    assert np.all(t[sp.calibrate] + 5_000_000 <= c2) and np.all(t[sp.select] >= c2)


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


def test_init_schema_adds_columns_an_older_release_lacked(warehouse):
    """decision_traces.blended_score arrived after warehouses existed: init_schema adds such columns."""
    import sqlalchemy as sa

    from thunderline.store.warehouse import add_missing_columns

    old = sa.MetaData()
    sa.Table("t_migrate", old, sa.Column("id", sa.Integer, primary_key=True), sa.Column("a", sa.Float))
    new = sa.MetaData()
    sa.Table("t_migrate", new, sa.Column("id", sa.Integer, primary_key=True), sa.Column("a", sa.Float),
             sa.Column("b", sa.Float), sa.Column("c", sa.Float, nullable=False, server_default=sa.text("0")),
             sa.Column("d", sa.Float, nullable=False))
    with warehouse.engine.begin() as conn:
        old.create_all(conn)
        conn.execute(sa.text("INSERT INTO t_migrate (id, a) VALUES (1, 2.0)"))
        notes = add_missing_columns(conn, new)
        assert notes[:2] == ["added column t_migrate.b", "added column t_migrate.c"]
        assert "t_migrate.d is missing" in notes[2]
        assert add_missing_columns(conn, new)[-1:] == notes[2:]  # idempotent
        assert conn.execute(sa.text("SELECT c FROM t_migrate WHERE id = 1")).scalar() == 0
        conn.execute(sa.text("DROP TABLE t_migrate"))
    assert "blended_score" in {c["name"] for c in sa.inspect(warehouse.engine).get_columns("decision_traces")}
