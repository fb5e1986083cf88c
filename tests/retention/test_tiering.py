"""Tiering a lake month to cold storage and restoring it: bit-identical files, identical decision replay,
one tenant never touching another's files or rows, on SQLite and PostgreSQL (real AMZN LOBSTER day)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from tiering_home import MONTH, SYMBOL

from thunderline.flow.market_windows import TieredMonthError
from thunderline.lineage import describe
from thunderline.retention import restore_month, tier_month
from thunderline.store.lake import Lake


def lake_files(home, tenant: str) -> dict[str, str]:
    """name → sha256 of every Parquet file of the tenant's partition."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in Lake(home.lake_dir).batch_files(tenant, MONTH, SYMBOL)}


def hashes(home, tenant: str, table: str) -> list[str]:
    with home.warehouse.session(tenant) as s:
        return sorted(r["content_hash"] for r in s.select(table, columns=["content_hash"]))


def decide(home, tenant: str, trained, *, replay: bool = False) -> None:
    """Decide the month's windows; ``replay``: first drop its windows and traces and build the windows again
    from the lake (what a backfill of the month does)."""
    from thunderline.flow.decision_partition import decide_partition
    from thunderline.flow.market_windows import build_window_partition

    state, experts, shadows = trained
    with home.warehouse.session(tenant) as s:
        if replay:
            s.delete("decision_traces")
            s.delete("feature_windows")
            build_window_partition(s, MONTH, SYMBOL)
        decide_partition(s, MONTH, SYMBOL, state, experts, shadows=shadows)


def test_a_month_tiered_and_restored_is_bit_identical_and_replays_the_same_decisions(two_tenants, trained):
    home = two_tenants
    decide(home, "alpha", trained)
    before = {t: lake_files(home, t) for t in ("alpha", "beta")}
    windows, traces = hashes(home, "alpha", "feature_windows"), hashes(home, "alpha", "decision_traces")
    assert len(before["alpha"]) >= 3 and traces

    report = tier_month(home.warehouse, Lake(home.lake_dir), "alpha", MONTH, home.cold_url, actor="test")
    assert report.files == len(before["alpha"]) and report.already_cold == 0
    assert lake_files(home, "alpha") == {}  # hot copies gone
    assert lake_files(home, "beta") == before["beta"]  # the other tenant's files untouched
    manifest = json.loads(Path(home.cold_url, f"tenant=alpha/ticks/month={MONTH}/manifest.json").read_text())
    assert manifest["compression"] == "zstd"
    assert {Path(f["path"]).name: f["sha256"] for f in manifest["files"]} == before["alpha"]
    for f in manifest["files"]:  # each cold file is the lake file's bytes
        cold = Path(home.cold_url, f"tenant=alpha/ticks/month={MONTH}", f["path"])
        assert hashlib.sha256(cold.read_bytes()).hexdigest() == f["sha256"]
    with home.warehouse.session("beta") as s:
        assert s.select("cold_files") == [] and s.select("retention_audit") == []  # and RLS on PostgreSQL
    with home.warehouse.session("alpha") as s:
        assert {r["status"] for r in s.select("cold_files")} == {"cold"}
        assert [r["action"] for r in s.select("retention_audit")] == ["tier"]
        window = s.select("feature_windows", columns=["id"], limit=1)[0]["id"]
        tree = describe(s, window, "up", 1)  # lineage still resolves, and names where the ticks now are
    assert f"cold: {home.cold_url}/tenant=alpha/ticks/month={MONTH}/symbol={SYMBOL}/" in tree
    assert f"thunderline restore {MONTH}" in tree

    with pytest.raises(TieredMonthError, match=f"run `thunderline restore {MONTH}` first"):
        decide(home, "alpha", trained, replay=True)  # rebuilding windows from a tiered month is refused, not empty
    restored = restore_month(home.warehouse, Lake(home.lake_dir), "alpha", MONTH, home.cold_url, actor="test")
    assert restored.files == restored.verified == len(before["alpha"])
    assert lake_files(home, "alpha") == before["alpha"]
    with home.warehouse.session("alpha") as s:
        assert "cold:" not in describe(s, window, "up", 1)
    decide(home, "alpha", trained, replay=True)
    assert hashes(home, "alpha", "feature_windows") == windows
    assert hashes(home, "alpha", "decision_traces") == traces
    again = restore_month(home.warehouse, Lake(home.lake_dir), "alpha", MONTH, home.cold_url)
    assert again.files == 0 and again.already_hot == len(before["alpha"])  # idempotent


def test_a_tenant_cannot_tier_a_file_outside_its_own_partition(two_tenants):
    from thunderline.retention import RetentionError

    home = two_tenants
    beta_file = Lake(home.lake_dir).batch_files("beta", MONTH, SYMBOL)[0]
    with home.warehouse.session("alpha") as s:  # a tampered index row pointing at beta's file
        t = s.table("raw_tick_batches")
        first = s.select("raw_tick_batches", order_by=[t.c.id], limit=1)[0]
        s.execute(t.update().where(t.c.tenant_id == "alpha", t.c.id == first["id"]).values(path=str(beta_file)))
    with pytest.raises(RetentionError, match="not in tenant 'alpha'"):
        tier_month(home.warehouse, Lake(home.lake_dir), "alpha", MONTH, home.cold_url)
    assert beta_file.exists()
