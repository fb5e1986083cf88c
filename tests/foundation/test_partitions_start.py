"""Monthly partitions begin at THUNDERLINE_FIRST_MONTH, else at the first month with data, else this month; they end
at THUNDERLINE_LAST_MONTH, else at the current month when the data is recent, else at the last month with data."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from thunderline.config import ConfigError, load_settings
from thunderline.flow.data_months import (
    indexed_months,
    lake_months,
    months_with_data,
    partitions_end,
    partitions_span,
    partitions_start,
)
from thunderline.flow.landing import Classification, index_files
from thunderline.store import Warehouse

REPO = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path, warehouse_url: str, **extra: str) -> dict[str, str]:
    return {"THUNDERLINE_HOME": str(tmp_path / "home"), "THUNDERLINE_WAREHOUSE_URL": warehouse_url, **extra}


def test_explicit_month_wins_and_is_validated(tmp_path):
    s = load_settings(_env(tmp_path, f"sqlite:///{tmp_path / 'w.db'}", THUNDERLINE_FIRST_MONTH="2024-11"),
                      create_dirs=False)
    assert partitions_start(s, months_with_data=lambda _: {"2019-01"}) == "2024-11-01"
    for bad in ("2024-13", "24-01", "2024-1", "2024-01-01"):
        with pytest.raises(ConfigError, match="THUNDERLINE_FIRST_MONTH"):
            load_settings(_env(tmp_path, f"sqlite:///{tmp_path / 'w.db'}", THUNDERLINE_FIRST_MONTH=bad),
                          create_dirs=False)


def test_no_data_means_the_current_month(tmp_path):
    s = load_settings(_env(tmp_path, f"sqlite:///{tmp_path / 'w.db'}"), create_dirs=False)
    assert partitions_start(s, today=dt.date(2026, 12, 3)) == "2026-12-01"
    assert months_with_data(s) == set()  # no warehouse file yet: nothing, and no file created
    assert not (tmp_path / "w.db").exists()


def test_first_month_with_data_from_lake_and_landing_index(tmp_path, warehouse_url):
    s = load_settings(_env(tmp_path, warehouse_url), create_dirs=True)
    (s.lake_dir / "tenant=other" / "ticks" / "month=2025-05" / "symbol=X").mkdir(parents=True)
    (s.lake_dir / "tenant=default" / "ticks" / "junk").mkdir(parents=True)
    assert lake_months(s.lake_dir) == {"2025-05"}
    wh = Warehouse(s.warehouse_url)
    wh.init_schema()
    f = s.edgar_landing / "filing.txt"
    f.write_text("x")
    with wh.session(s.tenant_id) as sess:
        index_files(sess, "edgar", [f], lambda p: Classification("sgml", ["2024-02"]))
    wh.dispose()
    assert months_with_data(s) == {"2024-02", "2025-05"}
    assert partitions_start(s) == "2024-02-01"
    assert indexed_months(["2023-09|AAPL", "2023-10", "garbage"]) == {"2023-09", "2023-10"}


TODAY = dt.date(2026, 12, 3)


def test_the_end_follows_the_data(tmp_path):
    s = load_settings(_env(tmp_path, f"sqlite:///{tmp_path / 'w.db'}"), create_dirs=False)
    # a historical dataset ends with its data (no trailing empty months up to today)
    assert partitions_span(s, lambda _: {"2024-02", "2025-03", "2025-05"}, TODAY) == ("2024-02-01", "2025-05-01")
    # recent data (this month or the last): the current month is a partition, live data has a home
    for recent in ("2026-11", "2026-12"):
        assert partitions_end(s, lambda _: {"2025-03", recent}, TODAY) == "2026-12-01"
    assert partitions_end(s, lambda _: set(), TODAY) == "2026-12-01"
    jan = dt.date(2027, 1, 5)  # across a year end, December is the previous month
    assert partitions_end(s, lambda _: {"2026-12"}, jan) == "2027-01-01"
    assert partitions_end(s, lambda _: {"2026-11"}, jan) == "2026-11-01"
    for value, end in (("2025-08", "2025-08-01"), ("current", "2026-12-01"), ("2023-01", "2025-03-01")):
        pinned = load_settings(_env(tmp_path, f"sqlite:///{tmp_path / 'w.db'}", THUNDERLINE_LAST_MONTH=value),
                               create_dirs=False)
        assert partitions_end(pinned, lambda _: {"2025-03"}, TODAY) == end  # never before the first
    with pytest.raises(ConfigError, match="THUNDERLINE_LAST_MONTH"):
        load_settings(_env(tmp_path, f"sqlite:///{tmp_path / 'w.db'}", THUNDERLINE_LAST_MONTH="latest"),
                      create_dirs=False)


def test_definitions_use_it(tmp_path):
    """Settings without THUNDERLINE_FIRST_MONTH / _LAST_MONTH: the definitions' partitions span the lake's months
    (a historical month: no partition after it), built in this process whatever it built before."""
    from thunderline_assets.definitions import build_definitions

    home = tmp_path / "home"
    (home / "lake" / "tenant=default" / "ticks" / "month=2025-03" / "symbol=X").mkdir(parents=True)
    settings = load_settings({"THUNDERLINE_HOME": str(home), "THUNDERLINE_WAREHOUSE_URL": f"sqlite:///{home / 'w.db'}"},
                             create_dirs=False)
    defs = build_definitions(settings, resources={})
    assert defs.get_assets_def("drift_reports").partitions_def.get_partition_keys() == ["2025-03-01"]
    assert defs.get_assets_def("training_slices").partitions_def.get_partition_keys() == ["2025-03-01"]


def test_months_without_data_are_no_partitions(tmp_path):
    """A data-derived span with a hole (2024-02, then 2025-03/04): the months in between are no partitions
    (Dagster exclusions), for months and complete_months alike, so the UI shows the months with data; the
    current month stays a partition; a pinned first month keeps every month of its span."""
    from thunderline.flow.data_months import partitions_layout

    s = load_settings(_env(tmp_path, f"sqlite:///{tmp_path / 'w.db'}"), create_dirs=False)
    data = {"2024-02", "2025-03", "2025-04"}
    first, last, gaps = partitions_layout(s, lambda _: data, TODAY)
    assert (first, last) == ("2024-02-01", "2025-04-01") and len(gaps) == 12
    assert "2024-03-01" in gaps and "2025-02-01" in gaps and not {"2024-02-01", "2025-03-01"} & set(gaps)
    assert partitions_layout(s, lambda _: {"2026-09", "2026-11"}, dt.date(2026, 12, 3))[2] == ["2026-10-01"]
    pinned = load_settings(_env(tmp_path, f"sqlite:///{tmp_path / 'w.db'}", THUNDERLINE_FIRST_MONTH="2024-02"),
                           create_dirs=False)
    assert partitions_layout(pinned, lambda _: data, TODAY)[2] == []
    from jobs.keys import build_partitions

    home = tmp_path / "home"
    for m in sorted(data):
        (home / "lake" / "tenant=default" / "ticks" / f"month={m}" / "symbol=X").mkdir(parents=True)
    parts = build_partitions(load_settings({"THUNDERLINE_HOME": str(home),
                                            "THUNDERLINE_WAREHOUSE_URL": f"sqlite:///{home / 'w.db'}"},
                                           create_dirs=False))
    want = ["2024-02-01", "2025-03-01", "2025-04-01"]
    assert parts.months.get_partition_keys() == want and parts.complete_months.get_partition_keys() == want
    assert not parts.months.has_partition_key("2024-03-01")
    assert not parts.month_symbol.has_partition_key("2024-03-01|X")


def test_first_ingest_of_a_fresh_home_starts_at_its_landing_data(tmp_path):
    """`thunderline ingest` on a fresh home (no lake, no index) with ticks of 2025-03: the first monthly
    partition is 2025-03, not this month. The definitions' months come from the data, so ingest must build
    them only after indexing the landing area (a fresh `make demo` failed on this)."""
    from thunderline.market import write_canonical_parquet
    from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks

    home = tmp_path / "home"
    (home / "landing" / "ticks").mkdir(parents=True)
    spec = SyntheticSpec(n_ticks=400, seed=3, symbol="FRSH", venue="DEMO", start_us=1_741_600_000_000_000,
                         start_price_ticks=10_000)
    write_canonical_parquet(synthetic_ticks(spec, "default"), home / "landing" / "ticks" / "frsh.parquet")
    env = {k: v for k, v in os.environ.items() if k != "THUNDERLINE_FIRST_MONTH"}
    env.update(THUNDERLINE_HOME=str(home), THUNDERLINE_WAREHOUSE_URL=f"sqlite:///{home / 'w.db'}")
    out = subprocess.run([sys.executable, "-m", "thunderline_cli.main", "ingest"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "THUNDERLINE_FIRST_MONTH" not in out.stdout + out.stderr
    assert lake_months(home / "lake") == {"2025-03"}
