"""Poison EDGAR landing files through ``thunderline ingest`` (issue 16, items 2 and 10).

Mutations of the real filings in ``shared/datasets`` (read at test time): a full submission
whose acceptance time is moved to 2009 (before the first partition) and a submissions JSON
whose fields are numbers where SEC sends strings. Neither may block the other filings;
each is quarantined with a reason in our words (field and rule), never a Python exception.
"""

from __future__ import annotations

import json
import os
import re

import dagster as dg

from thunderline.store import Warehouse

WORLDS = "edgar/worlds_inc/0001264931-{}.txt"


def test_filing_before_2010_is_quarantined_and_others_ingest(settings_env, datasets):
    from thunderline_cli.ingest import run_ingest

    settings = settings_env
    land = settings.edgar_landing
    good = (datasets / WORLDS.format("17-000036")).read_bytes()
    (land / "good.txt").write_bytes(good)
    old = (datasets / WORLDS.format("16-000339")).read_bytes()
    old = re.sub(rb"<ACCEPTANCE-DATETIME>2016\d{10}", b"<ACCEPTANCE-DATETIME>20090412174428", old, count=1)
    old = re.sub(rb"FILED AS OF DATE:\t\t2016\d{4}", b"FILED AS OF DATE:\t\t20090413", old, count=1)
    (land / "old.txt").write_bytes(old)
    subs = json.loads((datasets / "edgar/aapl/CIK0000320193.json").read_bytes())
    recent = subs["filings"]["recent"]
    recent["acceptanceDateTime"] = [20240101 for _ in recent["acceptanceDateTime"]]
    recent["form"][0] = 10
    (land / "CIK0000320193.json").write_text(json.dumps(subs))

    with dg.instance_for_test() as instance:
        report = run_ingest(settings, show_progress=False, instance=instance)
        assert not report.runs_failed, report.lines()
        assert report.partitions == ["2017-04"], report.partitions
        again = run_ingest(settings, show_progress=False, instance=instance)
        assert not again.runs_failed and not again.partitions

    wh = Warehouse(settings.warehouse_url)
    with wh.session(settings.tenant_id) as s:
        docs = s.select("raw_edgar_docs")
        q = {os.path.basename(r["source"]): r for r in s.select("quarantine")}
    wh.dispose()
    assert {d["month"] for d in docs} == {"2017-04"}
    assert set(q) == {"old.txt", "CIK0000320193.json"}, sorted(q)
    assert "accepted_at_supported_range" in q["old.txt"]["reason"] and "2009-04-12" in q["old.txt"]["reason"]
    subs_reason = q["CIK0000320193.json"]["reason"]
    assert "filings.recent.form[0]: expected a string, got number" in subs_reason, subs_reason
    for r in q.values():
        assert "Error:" not in r["reason"] and "Traceback" not in r["reason"], r["reason"]
