"""drift_reports against a real Dagster instance, on SQLite and PostgreSQL warehouses.

The windows are generated with fixed seeds so the verdicts are known: in February ``spread``
moves far (PSI ≈ 3.7, fail), ``volume`` moves by 0.35 sd (PSI ≈ 0.14, warn) and ``mid_return``
stays put (PSI ≈ 0.03, ok). March moves only ``volume``, so its check warns instead of erroring.
"""

import base64
import re

import dagster as dg
import numpy as np
import pytest

from jobs.metadata import table_rows
from resources import WarehouseResource
from thunderline.contracts import FEATURE_SCHEMA_VERSION as FSV
from thunderline.drift import load_profile, monthly
from thunderline.drift.monthly import DriftPolicy, DriftSource, month_columns
from thunderline.edgar.features import RECIPE_VERSION as EDGAR_RECIPE
from thunderline.market.features import FULL_RECIPE
from thunderline.partitioning import month_bounds_us
from thunderline.telemetry import read_events
from thunderline_assets.definitions import build_definitions
from thunderline_assets.observability import CHECK_NAME

N = 600
TENANT = "default"
MARKET = DriftSource("market", FULL_RECIPE.recipe_version, "window_start")
PROFILE = MARKET.profile_name
DAY_US = 86_400_000_000
drift_reports = build_definitions(resources={}).get_assets_def("drift_reports")  # as the code location makes it


def market_features(month: str, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    spread_mu, volume_mu = {"2024-01": (0.0, 100.0), "2024-02": (1.0, 103.5), "2024-03": (0.0, 103.5)}[month]
    cols = {"spread": rng.lognormal(spread_mu, 0.5, N), "volume": rng.normal(volume_mu, 10, N),
            "mid_return": rng.normal(0, 1e-4, N)}
    return [{k: float(v[i]) for k, v in cols.items()} for i in range(N)]


def rows(month: str, features: list[dict], *, kind: str = "market", recipe: str = MARKET.recipe_version,
         fsv: str = FSV, tag: str = "") -> list[dict]:
    """feature_windows rows; EDGAR windows start a quarter before their month (acceptance is what counts)."""
    lo, _ = month_bounds_us(month)
    out = []
    for i, f in enumerate(features):
        t = lo + (i + 1) * 60_000_000
        start = t - 90 * DAY_US if kind == "edgar" else t
        out.append(dict(id=f"{kind}-{month}-{tag}{i}", kind=kind, key="AAA" if kind == "market" else "320193",
                        window_start=start, window_end=t, available_at=t, feature_schema_version=fsv,
                        recipe_version=recipe, status="filled", features=f, provenance={},
                        content_hash=f"h-{kind}-{month}-{tag}{i}"))
    return out


def seed(warehouse, *months_, tenant: str = TENANT) -> None:
    with warehouse.session(tenant) as s:
        for m in months_:
            s.upsert("feature_windows", rows(m, market_features(m, seed=int(m[-2:]))))


def materialize(warehouse, instance, month: str, **config):
    result = dg.materialize([drift_reports], partition_key=f"{month}-01", instance=instance,
                            resources={"warehouse": WarehouseResource(url=warehouse.url, tenant_id=TENANT)},
                            run_config={"ops": {"drift_reports": {"config": config}}})
    assert result.success
    meta = result.asset_materializations_for_node("drift_reports")[0].metadata
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == CHECK_NAME
    return meta, check


def stored_rows(warehouse, month: str) -> dict[str, dict]:
    with warehouse.session(TENANT) as s:
        t = s.table("drift_reports")
        return {r["feature"]: r for r in s.select("drift_reports", t.c.scope == month)}


def test_first_month_is_the_baseline_and_later_months_are_measured_against_it(warehouse):
    seed(warehouse, "2024-01", "2024-02")
    with dg.instance_for_test() as instance:
        meta, check = materialize(warehouse, instance, "2024-01")
        assert check.passed  # the baseline month against itself
        assert meta["baseline/market"].value == "2024-01"
        assert meta["windows/market"].value == N
        assert "baseline built and stored by this run" in meta["report"].value
        with warehouse.session(TENANT) as s:
            profile = load_profile(s, PROFILE, FSV)
        assert profile.baseline_scope == "2024-01" and sorted(profile.features) == ["mid_return", "spread", "volume"]

        meta, check = materialize(warehouse, instance, "2024-02")
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert meta["baseline/market"].value == "2024-01"
    assert meta["profile_hash/market"].value == profile.content_hash
    got = stored_rows(warehouse, "2024-02")
    assert {k: r["status"] for k, r in got.items()} == {"spread": "fail", "volume": "warn", "mid_return": "ok"}
    assert got["spread"]["psi"] > 1.0 and 0.1 < got["volume"]["psi"] <= 0.25 and got["mid_return"]["psi"] <= 0.1
    assert all(r["n_current"] == N and r["n_baseline"] == N and r["ks_statistic"] is not None for r in got.values())
    assert meta["max_psi"].value == pytest.approx(got["spread"]["psi"], rel=1e-5)
    assert meta["worst_feature"].value == "market.spread"
    assert (meta["features_ok"].value, meta["features_warn"].value, meta["features_fail"].value) == (1, 1, 1)
    assert meta["dagster/row_count"].value == 3
    assert check.metadata["max_psi"].value == pytest.approx(got["spread"]["psi"], rel=1e-5)  # 6 significant digits
    assert [x["feature"] for x in table_rows(check.metadata["features_over_threshold"])] == ["spread", "volume"]
    assert check.partition == "2024-02-01"  # the check result belongs to the month it judged

    # what a person reads: the table, worst first, and the plot inlined as a PNG
    md = meta["report"].value
    table = [line for line in md.splitlines() if line.startswith("| `")]
    assert [re.match(r"\| `(\w+)`", line).group(1) for line in table] == ["spread", "volume", "mid_return"]
    png = base64.b64decode(re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)\)", md).group(1))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"

    # one drift.feature.psi event per feature of the month
    with warehouse.session(TENANT) as s:
        events = [e for e in read_events(s, names=["drift.feature.psi"]) if e.tags["month"] == "2024-02"]
    assert {e.tags["feature"]: round(e.value, 12) for e in events} == {k: round(r["psi"], 12) for k, r in got.items()}
    assert {(e.tags["kind"], e.tags["baseline"]) for e in events} == {("market", "2024-01")}


