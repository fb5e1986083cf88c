"""Partitions at desk scale: 2,000 symbols × 24 months on a PostgreSQL Dagster instance, and the bucketed design
for beyond (docs/scaling.md, "Partitions that scale"). Dagster advises at most 100 k partitions per asset."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import dagster as dg
from hypothesis import given
from hypothesis import strategies as st

from thunderline.partitioning import bucket_label, symbol_bucket

REPO = Path(__file__).resolve().parents[2]
DAGSTER_LIMIT = 100_000
SYMBOLS = [f"S{i:04d}" for i in range(2_000)]


def test_two_thousand_symbols_by_24_months_on_postgres(pg_database, tmp_path, monkeypatch):
    """The month × symbol scheme at 2,000 × 24 = 48 k partitions per asset: the dynamic symbols live in the
    instance, every key enumerates, and a month backfill over all 2,000 symbols is accepted as one record."""
    from jobs.keys import MARKET_JOB
    from thunderline_assets.definitions import build_definitions
    from thunderline_cli.dagster_runs import submit_backfill

    home = tmp_path / "dg"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_PG_URL", pg_database[0])
    months = dg.MonthlyPartitionsDefinition(start_date="2024-01-01", end_date="2026-01-01")
    grid = dg.MultiPartitionsDefinition({"month": months, "symbol": dg.DynamicPartitionsDefinition(name="symbols")})
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions("symbols", SYMBOLS)
        keys = grid.get_partition_keys(dynamic_partitions_store=instance)
        assert len(keys) == 24 * 2_000 == 48_000 < DAGSTER_LIMIT
        assert keys[0].keys_by_dimension == {"month": "2024-01-01", "symbol": "S0000"}
        jan = [dg.MultiPartitionKey({"month": "2024-01-01", "symbol": s}) for s in SYMBOLS]
        backfill_id = submit_backfill(build_definitions(), instance, MARKET_JOB, jan, tags={}, title="2,000 symbols")
        record = instance.get_backfill(backfill_id)
        target = record.asset_backfill_data.target_subset
        assert target.num_partitions_and_non_partitioned_assets == 3 * 2_000  # raw ticks, windows, decisions


def test_buckets_keep_any_desk_under_the_limit():
    """10 years × 1,000 symbols is 120 k month × symbol partitions (over the advice); with 64 symbol buckets as
    the second dimension it is 7,680 whatever the number of symbols, and 2,000 symbols spread evenly."""
    assert 120 * 1_000 > DAGSTER_LIMIT and 120 * 64 < DAGSTER_LIMIT
    sizes = Counter(symbol_bucket(s, 64) for s in SYMBOLS)
    assert len(sizes) == 64 and min(sizes.values()) >= 15 and max(sizes.values()) <= 50  # mean 31.25
    buckets = dg.StaticPartitionsDefinition([bucket_label(b, 64) for b in range(64)])
    grid = dg.MultiPartitionsDefinition({"month": dg.MonthlyPartitionsDefinition(start_date="2024-01-01",
                                                                                  end_date="2026-01-01"),
                                         "bucket": buckets})
    assert len(grid.get_partition_keys()) == 24 * 64


@given(st.text(min_size=1, max_size=12), st.integers(1, 4096))
def test_a_symbols_bucket_is_in_range_and_labels_sort_as_numbers(symbol, buckets):
    assert 0 <= symbol_bucket(symbol, buckets) < buckets
    labels = [bucket_label(i, buckets) for i in range(buckets)]
    assert sorted(labels) == labels and len(set(map(len, labels))) == 1


def test_a_symbols_bucket_is_fixed_by_its_bytes():
    """Pinned values: a change of hash would move every symbol's rows to another partition."""
    assert [symbol_bucket(s, 64) for s in ("AAPL", "MSFT", "AMZN")] == [43, 33, 16]
