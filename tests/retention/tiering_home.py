"""The retention tests' shared home: two tenants holding the real AMZN LOBSTER day in the same month
(a module of its own, not conftest, so test modules can import it unambiguously)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

DAY = "AMZN_2012-06-21_34200000_57600000_{}_1.csv"
MONTH, SYMBOL = "2012-06", "AMZN"
TENANTS = ("alpha", "beta")
CHUNK_ROWS = 16_384  # several lake files per partition, so a crash can land between two of them


@dataclass
class Home:
    root: Path
    lake_dir: Path
    cold_url: str
    warehouse: object


def ingest_day(warehouse, datasets: Path, tmp_path: Path, tenants: tuple[str, ...], *, windows: bool) -> Home:
    """Each tenant ingests the AMZN day (2012-06) into lake files (and, with ``windows``, market windows)."""
    from thunderline.flow.landing import candidate_files, index_files
    from thunderline.flow.market_windows import build_window_partition
    from thunderline.flow.tick_files import classify_tick_file
    from thunderline.flow.tick_ingest import ingest_tick_partition
    from thunderline.store.lake import Lake

    lobster = datasets / "market" / "lobster"
    if not (lobster / DAY.format("message")).exists():
        pytest.skip(f"shared market datasets not found at {lobster}")
    lake = Lake(tmp_path / "lake")
    for tenant in tenants:
        landing = tmp_path / f"landing_{tenant}"
        landing.mkdir()
        for kind in ("message", "orderbook"):  # the real files, linked into the test's tmp dir, never copied in
            (landing / DAY.format(kind)).symlink_to(lobster / DAY.format(kind))
        with warehouse.session(tenant) as s:
            index_files(s, "ticks", candidate_files(landing), classify_tick_file)
            ingest_tick_partition(s, lake, MONTH, SYMBOL, chunk_rows=CHUNK_ROWS, run_expectations=False)
            if windows:
                build_window_partition(s, MONTH, SYMBOL)
    return Home(tmp_path, tmp_path / "lake", str(tmp_path / "cold"), warehouse)