def test_the_stored_baseline_is_reused_never_recomputed(warehouse, monkeypatch):
    seed(warehouse, "2024-01", "2024-02")
    with dg.instance_for_test() as instance:
        materialize(warehouse, instance, "2024-01")
        with warehouse.session(TENANT) as s:
            before = load_profile(s, PROFILE, FSV)
            # January grows (late data): the baseline must not follow it
            s.upsert("feature_windows", rows("2024-01", market_features("2024-02", seed=9), tag="late"))
        built = []
        real_build = monthly.build_profile
        monkeypatch.setattr(monthly, "build_profile", lambda *a, **k: built.append(1) or real_build(*a, **k))
        meta, _ = materialize(warehouse, instance, "2024-01")
        meta_other, _ = materialize(warehouse, instance, "2024-02", baseline_month="2024-02")  # no rebase: ignored
    assert built == []
    with warehouse.session(TENANT) as s:
        assert load_profile(s, PROFILE, FSV) == before
        assert s.count("drift_profiles") == 1
    assert meta["windows/market"].value == 2 * N
    assert meta["profile_hash/market"].value == before.content_hash
    assert meta_other["baseline/market"].value == "2024-01"
    assert len(stored_rows(warehouse, "2024-01")) == 3  # re-running a month replaces its rows


def test_configured_baseline_month_and_explicit_rebase(warehouse):
    seed(warehouse, "2024-01", "2024-02")
    with dg.instance_for_test() as instance:
        meta, check = materialize(warehouse, instance, "2024-02", baseline_month="2024-01")
        assert meta["baseline/market"].value == "2024-01"
        assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
        meta, check = materialize(warehouse, instance, "2024-02", baseline_month="2024-02", rebase=True)
    assert meta["baseline/market"].value == "2024-02"
    assert check.passed
    with warehouse.session(TENANT) as s:
        assert load_profile(s, PROFILE, FSV).baseline_scope == "2024-02"
        assert s.count("drift_profiles") == 1


def test_a_moderate_shift_warns_without_erroring(warehouse):
    seed(warehouse, "2024-01", "2024-03")
    with dg.instance_for_test() as instance:
        materialize(warehouse, instance, "2024-01")
        meta, check = materialize(warehouse, instance, "2024-03")
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert meta["status"].value == "warn"
    assert "market.volume" in check.description


