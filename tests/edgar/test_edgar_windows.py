"""Open -> filled -> superseded, on the demo filings and on the real ones."""

from __future__ import annotations

import dataclasses

import pytest
from edgar_testdata import AAPL, SNOW, TENANT

from thunderline.edgar import build_windows, merge_accession, parse_path, supersede, window_status
from thunderline.edgar.demo_filings import DEMO_CIK
from thunderline.edgar.submissions import parse_submissions_json
from thunderline.edgar.times import start_of_day_eastern_us


@pytest.fixture(scope="module")
def demo(demo_dir):
    subs = parse_submissions_json((demo_dir / f"CIK{DEMO_CIK:010d}.json").read_bytes())
    docs = {p.name: parse_path(p, TENANT, submissions=subs)[0] for p in sorted(demo_dir.iterdir()) if p.suffix in (".txt", ".xml")}
    return docs


def _acc(ws):
    return {w.provenance["accession"]: w for w in ws}


def test_open_then_filled_by_late_instance(demo):
    q_html = demo["0000999001-25-000030.txt"]
    q_xbrl = demo["tdemo-20250331_htm.xml"]
    assert q_html.sections and not q_html.xbrl_facts
    assert q_xbrl.accession == q_html.accession  # from the submissions JSON, by CIK + form + report date
    assert q_xbrl.accepted_at_us == q_html.accepted_at_us
    before = _acc(build_windows([q_html]))["0000999001-25-000030"]
    after = _acc(build_windows([q_html, q_xbrl]))["0000999001-25-000030"]
    assert before.status == "open" and after.status == "filled"
    assert before.id == after.id  # the filled window replaces the open one
    assert "fund_revenue" not in before.features and after.features["fund_revenue"] == 352e6
    assert after.features["text_mdna_words"] == before.features["text_mdna_words"]
    assert [d["kind"] for d in after.provenance["documents"]] == ["submission", "xbrl_instance"]


def test_amendment_supersedes_and_both_are_kept(demo):
    ws = _acc(build_windows(list(demo.values())))
    orig, amend = ws["0000999001-25-000008"], ws["0000999001-25-000021"]
    assert orig.status == "superseded" and amend.status == "filled"
    assert orig.provenance["superseded_by"] == "0000999001-25-000021"
    assert orig.provenance["status_before_supersede"] == "filled"
    assert amend.provenance["amends_accession"] == "0000999001-25-000008"
    assert orig.features["fund_net_income"] == 171e6 and amend.features["fund_net_income"] == -12.5e6
    # the amendment's deltas are against FY2023 as reported, not against the superseded original
    assert amend.features["fund_revenue_yoy_delta"] == 1_341e6 - 1_200.5e6
    assert amend.provenance["year_ago_accession"] == "0000999001-24-000010"
    assert orig.id != amend.id and orig.key == amend.key
    # the 10-Q after the amendment compares with the restated year end
    q = ws["0000999001-25-000030"]
    assert q.provenance["previous_accession"] == "0000999001-25-000021"
    assert q.features["fund_total_liabilities_pop_delta"] == 1_405e6 - 1_411e6


def test_amendment_without_numbers_carries_the_original_forward(demo):
    orig = demo["0000999001-25-000008.txt"]
    amend = dataclasses.replace(demo["0000999001-25-000021.txt"], xbrl_facts=[])  # e.g. a Part III-only 10-K/A
    ws = _acc(build_windows([demo["0000999001-24-000010.txt"], orig, amend]))
    a = ws["0000999001-25-000021"]
    assert a.status == "filled" and a.features["fund_revenue"] == 1_380e6
    assert "fund:revenue" in a.provenance["carried_from_amended"]
    assert ws["0000999001-25-000008"].status == "superseded"


def test_supersede_rules(demo):
    ws = _acc(build_windows([demo["0000999001-24-000010.txt"], demo["0000999001-25-000008.txt"]]))
    a, b = ws["0000999001-24-000010"], ws["0000999001-25-000008"]
    with pytest.raises(ValueError, match="available before"):
        supersede(b, a)
    other = dataclasses.replace(b, key="42")
    with pytest.raises(ValueError, match="different"):
        supersede(a, other)
    s, _ = supersede(a, b)
    assert s.status == "superseded" and s.id == a.id
    assert supersede(s, b)[0] is s  # idempotent


