"""EDGAR assets against a real Dagster instance, on SQLite and PostgreSQL warehouses.

Real WORLDS Inc. submissions land, parse and become windows with deltas; garbage
is quarantined while the rest continues; the demo's late XBRL instance turns an
open window filled, and its 10-K/A supersedes the original (both kept).
"""

from __future__ import annotations

import shutil

import dagster as dg

from resources import build_resources
from thunderline.edgar.demo_filings import write_demo_filings
from thunderline.flow.edgar_partition import landing_classifier, submissions_first
from thunderline.flow.landing import candidate_files, index_files
from thunderline.store import Warehouse
from thunderline_assets.definitions import build_definitions

WORLDS = ["0001264931-16-000339.txt", "0001264931-17-000036.txt", "0001264931-18-000031.txt"]


def _run(settings, instance):
    wh = Warehouse(settings.warehouse_url)
    wh.init_schema()
    with wh.session(settings.tenant_id) as s:
        landed = index_files(s, "edgar", submissions_first(candidate_files(settings.edgar_landing)),
                             landing_classifier(s))
    wh.dispose()
    months = sorted({p for f in landed for p in f.partitions})
    resources = build_resources(settings)
    job = build_definitions(resources=resources).resolve_job_def("edgar_partition_job")
    for m in months:
        assert job.execute_in_process(partition_key=f"{m}-01", instance=instance, resources=resources).success
    return landed, months


def _select(settings, table, *where_fn):
    wh = Warehouse(settings.warehouse_url)
    with wh.session(settings.tenant_id) as s:
        t = s.table(table)
        rows = s.select(table, *[f(t) for f in where_fn])
    wh.dispose()
    return rows


def test_real_worlds_filings_become_windows_with_deltas(settings_env, datasets):
    settings = settings_env
    for name in WORLDS:
        shutil.copy(datasets / "edgar" / "worlds_inc" / name, settings.edgar_landing)
    (settings.edgar_landing / "garbage.txt").write_bytes(bytes(range(256)) * 40)
    with dg.instance_for_test() as instance:
        landed, months = _run(settings, instance)
    assert months == ["2016-04", "2017-04", "2018-04"]  # acceptance months, from the SGML headers
    bad = [f for f in landed if f.path.endswith("garbage.txt")]
    assert bad[0].status == "rejected"
    q = _select(settings, "quarantine")
    assert any(r["source"].endswith("garbage.txt") and r["reason"] for r in q)
    docs = _select(settings, "raw_edgar_docs")
    assert {d["cik"] for d in docs} == {1961}
    assert all(d["accepted_at"] > 0 and d["sections"] for d in docs)
    windows = sorted(_select(settings, "feature_windows", lambda t: t.c.kind == "edgar"),
                     key=lambda w: w["available_at"])
    assert [w["key"] for w in windows] == ["1961"] * 3
    assert all(w["status"] == "filled" for w in windows)
    # FY2015 cash as printed in the filing; the next year's delta is against it as reported then
    assert windows[0]["features"]["fund_cash"] == 26298.0
    assert windows[0]["features"]["fund_net_income"] == -4037365.0
    f1 = windows[1]["features"]
    assert f1["fund_cash_yoy_delta"] == f1["fund_cash"] - 26298.0
    assert 0.0 <= f1["text_risk_factors_sim_yoy"] <= 1.0  # lazy-prices similarity to last year's 1A
    edges = _select(settings, "lineage_edges", lambda t: t.c.to_id == windows[0]["id"])
    assert edges and all(e["from_kind"] == "edgar_doc" for e in edges)


def test_late_xbrl_fills_and_amendment_supersedes(settings_env, tmp_path):
    settings = settings_env
    manifest = write_demo_filings(tmp_path / "demo")
    late = [p for p in manifest.files if p.suffix == ".xml"]
    for p in [*manifest.files, manifest.submissions_json]:
        if p not in late:
            shutil.copy(p, settings.edgar_landing)
    with dg.instance_for_test() as instance:
        _run(settings, instance)
        by_acc = {w["provenance"]["accession"]: w for w in _select(settings, "feature_windows",
                                                                      lambda t: t.c.kind == "edgar")}
        assert by_acc["0000999001-25-000030"]["status"] == "open"  # 10-Q HTML without its XBRL yet
        assert by_acc["0000999001-25-000008"]["status"] == "superseded"  # by the 10-K/A
        assert by_acc["0000999001-25-000021"]["status"] == "filled"
        for p in late:
            shutil.copy(p, settings.edgar_landing)
        _run(settings, instance)
    after = {w["provenance"]["accession"]: w for w in _select(settings, "feature_windows",
                                                               lambda t: t.c.kind == "edgar")}
    assert after["0000999001-25-000030"]["status"] == "filled"
    assert after["0000999001-25-000008"]["status"] == "superseded"  # still queryable
    assert len([w for w in after.values() if w["key"] == "999001"]) == 4


def test_bare_10k_with_sidecar_ingests_sections_and_facts(settings_env, datasets):
    """A user's bare 10-K HTML (no SGML wrapper) plus a ``.meta.json`` ingests; without it, the
    quarantine names the sidecar to add; the sidecar itself is metadata, never quarantined."""
    import json

    from thunderline.edgar import times

    settings = settings_env
    name = "aapl-10-k-2024-11-01.html"
    shutil.copy(datasets / "edgar" / "aapl" / name, settings.edgar_landing)
    with dg.instance_for_test() as instance:
        landed, months = _run(settings, instance)
        assert months == [] and landed[0].status == "rejected"
        assert f"add a sidecar {name}.meta.json" in landed[0].detail
        (settings.edgar_landing / f"{name}.meta.json").write_text(json.dumps(
            {"accession": "0000320193-24-000123", "form": "10-K", "filed_date": "2024-11-01",
             "acceptance_time": "2024-11-01T06:01:36"}))
        landed, months = _run(settings, instance)
    assert months == ["2024-11"]
    assert {f.format for f in landed} >= {"edgar_sidecar"}
    [doc] = _select(settings, "raw_edgar_docs")
    assert doc["accession"] == "0000320193-24-000123" and doc["cik"] == 320193 and doc["form"] == "10-K"
    assert doc["accepted_at"] == times.eastern_wall_to_us(times.dt.datetime(2024, 11, 1, 6, 1, 36))
    assert doc["meta"]["accepted_at_rule"] == times.RULE_EXPLICIT and doc["meta"]["sidecar"] == f"{name}.meta.json"
    assert {"1A", "7"} <= set(doc["sections"]) and len(doc["xbrl"]) > 500
    q = _select(settings, "quarantine")
    assert not any(r["source"].endswith(".meta.json") for r in q)
