"""Raw EDGAR tiering under a racing re-ingest, in bounded memory, and with lineage to the cold batch.

* A tiering process paused between its select (the batch written and verified in cold storage) and its
  delete, while the month's document is re-ingested as another version: the delete removes only what was
  tiered (id and content hash), the attempt rolls back, its unrecorded cold file goes, and the month is
  tiered again holding the new version — nothing is lost, on SQLite and PostgreSQL.
* A month of many documents is streamed a chunk at a time: Python's peak allocation stays a fraction of the
  month (tracemalloc), each chunk is one row group, and restore reads it back a row group at a time.
* ``thunderline lineage`` of a window names the cold batch that now holds its tiered document.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import shutil
import time
import tracemalloc
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from thunderline.contracts import EDGARDoc
from thunderline.flow.edgar_partition import (
    build_edgar_window_partition,
    doc_row,
    ingest_filing_partition,
    landing_classifier,
)
from thunderline.flow.landing import index_files
from thunderline.retention.edgar import restore_edgar_month, tier_edgar_month

DOC = "0001264931-16-000339.txt"  # Worlds Inc. 10-K: one document in its acceptance month


def _content(row: dict) -> dict:
    return {k: v for k, v in row.items() if k != "inserted_at"}


@pytest.fixture
def one_filing(warehouse, datasets, tmp_path):
    """Tenant alpha holds the 10-K (landed as a copy, so it can be re-delivered changed) and its windows."""
    src = datasets / "edgar" / "worlds_inc" / DOC
    if not src.exists():
        pytest.skip(f"shared EDGAR datasets not found at {src.parent}")
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copyfile(src, landing / DOC)
    with warehouse.session("alpha") as s:
        (landed,) = index_files(s, "edgar", [landing / DOC], landing_classifier(s))
        (month,) = landed.partitions
        ingest_filing_partition(s, month)
        build_edgar_window_partition(s, month)
    return warehouse, landing / DOC, month, str(tmp_path / "cold")


def _tier_child(url: str, month: str, cold_url: str, ready: str, go: str) -> None:
    os.environ.update(THUNDERLINE_FAULT="wait:retention.edgar_copied", THUNDERLINE_FAULT_READY=ready,
                      THUNDERLINE_FAULT_GO=go)
    from thunderline.retention.tiering import RetentionError
    from thunderline.store import Warehouse

    try:
        tier_edgar_month(Warehouse(url), "alpha", month, cold_url, actor="test:race", chunk_rows=1)
    except RetentionError:
        os._exit(3)
    os._exit(0)


def _reingest_changed(warehouse, path: Path, month: str) -> None:
    """The filing re-delivered with a byte appended: its document is stored again as another version."""
    with path.open("ab") as fh:
        fh.write(b"\n")
    with warehouse.session("alpha") as s:
        index_files(s, "edgar", [path], landing_classifier(s))  # extends the old content: supersedes it
        ingest_filing_partition(s, month)


def _rewrite_same_id(warehouse, path: Path, month: str) -> None:
    """A changed version stored under the same id (another content hash): an id-only delete would drop it."""
    with warehouse.session("alpha") as s:
        (row,) = [r for r in s.select("raw_edgar_docs") if r["month"] == month]
        s.upsert("raw_edgar_docs", [{**row, "company_name": "WORLDS INC (corrected)", "content_hash": "c" * 64}])


@pytest.mark.parametrize("change", [_reingest_changed, _rewrite_same_id], ids=["reingest", "same_id"])
def test_a_document_changed_between_select_and_delete_is_never_lost(one_filing, tmp_path, change):
    warehouse, path, month, cold_url = one_filing
    with warehouse.session("alpha") as s:
        (before,) = [r for r in s.select("raw_edgar_docs") if r["month"] == month]
    ready, go = tmp_path / "ready", tmp_path / "go"
    warehouse.dispose()
    child = multiprocessing.get_context("fork").Process(
        target=_tier_child, args=(warehouse.url, month, cold_url, str(ready), str(go)))
    child.start()
    deadline = time.monotonic() + 300
    while not ready.exists() and child.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.exists(), "the tiering process never reached its delete"
    change(warehouse, path, month)  # the batch in cold storage now holds a version the warehouse no longer has
    with warehouse.session("alpha") as s:
        (changed,) = [r for r in s.select("raw_edgar_docs") if r["month"] == month]
    assert changed["content_hash"] != before["content_hash"]
    go.touch()
    child.join(300)
    assert child.exitcode == 0

    with warehouse.session("alpha") as s:
        assert [r for r in s.select("raw_edgar_docs") if r["month"] == month] == []
        (batch,) = s.select("cold_files")
        members = s.select("cold_edgar_members")
        (audit,) = s.select("retention_audit")
    assert batch["status"] == "cold" and audit["detail"]["attempts"] == 2  # the first attempt rolled back
    assert [(m["id"], m["content_hash"], m["tier_batch"]) for m in members] == \
        [(changed["id"], changed["content_hash"], batch["id"])]
    month_dir = Path(cold_url, f"tenant=alpha/edgar/month={month}")
    assert sorted(p.name for p in month_dir.iterdir()) == ["manifest.json", Path(batch["cold_url"]).name]
    back = restore_edgar_month(warehouse, "alpha", month, cold_url)
    assert (back.rows, back.verified) == (1, 1)
    with warehouse.session("alpha") as s:
        assert [_content(r) for r in s.select("raw_edgar_docs") if r["month"] == month] == [_content(changed)]


def _synthetic_month(warehouse, docs: int, text_bytes: int, tenant: str = "alpha") -> str:
    """``docs`` 10-Q-like documents of one month (a ~``text_bytes`` section each), stored as ingest stores them."""
    month, t0 = "2024-05", 1_714_600_000_000_000  # 2024-05-01T21:46:40Z
    rows = []
    for i in range(docs):
        body = (f"Item 7. Management's discussion, filer {i}. " * (text_bytes // 40 + 1))[:text_bytes]
        rows.append(doc_row(EDGARDoc(
            tenant_id=tenant, cik=900_000 + i, accession=f"0000900000-24-{i:06d}", form="10-Q",
            company_name=f"Filer {i} Inc", period_of_report="2024-03-31", filed_date="2024-05-02",
            accepted_at_us=t0 + i * 1_000_000, doc_kind="html", source=f"filer{i}.htm@{i:016x}",
            sections={"7": {"title": "MD&A", "text": body, "confidence": 1.0, "start": 0, "end": len(body)}})))
    with warehouse.session(tenant) as s:
        s.upsert("raw_edgar_docs", rows)
    return month


def test_a_month_is_tiered_and_restored_a_chunk_at_a_time(warehouse, tmp_path):
    docs, text_bytes, chunk = 160, 60_000, 8
    month = _synthetic_month(warehouse, docs, text_bytes)
    with warehouse.session("alpha") as s:
        before = sorted((_content(r) for r in s.select("raw_edgar_docs")), key=lambda r: r["id"])
    cold_url = str(tmp_path / "cold")
    _synthetic_month(warehouse, 2, 100, tenant="beta")  # the same code paths once first: lazy imports are not
    tier_edgar_month(warehouse, "beta", month, cold_url)  # the month's memory
    restore_edgar_month(warehouse, "beta", month, cold_url)
    tracemalloc.start()
    try:
        r = tier_edgar_month(warehouse, "alpha", month, cold_url, chunk_rows=chunk)
        _, tier_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        back = restore_edgar_month(warehouse, "alpha", month, cold_url)
        _, restore_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    month_bytes = docs * text_bytes
    assert (r.rows, r.peak_rows_in_flight, r.row_groups) == (docs, chunk, docs // chunk)
    pf = pq.ParquetFile(Path(cold_url, f"tenant=alpha/edgar/month={month}/raw_edgar_docs-{r.tier_batch[:16]}.parquet"))
    assert [pf.metadata.row_group(i).num_rows for i in range(pf.num_row_groups)] == [chunk] * (docs // chunk)
    # the month's section text alone is ~9.6 MB: holding it at once (as a whole-month select does) fails these
    assert tier_peak < month_bytes / 3, f"tiering peaked at {tier_peak:,} B of Python memory for {month_bytes:,} B"
    assert restore_peak < month_bytes / 3, f"restore peaked at {restore_peak:,} B for {month_bytes:,} B"
    assert (back.rows, back.verified) == (docs, docs)
    with warehouse.session("alpha") as s:
        assert sorted((_content(x) for x in s.select("raw_edgar_docs")), key=lambda x: x["id"]) == before


def test_lineage_of_a_window_names_the_cold_batch_of_its_tiered_document(one_filing):
    from thunderline.lineage import describe
    from thunderline.retention import parse_policy
    from thunderline.retention.purge import purge
    from thunderline.store.lake import Lake

    warehouse, _, month, cold_url = one_filing
    with warehouse.session("alpha") as s:
        (doc,) = [r for r in s.select("raw_edgar_docs") if r["month"] == month]
        le = s.table("lineage_edges")
        window = s.select("lineage_edges", le.c.from_id == doc["id"])[0]["to_id"]
        assert "cold:" not in describe(s, window, "up", 1)
    r = tier_edgar_month(warehouse, "alpha", month, cold_url)
    with warehouse.session("alpha") as s:
        tree = describe(s, window, "up", 1)
        assert f"edgar_doc {doc['id']}  [filing_input]  — cold: {r.manifest_url.rsplit('/', 1)[0]}/" \
               f"raw_edgar_docs-{r.tier_batch[:16]}.parquet (thunderline restore {month})" in tree
        assert "cold: " in describe(s, doc["id"], "down", 1).splitlines()[0]  # the document itself, as root
    restore_edgar_month(warehouse, "alpha", month, cold_url)
    with warehouse.session("alpha") as s:
        assert "cold:" not in describe(s, window, "up", 1)  # back in the warehouse: no note
    tier_edgar_month(warehouse, "alpha", month, cold_url)  # tiered again, then purged past its keep horizon
    purge(warehouse, Lake(Path(cold_url).parent / "lake"), "alpha", parse_policy("*.raw_edgar.keep=30"), cold_url,
          today=dt.date(2030, 1, 1), execute=True)
    with warehouse.session("alpha") as s:
        assert f"edgar_doc {doc['id']}  [filing_input]  — deleted past retention ({month})" in \
            describe(s, window, "up", 1)


def test_restore_from_the_manifest_alone_when_the_warehouse_lost_the_month(one_filing, tmp_path, monkeypatch,
                                                                            capsys):
    """The warehouse loses every record of the tiered month (documents, cold_files, memberships):
    ``thunderline restore M --from-manifest`` brings the documents back from the manifest's batches; a copy of
    the batches put under another tenant's path (manifest edited to name it) is refused, nothing written."""
    import json

    from thunderline_cli.main import main

    warehouse, _, month, cold_url = one_filing
    for k, v in {"THUNDERLINE_HOME": str(tmp_path / "tl"), "THUNDERLINE_WAREHOUSE_URL": warehouse.url,
                 "THUNDERLINE_LAKE_DIR": str(tmp_path / "lake"), "THUNDERLINE_TENANT": "alpha",
                 "THUNDERLINE_COLD_URL": cold_url}.items():
        monkeypatch.setenv(k, v)
    with warehouse.session("alpha") as s:
        (before,) = [_content(r) for r in s.select("raw_edgar_docs") if r["month"] == month]
    r = tier_edgar_month(warehouse, "alpha", month, cold_url)
    with warehouse.session("alpha") as s:  # the month's records are gone
        for table in ("cold_files", "cold_edgar_members", "raw_edgar_docs"):
            s.delete(table)
    assert main(["restore", month, "--from-manifest"]) == 0
    out = capsys.readouterr().out
    assert f"{month}: 1 EDGAR documents restored to the warehouse from 1 cold batches listed in {r.manifest_url}; " \
           "every content hash and id recomputed from the content (1 of 1)" in out
    with warehouse.session("alpha") as s:
        assert [_content(x) for x in s.select("raw_edgar_docs")] == [before]
        assert [(c["id"], c["status"]) for c in s.select("cold_files")] == [(r.tier_batch, "restored")]
        assert [m["id"] for m in s.select("cold_edgar_members")] == [before["id"]]

    alpha_dir = Path(cold_url, f"tenant=alpha/edgar/month={month}")
    beta_dir = Path(cold_url, f"tenant=beta/edgar/month={month}")
    shutil.copytree(alpha_dir, beta_dir)
    manifest = json.loads((beta_dir / "manifest.json").read_text())
    (beta_dir / "manifest.json").write_text(json.dumps({**manifest, "tenant_id": "beta"}))
    monkeypatch.setenv("THUNDERLINE_TENANT", "beta")
    assert main(["restore", month, "--from-manifest"]) == 2
    assert "does not recompute to its content hash and id for tenant 'beta'" in capsys.readouterr().err
    with warehouse.session("beta") as s:
        assert s.select("raw_edgar_docs") == [] and s.select("cold_files") == []
    monkeypatch.setenv("THUNDERLINE_TENANT", "gamma")
    assert main(["restore", month, "--from-manifest"]) == 2
    assert "no EDGAR manifest" in capsys.readouterr().err
