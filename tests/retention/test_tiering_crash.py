"""A crash mid-tiering loses nothing and a re-run completes: the process is SIGKILLed at each of
tiering's fault points (mid-copy of the 2nd file / after its copy / its cold record / its hot copy's
removal), every file is then in the lake or in cold storage (sha256 as ingest recorded it), and tiering
again finishes the month, removing the temporary a kill mid-copy left (and saying so); the restore is
bit-identical. SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal
from pathlib import Path

import pytest
from tiering_home import MONTH, SYMBOL

from thunderline.faults import TIERING_POINTS
from thunderline.retention import restore_month, tier_month
from thunderline.store.lake import Lake


def _tier_child(url: str, lake_dir: str, cold_url: str, fault: str) -> None:
    os.environ["THUNDERLINE_FAULT"] = fault
    from thunderline.store import Warehouse

    tier_month(Warehouse(url), Lake(lake_dir), "alpha", MONTH, cold_url, actor="test:crash")
    os._exit(0)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def temps(root: Path) -> list[Path]:
    """The hidden temporaries (``.<name>…tmp``) under ``root``."""
    return sorted(p for p in root.rglob(".*.tmp") if p.is_file())


@pytest.mark.parametrize("point", TIERING_POINTS)
def test_a_crash_between_files_loses_nothing_and_a_rerun_completes(alpha_lake, point):
    home = alpha_lake
    lake = Lake(home.lake_dir)
    with home.warehouse.session("alpha") as s:
        batches = s.select("raw_tick_batches")
    before = {Path(b["path"]).name: b["sha256"] for b in batches}
    assert all(_sha(Path(b["path"])) == b["sha256"] for b in batches) and len(batches) >= 3
    home.warehouse.dispose()  # no connection shared with the forked child
    child = multiprocessing.get_context("fork").Process(
        target=_tier_child, args=(home.warehouse.url, str(home.lake_dir), home.cold_url, f"kill:{point}@2"))
    child.start()
    child.join(300)
    assert child.exitcode == -signal.SIGKILL

    cold_dir = Path(home.cold_url, f"tenant=alpha/ticks/month={MONTH}/symbol={SYMBOL}")
    for name, sha in before.items():  # each file whole in the lake, in cold storage, or both
        copies = [p for p in (lake.partition_dir("alpha", MONTH, SYMBOL) / name, cold_dir / name) if p.exists()]
        assert copies and all(_sha(p) == sha for p in copies), name
    with home.warehouse.session("alpha") as s:
        assert len(s.select("cold_files")) == (1 if point in ("retention.copying", "retention.copied") else 2)
    left = temps(cold_dir)
    assert len(left) == (1 if point == "retention.copying" else 0), left

    report = tier_month(home.warehouse, lake, "alpha", MONTH, home.cold_url, actor="test:rerun")
    assert report.files + report.already_cold == len(before)
    assert report.stale_temps_removed == len(left) and temps(Path(home.cold_url)) == []
    assert lake.batch_files("alpha", MONTH, SYMBOL) == []
    with home.warehouse.session("alpha") as s:
        assert sorted(r["sha256"] for r in s.select("cold_files") if r["status"] == "cold") == sorted(before.values())
    restore_month(home.warehouse, lake, "alpha", MONTH, home.cold_url)
    assert {p.name: _sha(p) for p in lake.batch_files("alpha", MONTH, SYMBOL)} == before


def test_an_object_store_url_goes_through_fsspec_and_restores_bit_identical(alpha_lake):
    """``memory://`` is no pyarrow filesystem: the cold store opens it through fsspec (as it would gcs/az/…)."""
    import fsspec

    home = alpha_lake
    lake = Lake(home.lake_dir)
    before = {p.name: _sha(p) for p in lake.batch_files("alpha", MONTH, SYMBOL)}
    url = f"memory://cold-{os.getpid()}-{home.warehouse.url.rsplit('/', 1)[-1]}"
    report = tier_month(home.warehouse, lake, "alpha", MONTH, url)
    assert report.files == len(before) and lake.batch_files("alpha", MONTH, SYMBOL) == []
    mem = fsspec.filesystem("memory")
    listed = mem.find(url.removeprefix("memory://"))
    assert sorted(p.rsplit("/", 1)[-1] for p in listed) == sorted([*before, "manifest.json"])
    restore_month(home.warehouse, lake, "alpha", MONTH, url)
    assert {p.name: _sha(p) for p in lake.batch_files("alpha", MONTH, SYMBOL)} == before
    mem.rm(url.removeprefix("memory://"), recursive=True)
