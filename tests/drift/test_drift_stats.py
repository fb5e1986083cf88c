"""PSI, KS, bins and statuses against hand-computed values; rendering produces readable output."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from thunderline.drift import (
    DriftError,
    build_profile,
    columns_from_records,
    compare,
    psi,
    render_markdown,
    render_png,
    status_of,
)
from thunderline.drift.stats import bin_counts, ks_pvalue, ks_statistic, quantile_cuts

BASE = np.arange(1.0, 101.0)  # 1..100: quartile cuts 25.75, 50.5, 75.25 (linear interpolation)


def current_with_counts(counts):
    """Values that fill the four quartile bins of BASE with ``counts``."""
    centres = [10.0, 40.0, 60.0, 90.0]
    return np.concatenate([np.full(n, c) for n, c in zip(counts, centres)])


def test_quantile_cuts_and_bins_by_hand():
    cuts = quantile_cuts(BASE, 4)
    assert cuts.tolist() == [25.75, 50.5, 75.25]
    assert bin_counts(BASE, cuts).tolist() == [25, 25, 25, 25]
    # a value equal to a cut belongs to the lower bin; outside the baseline range to the outer bins
    assert bin_counts(np.array([25.75, 25.76, -1e9, 1e9]), cuts).tolist() == [2, 1, 0, 1]


def test_psi_matches_hand_computation():
    # expected 0.25 each, actual 0.1/0.2/0.3/0.4:
    # 0.15·ln 2.5 + 0.05·ln 1.25 + 0.05·ln 1.2 + 0.15·ln 1.6
    hand = 0.15 * math.log(2.5) + 0.05 * math.log(1.25) + 0.05 * math.log(1.2) + 0.15 * math.log(1.6)
    assert hand == pytest.approx(0.2282174, abs=1e-7)
    assert psi([0.25] * 4, [0.1, 0.2, 0.3, 0.4]) == pytest.approx(hand, rel=1e-12)
    profile = build_profile("p", {"x": BASE}, feature_schema_version="fs-1", n_bins=4)
    report = compare(profile, {"x": current_with_counts([10, 20, 30, 40])})
    assert report.features[0].psi == pytest.approx(hand, rel=1e-12)
    assert report.features[0].actual == (0.1, 0.2, 0.3, 0.4)


def test_identical_distribution_gives_zero_and_shift_gives_large():
    rng = np.random.default_rng(7)
    base = rng.normal(size=20_000)
    profile = build_profile("p", {"x": base}, feature_schema_version="fs-1")
    same = compare(profile, {"x": base}).features[0]
    assert same.psi == pytest.approx(0.0, abs=1e-12) and same.status == "ok"
    resampled = compare(profile, {"x": rng.normal(size=20_000)}).features[0]
    assert resampled.psi < 0.01 and resampled.status == "ok"
    shifted = compare(profile, {"x": rng.normal(loc=1.0, size=20_000)}).features[0]
    assert shifted.psi > 0.25 and shifted.status == "fail"
    assert shifted.ks_statistic == pytest.approx(0.38, abs=0.03)  # Φ(0.5) − Φ(−0.5) ≈ 0.383
    assert shifted.ks_pvalue < 1e-10


def test_empty_bin_uses_epsilon_and_epsilon_is_configurable():
    # expected (0.5, 0.5, 0) → e3 = ε; actual (0.5, 0.25, 0.25)
    e, a = [0.5, 0.5, 0.0], [0.5, 0.25, 0.25]
    assert psi(e, a, 1e-4) == pytest.approx(0.25 * math.log(2) + (0.25 - 1e-4) * math.log(0.25 / 1e-4), rel=1e-12)
    assert psi(e, a, 1e-4) == pytest.approx(2.1285159, abs=1e-6)
    assert psi(e, a, 1e-3) == pytest.approx(1.5481305, abs=1e-6)
    assert math.isfinite(psi([0.5, 0.5, 0.0], [0.0, 0.5, 0.5]))
    with pytest.raises(ValueError):
        psi(e, a, 0.0)
    # end to end: a current sample that leaves baseline bins empty stays finite, and the
    # profile's epsilon is used unless overridden
    prof = build_profile("p", {"x": BASE}, feature_schema_version="fs-1", n_bins=4, epsilon=1e-3)
    cur = {"x": current_with_counts([0, 0, 50, 50])}
    assert compare(prof, cur).features[0].psi == pytest.approx(psi([0.25] * 4, [0, 0, 0.5, 0.5], 1e-3))
    assert compare(prof, cur, epsilon=1e-6).features[0].psi == pytest.approx(psi([0.25] * 4, [0, 0, 0.5, 0.5], 1e-6))


def test_status_thresholds_are_strict_and_configurable():
    assert status_of(0.1) == "ok" and status_of(0.1000001) == "warn"
    assert status_of(0.25) == "warn" and status_of(0.2500001) == "fail"
    assert status_of(None) == "fail"
    assert status_of(0.15, warn_at=0.2, fail_at=0.3) == "ok"
    prof = build_profile("p", {"x": BASE}, feature_schema_version="fs-1", n_bins=4)
    cur = {"x": current_with_counts([10, 20, 30, 40])}  # PSI 0.228
    assert compare(prof, cur).features[0].status == "warn"
    assert compare(prof, cur, fail_at=0.2).features[0].status == "fail"
    with pytest.raises(DriftError):
        compare(prof, cur, warn_at=0.3, fail_at=0.2)


def test_ks_matches_scipy_on_whole_samples():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=400), rng.normal(0.2, 1.3, size=250)
    ref = sps.ks_2samp(a, b, method="asymp")
    d = ks_statistic(np.sort(a), b)
    assert d == pytest.approx(ref.statistic, abs=1e-12)
    assert ks_pvalue(d, 400, 250) == pytest.approx(ref.pvalue, rel=1e-9)
    # ties (a discrete feature)
    a, b = np.round(a), np.round(b)
    assert ks_statistic(np.sort(a), b) == pytest.approx(sps.ks_2samp(a, b).statistic, abs=1e-12)


def test_ks_sample_bounds_a_large_baseline():
    rng = np.random.default_rng(4)
    base, cur = rng.normal(size=50_000), rng.normal(0.1, size=5_000)
    prof = build_profile("p", {"x": base}, feature_schema_version="fs-1", ks_points=500)
    assert len(prof.features["x"].ks_sample) == 500
    exact = sps.ks_2samp(base, cur).statistic
    assert compare(prof, {"x": cur}).features[0].ks_statistic == pytest.approx(exact, abs=1 / 500)


def test_missing_features_fail_and_unprofiled_are_listed():
    prof = build_profile("p", {"x": BASE, "y": BASE}, feature_schema_version="fs-1", n_bins=4)
    rep = compare(prof, {"x": BASE, "z": BASE, "y": [np.nan, np.nan]})
    by = rep.by_feature()
    assert by["y"].status == "fail" and by["y"].psi is None and "no finite value" in by["y"].note
    assert by["x"].status == "ok"
    assert rep.unprofiled == ["z"] and rep.status == "fail"
    assert rep.features[0].feature == "y"  # worst first
    with pytest.raises(DriftError, match="no finite baseline"):
        build_profile("p", {"x": [np.nan]}, feature_schema_version="fs-1")
    with pytest.raises(DriftError, match="fs-2"):
        compare(prof, {"x": BASE}, feature_schema_version="fs-2")


def test_discrete_feature_merges_repeated_cuts():
    base = np.array([0.0] * 70 + [1.0] * 30)
    prof = build_profile("p", {"n": base}, feature_schema_version="fs-1")
    f = prof.features["n"]
    assert len(f.cuts) == len(set(f.cuts)) and sum(f.proportions) == pytest.approx(1.0)
    assert compare(prof, {"n": base}).features[0].psi == pytest.approx(0.0, abs=1e-12)


def test_columns_from_feature_dicts():
    cols = columns_from_records([{"a": 1.0, "b": 2}, {"a": 3.0, "b": "x"}, {"c": True}])
    assert sorted(cols) == ["a", "b", "c"]
    assert cols["a"][:2].tolist() == [1.0, 3.0] and np.isnan(cols["a"][2])
    assert cols["b"][0] == 2.0 and np.isnan(cols["b"][1])
    assert np.isnan(cols["c"]).all()  # booleans are not numeric features


def test_markdown_and_png_render():
    prof = build_profile("market", {"x": BASE, "y": BASE}, feature_schema_version="fs-1", n_bins=4)
    rep = compare(prof, {"x": current_with_counts([10, 20, 30, 40]), "y": BASE}, scope="2024-02")
    md = render_markdown(rep)
    lines = md.splitlines()
    assert lines[0].startswith("**Drift WARN**") and "`2024-02`" in lines[0]
    assert lines[2] == "| feature | PSI | KS | KS p-value | n baseline | n current | status |"
    assert lines[4].startswith("| `x` | 0.2282 |") and lines[4].endswith("| **warn** |")
    assert lines[5].startswith("| `y` | 0.0000 |")
    png = render_png(rep)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000
