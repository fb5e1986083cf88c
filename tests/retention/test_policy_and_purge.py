"""Retention horizons from THUNDERLINE_RETENTION, and the explicit, audited purge past them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tiering_home import MONTH, SYMBOL

from thunderline.config import ConfigError, load_settings
from thunderline.retention import DATA_CLASSES, ClassPolicy, parse_policy, tier_month
from thunderline.retention.purge import purge
from thunderline.retention.tiering import months_due
from thunderline.store.lake import Lake


def test_policy_entries_resolve_per_tenant_with_star_as_fallback(tmp_path):
    p = parse_policy("*.raw_ticks.hot=30, *.decisions.keep=forever, acme.raw_ticks.hot=7, acme.raw_ticks.keep=400")
    assert (p.for_tenant("acme", "raw_ticks").hot_days, p.for_tenant("acme", "raw_ticks").keep_days) == (7, 400)
    assert (p.for_tenant("other", "raw_ticks").hot_days, p.for_tenant("other", "raw_ticks").keep_days) == (30, None)
    assert p.for_tenant("other", "features").keep_days is None  # nothing configured: kept forever
    assert parse_policy("").for_tenant("x", "raw_ticks") == ClassPolicy(None, None)  # default: nothing moves
    env = {"THUNDERLINE_HOME": str(tmp_path), "THUNDERLINE_RETENTION": "acme.raw_ticks.hot=30,acme.raw_ticks.keep=3"}
    with pytest.raises(ConfigError, match=r"THUNDERLINE_RETENTION: acme.raw_ticks: keep=3 days is shorter than hot=30"):
        load_settings(env, create_dirs=False)
    with pytest.raises(ConfigError, match=r"THUNDERLINE_RETENTION: 'acme.ticks.hot=3': unknown data class"):
        load_settings({**env, "THUNDERLINE_RETENTION": "acme.ticks.hot=3"}, create_dirs=False)
    s = load_settings({"THUNDERLINE_HOME": str(tmp_path), "THUNDERLINE_COLD_URL": "s3://bucket/cold"},
                      create_dirs=False)
    assert s.cold_url == "s3://bucket/cold"
    assert load_settings({"THUNDERLINE_HOME": str(tmp_path)}, create_dirs=False).cold_url == str(tmp_path / "cold")


def test_months_past_the_hot_horizon_are_due_until_tiered(alpha_lake):
    home = alpha_lake
    assert months_due(home.warehouse, "alpha", 90, dt.date(2012, 8, 1)) == []  # 31 days after the month
    assert months_due(home.warehouse, "alpha", 90, dt.date(2012, 10, 1)) == [MONTH]
    assert months_due(home.warehouse, "beta", 90, dt.date(2012, 10, 1)) == []
    tier_month(home.warehouse, Lake(home.lake_dir), "alpha", MONTH, home.cold_url)
    assert months_due(home.warehouse, "alpha", 90, dt.date(2012, 10, 1)) == []


def test_purge_deletes_only_when_asked_and_audits_it(two_tenants):
    home = two_tenants
    lake = Lake(home.lake_dir)
    tier_month(home.warehouse, lake, "alpha", MONTH, home.cold_url)
    policy = parse_policy("*.raw_ticks.hot=30,*.raw_ticks.keep=365,*.features.keep=365")
    today = dt.date(2014, 1, 1)
    plan = purge(home.warehouse, lake, "alpha", policy, home.cold_url, today=today)
    with home.warehouse.session("alpha") as s:
        windows = s.count("feature_windows")
        cold = s.select("cold_files")
    assert {i.data_class: (i.rows, i.files) for i in plan.items} == {"raw_ticks": (0, len(cold)),
                                                                    "features": (windows, 0)}
    assert all(Path(home.cold_url, r["cold_url"][len(home.cold_url) + 1:]).exists() for r in cold)  # a plan deletes nothing

    done = purge(home.warehouse, lake, "alpha", policy, home.cold_url, today=today, execute=True, actor="test")
    assert done.executed
    assert not any(Path(home.cold_url, r["cold_url"][len(home.cold_url) + 1:]).exists() for r in cold)
    with home.warehouse.session("alpha") as s:
        assert s.count("feature_windows") == 0
        assert {r["status"] for r in s.select("cold_files")} == {"deleted"}
        assert len(s.select("raw_tick_batches")) == len(cold)  # the index stays: lineage resolves to what existed
        audit = {r["data_class"]: r["detail"] for r in s.select("retention_audit") if r["action"] == "purge"}
    assert audit == {"raw_ticks": {"before": "2013-01", "rows": 0, "files": len(cold), "keep_days": 365},
                     "features": {"before": "2013-01", "rows": windows, "files": 0, "keep_days": 365}}
    with home.warehouse.session("beta") as s:  # the other tenant: nothing deleted
        assert s.count("feature_windows") > 0 and lake.batch_files("beta", MONTH, SYMBOL)


_TENANTS = st.sampled_from(["*", "acme", "b-2", "zeta_9"])
_HORIZONS = st.tuples(st.one_of(st.none(), st.integers(0, 5000)), st.one_of(st.none(), st.integers(0, 5000)))


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.tuples(_TENANTS, st.sampled_from(DATA_CLASSES)), _HORIZONS, max_size=8))
def test_policy_text_reads_back_to_the_same_policy(spec):
    parts = []
    for (tenant, klass), (hot, keep) in spec.items():
        if hot is not None and keep is not None:
            keep = max(keep, hot)
        if hot is not None:
            parts.append(f"{tenant}.{klass}.hot={hot}")
        parts.append(f"{tenant}.{klass}.keep={'forever' if keep is None else keep}")
    policy = parse_policy(",".join(parts))
    assert parse_policy(policy.to_text()) == policy
    for tenant in ("acme", "other"):
        for klass in DATA_CLASSES:
            assert parse_policy(policy.to_text()).for_tenant(tenant, klass) == policy.for_tenant(tenant, klass)


def test_thunderline_config_prints_the_policy_as_the_text_one_writes(tmp_path, monkeypatch, capsys):
    from thunderline_cli.main import main

    monkeypatch.setenv("THUNDERLINE_HOME", str(tmp_path))
    monkeypatch.setenv("THUNDERLINE_RETENTION", " acme.raw_ticks.keep=400, *.raw_ticks.hot=90,acme.raw_ticks.hot=7,"
                                               "*.decisions.keep=forever")
    assert main(["config"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("retention "))
    text = line.split(None, 1)[1]
    assert text == "*.decisions.keep=forever,*.raw_ticks.hot=90,acme.raw_ticks.hot=7,acme.raw_ticks.keep=400"
    assert parse_policy(text) == load_settings(create_dirs=False).retention
    monkeypatch.delenv("THUNDERLINE_RETENTION")
    assert main(["config"]) == 0
    assert "retention              (unset: nothing tiered, nothing deleted)" in capsys.readouterr().out
