"""Profiles round-trip through JSON and the warehouse, are reused not recomputed, reports replace per scope."""

import numpy as np
import pytest
import sqlalchemy as sa

from thunderline.drift import (
    DriftError,
    DriftProfile,
    build_profile,
    compare,
    ensure_profile,
    load_profile,
    load_report_rows,
    save_profile,
    save_report,
)


def baseline():
    rng = np.random.default_rng(11)
    return {"spread_bps": rng.lognormal(size=3000), "mid_return": rng.normal(scale=1e-4, size=3000),
            "trade_count": rng.poisson(4, size=3000).astype(float)}


def test_profile_json_round_trip_is_exact():
    prof = build_profile("market", baseline(), feature_schema_version="fs-1", n_bins=7, epsilon=1e-5,
                         baseline_scope="2024-01")
    again = DriftProfile.from_json(prof.to_json())
    assert again == prof
    assert again.content_hash == prof.content_hash
    assert len(prof.features["spread_bps"].cuts) == 6


def test_tables_exist_with_tenant_column(warehouse):
    insp = sa.inspect(warehouse.engine)
    for name in ("drift_profiles", "drift_reports"):
        assert name in insp.get_table_names()
        assert "tenant_id" in {c["name"] for c in insp.get_columns(name)}


def test_profile_is_stored_once_and_reused(warehouse):
    calls = []

    def load():
        calls.append(1)
        return baseline()

    with warehouse.session("a") as s:
        p1, created = ensure_profile(s, "market", "fs-1", load, n_bins=5)
        assert created
    with warehouse.session("a") as s:
        p2, created = ensure_profile(s, "market", "fs-1", load, n_bins=5)
        assert not created
    assert calls == [1]  # the baseline was read once
    assert p2 == p1 and p2.n_bins == 5
    with warehouse.session("a") as s:
        assert s.count("drift_profiles") == 1
        assert load_profile(s, "market", "fs-2") is None


def test_rebasing_a_profile_must_be_explicit(warehouse):
    with warehouse.session("a") as s:
        save_profile(s, build_profile("market", baseline(), feature_schema_version="fs-1"))
        save_profile(s, build_profile("market", baseline(), feature_schema_version="fs-1"))  # identical: fine
        other = build_profile("market", {"x": np.arange(10.0)}, feature_schema_version="fs-1")
        with pytest.raises(DriftError, match="replace=True"):
            save_profile(s, other)
        save_profile(s, other, replace=True)
        assert load_profile(s, "market", "fs-1") == other


def test_reports_replace_per_scope_and_stay_with_their_tenant(warehouse):
    rng = np.random.default_rng(5)
    with warehouse.session("a") as s:
        prof, _ = ensure_profile(s, "market", "fs-1", baseline)
        cur = baseline()
        cur["spread_bps"] = rng.lognormal(mean=1.0, size=2000)
        rep = compare(prof, cur, scope="2024-02")
        assert save_report(s, rep) == 3
        assert save_report(s, rep) == 3  # re-run of the same scope replaces
        save_report(s, compare(prof, baseline(), scope="2024-03"))
    with warehouse.session("a") as s:
        rows = load_report_rows(s, "market", "2024-02")
        assert s.count("drift_reports") == 6
    assert [r["feature"] for r in rows] == ["mid_return", "spread_bps", "trade_count"]
    by = {r["feature"]: r for r in rows}
    assert by["spread_bps"]["status"] == "fail" and by["spread_bps"]["psi"] > 0.25
    assert by["mid_return"]["status"] == "ok"
    assert by["spread_bps"]["profile_hash"] == prof.content_hash
    assert len(by["spread_bps"]["detail"]["actual"]) == len(prof.features["spread_bps"].proportions)
    with warehouse.session("b") as s:
        assert s.count("drift_reports") == 0 and s.count("drift_profiles") == 0
        assert load_profile(s, "market", "fs-1") is None