def test_edgar_windows_count_by_acceptance_month_and_too_few_are_skipped_with_the_reason(warehouse):
    rng = np.random.default_rng(3)
    with warehouse.session(TENANT) as s:
        for month, n in (("2024-01", 40), ("2024-02", 5)):
            feats = [{"eps_diluted": float(x), "n_items": 3.0} for x in rng.normal(2, 1, n)]
            s.upsert("feature_windows", rows(month, feats, kind="edgar", recipe=EDGAR_RECIPE))
    with dg.instance_for_test() as instance:
        meta, check = materialize(warehouse, instance, "2024-01")
        assert meta["windows/edgar"].value == 40  # window_start is in October; acceptance is January
        assert meta["baseline/edgar"].value == "2024-01"
        assert meta["baseline/market"].value.startswith("none: no market windows in 2024-01")
        assert check.passed
        meta, check = materialize(warehouse, instance, "2024-02")
    assert meta["windows/edgar"].value == 5
    assert "Not measured: 5 edgar windows in 2024-02 (fewer than min_windows=30)" in meta["report"].value
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.description.startswith("nothing measured")
    assert stored_rows(warehouse, "2024-02") == {}


def test_a_baseline_month_without_enough_windows_stores_no_profile(warehouse):
    seed(warehouse, "2024-02")
    with dg.instance_for_test() as instance:
        meta, check = materialize(warehouse, instance, "2024-02", baseline_month="2024-01")
    assert "baseline month 2024-01 has 0 market windows" in meta["baseline/market"].value
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    with warehouse.session(TENANT) as s:
        assert s.count("drift_profiles") == 0


def test_month_columns_streams_only_the_sources_windows(warehouse):
    jan = market_features("2024-01", seed=1)
    for i in range(0, N, 50):
        jan[i]["volume"] = None  # NaN is stored as null; it is not a value
    with warehouse.session(TENANT) as s:
        s.upsert("feature_windows", rows("2024-01", jan))
        s.upsert("feature_windows", rows("2024-01", jan[:30], recipe="market.coarse.v1", tag="c"))
        s.upsert("feature_windows", rows("2024-01", jan[:30], fsv="fs-0", tag="old"))
        s.upsert("feature_windows", rows("2024-02", jan[:30]))
        s.upsert("feature_windows", rows("2023-12", jan[:30], kind="edgar", recipe=MARKET.recipe_version))
    with warehouse.session("other") as s:
        s.upsert("feature_windows", rows("2024-01", jan[:30], tag="other"))
    with warehouse.session(TENANT) as s:
        small, n_small = month_columns(s, MARKET, "2024-01", feature_schema_version=FSV, batch_rows=7)
        big, n_big = month_columns(s, MARKET, "2024-01", feature_schema_version=FSV, batch_rows=100_000)
    assert n_small == n_big == N
    assert sorted(small) == sorted(big) == ["mid_return", "spread", "volume"]
    for k in big:
        assert np.array_equal(np.sort(small[k]), np.sort(big[k]))
    assert small["volume"].size == N - N // 50
    assert np.array_equal(np.sort(big["spread"]), np.sort([r["spread"] for r in jan]))


def test_two_runs_racing_for_the_first_baseline_keep_the_one_stored_first(warehouse, monkeypatch):
    """A partition that finds no profile, builds one, and loses the race uses the stored one."""
    seed(warehouse, "2024-01", "2024-02")
    with dg.instance_for_test() as instance:
        materialize(warehouse, instance, "2024-01")  # the winner: January's baseline is stored
        real_load = monthly.load_profile
        calls = []

        def load_late(session, name, fsv):
            calls.append(name)
            return None if len(calls) == 1 else real_load(session, name, fsv)  # the loser looked too early

        monkeypatch.setattr(monthly, "load_profile", load_late)
        meta, check = materialize(warehouse, instance, "2024-02")
    assert meta["baseline/market"].value == "2024-01"
    assert "baseline built" not in meta["report"].value
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    with warehouse.session(TENANT) as s:
        assert real_load(s, PROFILE, FSV).baseline_scope == "2024-01"


def test_drift_config_defaults_pick_the_current_recipes():
    src = monthly.sources(DriftPolicy())
    assert [(s.kind, s.recipe_version, s.time_column) for s in src] == [
        ("market", FULL_RECIPE.recipe_version, "window_start"), ("edgar", EDGAR_RECIPE, "available_at")]


@pytest.mark.parametrize("config, message", [
    (DriftPolicy(baseline_month="2024-1"), "baseline_month='2024-1': expected YYYY-MM"),
    (DriftPolicy(batch_rows=0), "must be at least 1"),
])
def test_bad_config_is_refused_naming_the_setting(config, message):
    with pytest.raises(monthly.DriftError, match=re.escape(message)):
        monthly.measure_month(None, TENANT, "2024-01", config)