def test_window_status_rules(demo, edgar_dir):
    html_only = dataclasses.replace(demo["0000999001-24-000010.txt"], xbrl_facts=[])
    facts_only = demo["tdemo-20250331_htm.xml"]
    assert window_status([html_only]) == "open"
    assert window_status([facts_only]) == "open"
    assert window_status([html_only, facts_only]) == "filled"
    assert window_status([demo["0000999001-24-000010.txt"]]) == "filled"  # inline XBRL brings both
    eight_k = dataclasses.replace(html_only, form="8-K")
    assert window_status([eight_k]) == "filled"
    assert window_status([dataclasses.replace(facts_only, form="40-F")]) == "filled"  # no Items to wait for
    snow = parse_path(SNOW / "snow_facts.json", TENANT)
    assert window_status(snow[:1]) == "filled"  # companyfacts alone may fill


def test_real_inline_and_instance_of_one_filing_merge(edgar_dir):
    ix = parse_path(AAPL / "aapl-20250329.htm", TENANT, filed_date="2025-05-02")[0]
    inst = parse_path(AAPL / "aapl-20250329_htm.xml", TENANT, filed_date="2025-05-02")[0]
    ws = build_windows([inst])
    assert len(ws) == 1 and ws[0].status == "open"
    ws = build_windows([ix, inst])
    assert len(ws) == 1 and ws[0].status == "filled"
    assert ws[0].features["fund_revenue"] == 95_359e6 and ws[0].features["fund_net_income"] == 24_780e6
    assert ws[0].features["doc_facts"] == 612  # identical fact sets: the union adds nothing


def test_real_submissions_and_companyfacts_windows(worlds_docs, edgar_dir):
    assert [w.status for w in build_windows(worlds_docs)] == ["filled"] * 3
    snow = build_windows(parse_path(SNOW / "snow_facts.json", TENANT))
    assert len(snow) == 19 and {w.status for w in snow} == {"filled"}
    k = _acc(snow)["0001640147-25-000052"]
    assert k.features["fund_revenue"] == 3_626_396_000 and "fund_revenue_yoy_delta" in k.features


def test_window_start_is_the_fiscal_period_start(demo):
    w = _acc(build_windows([demo["0000999001-24-000010.txt"]]))["0000999001-24-000010"]
    assert w.window_start_us == start_of_day_eastern_us("2023-01-01")
    q = _acc(build_windows([demo["0000999001-25-000030.txt"]]))["0000999001-25-000030"]
    assert q.window_start_us == start_of_day_eastern_us("2025-01-01")


def test_merge_rejects_mixed_ciks(demo):
    with pytest.raises(ValueError, match="several"):
        merge_accession([demo["0000999001-24-000010.txt"], demo["0000999002-25-000005.txt"]])


def test_submissions_rows_sharpen_a_bare_documents_acceptance(edgar_dir):
    """A bare instance parsed with only its filing date joins the submissions-JSON row of the same
    CIK, form and report date: the window takes the real accession's precise acceptance time."""
    inst = parse_path(AAPL / "aapl-20220924_htm.xml", TENANT, filed_date="2022-10-28")[0]
    assert inst.meta["accepted_at_rule"] == "filed_date_end_of_day" and inst.accession.startswith("derived:")
    rows = parse_path(AAPL / "CIK0000320193.json", TENANT)
    ws = [w for w in build_windows([inst] + rows) if w.key == "320193"]
    assert len(ws) == 1
    w = ws[0]
    assert w.provenance["accession"] == "0000320193-22-000108"
    assert w.provenance["accepted_at_rule"] == "submissions_json_acceptance"
    assert w.available_at_us == parse_path(AAPL / "aapl-20220924_htm.xml", TENANT,
                                           submissions=parse_submissions_json((AAPL / "CIK0000320193.json").read_bytes()))[0].accepted_at_us
