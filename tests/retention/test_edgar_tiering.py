"""Raw EDGAR months to cold storage and back: the real Worlds Inc. 10-K filings (three years) ingested for
tenants alpha and beta; alpha's month of one filing is tiered (zstd Parquet, manifest, sha256, cold_files,
retention_audit; rows gone from the warehouse only after the copy is verified), beta's untouched; restore
brings the same ids and content hashes back and the EDGAR windows recomputed from them hash identically; a
SIGKILL at each tiering fault point loses nothing and a re-run completes. SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import multiprocessing
import os
import signal
from pathlib import Path

import pytest

from thunderline.faults import EDGAR_TIERING_POINTS
from thunderline.flow.edgar_partition import (
    build_edgar_window_partition,
    ingest_filing_partition,
    landing_classifier,
    row_doc,
    submissions_first,
)
from thunderline.flow.landing import candidate_files, index_files
from thunderline.retention.edgar import restore_edgar_month, tier_edgar_month
from thunderline.retention.tiering import edgar_months_due

DOCS = ("0001264931-16-000339.txt", "0001264931-17-000036.txt", "0001264931-18-000031.txt")


def _ingest(warehouse, datasets: Path, tmp_path: Path) -> list[str]:
    landing = tmp_path / "landing"
    landing.mkdir()
    for name in DOCS:
        src = datasets / "edgar" / "worlds_inc" / name
        if not src.exists():
            pytest.skip(f"shared EDGAR datasets not found at {src.parent}")
        (landing / name).symlink_to(src)
    months: set[str] = set()
    for tenant in ("alpha", "beta"):
        with warehouse.session(tenant) as s:
            landed = index_files(s, "edgar", submissions_first(candidate_files(landing)), landing_classifier(s))
            months |= {p for f in landed for p in f.partitions}
            for month in sorted(months):
                ingest_filing_partition(s, month)
            for month in sorted(months):
                build_edgar_window_partition(s, month)
    return sorted(months)


def _state(warehouse, tenant: str) -> tuple[dict, dict]:
    """(doc id -> content_hash, EDGAR window id -> content hash) of the tenant."""
    with warehouse.session(tenant) as s:
        docs = {r["id"]: r["content_hash"] for r in s.select("raw_edgar_docs")}
        fw = s.table("feature_windows")
        windows = {r["id"]: r for r in s.select("feature_windows", fw.c.kind == "edgar")}
    return docs, {k: hashlib.sha256(json.dumps(v, sort_keys=True, default=str).encode()).hexdigest()
                  for k, v in ((i, {c: w[c] for c in w if c not in ("inserted_at", "updated_at")})
                               for i, w in windows.items())}


@pytest.fixture
def edgar_home(warehouse, datasets, tmp_path):
    months = _ingest(warehouse, datasets, tmp_path)
    with warehouse.session("alpha") as s:
        tenk = next(r for r in s.select("raw_edgar_docs") if r["form"] == "10-K")
    return warehouse, months, tenk["month"], str(tmp_path / "cold")


def test_a_tiered_edgar_month_restores_with_the_same_ids_hashes_and_windows(edgar_home):
    warehouse, months, month, cold_url = edgar_home
    alpha_before, beta_before = _state(warehouse, "alpha"), _state(warehouse, "beta")
    assert alpha_before[1] and len(alpha_before[0]) == len(beta_before[0]) >= 3  # windows to compare
    with warehouse.session("alpha") as s:
        in_month = [r for r in s.select("raw_edgar_docs") if r["month"] == month]
    assert in_month and any(r["xbrl_hash"] for r in in_month)

    assert month in edgar_months_due(warehouse, "alpha", 90, dt.date(2030, 1, 1))
    r = tier_edgar_month(warehouse, "alpha", month, cold_url, actor="test")
    assert r.rows == len(in_month) and r.bytes > 0
    cold_file = Path(cold_url, f"tenant=alpha/edgar/month={month}/raw_edgar_docs-{r.tier_batch[:16]}.parquet")
    import pyarrow.parquet as pq

    assert pq.ParquetFile(cold_file).metadata.row_group(0).column(0).compression == "ZSTD"
    manifest = json.loads(Path(cold_url, f"tenant=alpha/edgar/month={month}/manifest.json").read_text())
    assert [(f["sha256"], f["rows"]) for f in manifest["files"]] == \
        [(hashlib.sha256(cold_file.read_bytes()).hexdigest(), len(in_month))]
    with warehouse.session("alpha") as s:
        assert [x for x in s.select("raw_edgar_docs") if x["month"] == month] == []
        (cf,) = s.select("cold_files")
        assert (cf["data_class"], cf["status"], cf["sha256"]) == ("raw_edgar", "cold", manifest["files"][0]["sha256"])
        assert [(a["action"], a["data_class"]) for a in s.select("retention_audit")] == [("tier", "raw_edgar")]
    assert _state(warehouse, "beta") == beta_before  # the other tenant's rows and windows untouched
    with warehouse.session("beta") as s:
        assert s.select("cold_files") == []
    assert tier_edgar_month(warehouse, "alpha", month, cold_url).rows == 0  # nothing left: a no-op

    back = restore_edgar_month(warehouse, "alpha", month, cold_url)
    assert (back.rows, back.verified) == (len(in_month), len(in_month))
    with warehouse.session("alpha") as s:
        restored = sorted((x for x in s.select("raw_edgar_docs") if x["month"] == month), key=lambda x: x["id"])
        assert all(row_doc(x).content_hash == x["content_hash"] for x in restored)  # content recomputes the same
        s.delete("feature_windows")
        for m in months:
            build_edgar_window_partition(s, m)
    assert _state(warehouse, "alpha") == alpha_before
    assert restore_edgar_month(warehouse, "beta", month, cold_url) is None


def _tier_child(url: str, month: str, cold_url: str, fault: str) -> None:
    os.environ["THUNDERLINE_FAULT"] = fault
    from thunderline.store import Warehouse

    tier_edgar_month(Warehouse(url), "alpha", month, cold_url, actor="test:crash")
    os._exit(0)


@pytest.mark.parametrize("point", EDGAR_TIERING_POINTS)
def test_a_crash_mid_edgar_tiering_loses_nothing_and_a_rerun_completes(edgar_home, point):
    warehouse, _, month, cold_url = edgar_home
    docs_before, _ = _state(warehouse, "alpha")
    warehouse.dispose()
    child = multiprocessing.get_context("fork").Process(target=_tier_child,
                                                        args=(warehouse.url, month, cold_url, f"kill:{point}"))
    child.start()
    child.join(300)
    assert child.exitcode == -signal.SIGKILL
    docs_now, _ = _state(warehouse, "alpha")
    with warehouse.session("alpha") as s:
        recorded = s.select("cold_files")
    if point in ("retention.edgar_writing", "retention.edgar_copied"):  # nothing recorded: every row still hot
        assert docs_now == docs_before and recorded == []
    else:  # recorded and deleted in one transaction
        assert len(recorded) == 1 and set(docs_now) | set(docs_before) == set(docs_before)
    left = sorted(Path(cold_url).rglob(".*.tmp"))  # a kill mid-write leaves the batch's temporary
    assert len(left) == (1 if point == "retention.edgar_writing" else 0), left
    rerun = tier_edgar_month(warehouse, "alpha", month, cold_url, actor="test:rerun")
    assert rerun.stale_temps_removed == len(left) and sorted(Path(cold_url).rglob(".*.tmp")) == []
    with warehouse.session("alpha") as s:
        assert [x for x in s.select("raw_edgar_docs") if x["month"] == month] == []
        assert [x["status"] for x in s.select("cold_files")] == ["cold"]
    restore_edgar_month(warehouse, "alpha", month, cold_url)
    assert _state(warehouse, "alpha")[0] == docs_before


def test_the_retention_job_tiers_edgar_months_past_the_raw_edgar_horizon(edgar_home, tmp_path):
    import dagster as dg

    from resources import LakeResource, WarehouseResource, build_resources
    from thunderline.config import load_settings
    from thunderline_assets.definitions import build_definitions

    warehouse, months, _, cold_url = edgar_home
    settings = load_settings({"THUNDERLINE_HOME": str(tmp_path / "tl"), "THUNDERLINE_WAREHOUSE_URL": warehouse.url,
                              "THUNDERLINE_TENANT": "alpha", "THUNDERLINE_COLD_URL": cold_url,
                              "THUNDERLINE_RETENTION": "alpha.raw_edgar.hot=30"})
    resources = {**build_resources(settings), "warehouse": WarehouseResource(url=warehouse.url, tenant_id="alpha"),
                 "lake": LakeResource(root=str(tmp_path / "lake"))}
    job = build_definitions(settings, resources=resources).get_job_def("retention_tiering_job")
    with dg.instance_for_test() as instance:
        run = job.execute_in_process(instance=instance, resources=resources, run_config={"ops": {
            "tier_edgar_months": {"config": {"today": "2030-01-01"}}}})
    assert run.success and run.output_for_node("tier_edgar_months") == len(months)
    assert run.output_for_node("tier_lake_months") == 0  # no raw_ticks horizon: the lake op tiers nothing
    with warehouse.session("alpha") as s:
        assert s.select("raw_edgar_docs") == []
        assert sorted(a["month"] for a in s.select("retention_audit")) == months
    with warehouse.session("beta") as s:
        assert len(s.select("raw_edgar_docs")) >= 3


def test_thunderline_restore_brings_an_edgar_month_back_and_status_counts_its_batch(edgar_home, tmp_path,
                                                                                    monkeypatch, capsys):
    from thunderline_cli.main import main

    warehouse, _, month, cold_url = edgar_home
    for k, v in {"THUNDERLINE_HOME": str(tmp_path / "tl"), "THUNDERLINE_WAREHOUSE_URL": warehouse.url,
                 "THUNDERLINE_LAKE_DIR": str(tmp_path / "lake"), "THUNDERLINE_TENANT": "alpha",
                 "THUNDERLINE_COLD_URL": cold_url}.items():
        monkeypatch.setenv(k, v)
    n = tier_edgar_month(warehouse, "alpha", month, cold_url).rows
    assert main(["retention", "status"]) == 0
    assert f"{month} cold      1 EDGAR batches" in capsys.readouterr().out
    assert main(["restore", month]) == 0
    assert f"{month}: {n} EDGAR documents restored to the warehouse from 1 cold batches; ids and content hashes " \
           f"identical for {n} of {n}" in capsys.readouterr().out
    assert main(["restore", "2011-01"]) == 2
    assert "nothing of 2011-01 in cold storage" in capsys.readouterr().err


def test_windows_of_a_later_month_see_the_documents_of_a_tiered_month(edgar_home):
    """Rebuilding a later month's EDGAR windows reads the tiered month's documents from cold storage: every
    window (the tiered month's included) keeps its hash, none is dropped as stale."""
    warehouse, months, _, cold_url = edgar_home
    first, later = months[0], months[-1]
    assert first < later
    _, windows_before = _state(warehouse, "alpha")
    tier_edgar_month(warehouse, "alpha", first, cold_url)
    with warehouse.session("alpha") as s:
        for m in months:
            build_edgar_window_partition(s, m)
    assert _state(warehouse, "alpha")[1] == windows_before
    with warehouse.session("alpha") as s:  # the tiered month ingested again: hot and cold, counted once
        ingest_filing_partition(s, first)
        for m in months:
            build_edgar_window_partition(s, m)
    assert _state(warehouse, "alpha")[1] == windows_before


def test_a_purge_past_the_raw_edgar_keep_horizon_deletes_the_cold_batches_too(edgar_home):
    from thunderline.retention import parse_policy
    from thunderline.retention.purge import purge
    from thunderline.store.lake import Lake

    warehouse, months, month, cold_url = edgar_home
    r = tier_edgar_month(warehouse, "alpha", month, cold_url)
    cold_file = Path(cold_url, f"tenant=alpha/edgar/month={month}/raw_edgar_docs-{r.tier_batch[:16]}.parquet")
    policy = parse_policy("*.raw_edgar.keep=30")
    today = dt.date(2030, 1, 1)
    lake = Lake(Path(cold_url).parent / "lake")
    plan = purge(warehouse, lake, "alpha", policy, cold_url, today=today)
    (item,) = plan.items
    assert (item.files, cold_file.exists()) == (1, True)  # a plan deletes nothing
    purge(warehouse, lake, "alpha", policy, cold_url, today=today, execute=True)
    assert not cold_file.exists()
    with warehouse.session("alpha") as s:
        assert [c["status"] for c in s.select("cold_files")] == ["deleted"]
        assert s.select("raw_edgar_docs") == []
        audit = [a for a in s.select("retention_audit") if a["action"] == "purge"]
        assert [(a["data_class"], a["detail"]["files"]) for a in audit] == [("raw_edgar", 1)]
    assert restore_edgar_month(warehouse, "alpha", month, cold_url) is None
    with warehouse.session("beta") as s:
        assert len(s.select("raw_edgar_docs")) >= 3


def test_a_month_of_several_aapl_documents_tiers_and_restores_identically(warehouse, datasets, tmp_path):
    """The AAPL 10-Q of 2025-03-29 as its HTML document and its XBRL instance (dated by sidecars):
    a month of several documents whose window is filled by the XBRL; tiered, restored, recomputed identically."""
    landing = tmp_path / "landing"
    landing.mkdir()
    for name in ("aapl-20250329.htm", "aapl-20250329_htm.xml"):
        src = datasets / "edgar" / "aapl" / name
        if not src.exists():
            pytest.skip(f"shared EDGAR datasets not found at {src.parent}")
        (landing / name).symlink_to(src)
        (landing / f"{name}.meta.json").write_text(json.dumps(  # the filing's dates, as a sidecar gives them
            {"cik": 320193, "filed_date": "2025-05-02", "accession": "0000320193-25-000057"}))
    with warehouse.session("alpha") as s:
        landed = index_files(s, "edgar", submissions_first(candidate_files(landing)), landing_classifier(s))
        months = sorted({p for f in landed for p in f.partitions})
        for m in months:
            ingest_filing_partition(s, m)
            build_edgar_window_partition(s, m)
        by_month = {m: [r for r in s.select("raw_edgar_docs") if r["month"] == m] for m in months}
    month = max(by_month, key=lambda m: len(by_month[m]))
    assert len(by_month[month]) >= 2
    docs_before, windows_before = _state(warehouse, "alpha")
    cold_url = str(tmp_path / "cold")
    assert tier_edgar_month(warehouse, "alpha", month, cold_url).rows == len(by_month[month])
    assert restore_edgar_month(warehouse, "alpha", month, cold_url).verified == len(by_month[month])
    with warehouse.session("alpha") as s:
        s.delete("feature_windows")
        for m in months:
            build_edgar_window_partition(s, m)
    assert _state(warehouse, "alpha") == (docs_before, windows_before)
