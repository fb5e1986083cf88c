"""The synthetic demo filings: deterministic, in the real formats, and parsed by the same parsers."""

from __future__ import annotations

import hashlib
import socket

import pytest

from thunderline.edgar import build_windows, parse_path
from thunderline.edgar.demo_filings import DEMO_CIK, DEMO_IFRS_CIK, parse_demo, write_demo_filings
from thunderline.edgar.htmltext import parse_html_document
from thunderline.edgar.ixbrl import parse_inline_xbrl
from thunderline.edgar.offline import NetworkBlocked, edgartools_offline
from thunderline.edgar.sgml import parse_submission


def _digest(d):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.iterdir())}


def test_demo_files_are_deterministic(tmp_path, demo_dir):
    m = write_demo_filings(tmp_path / "again")
    assert _digest(tmp_path / "again") == _digest(demo_dir)
    assert len(m.files) == 6 and m.submissions_json.name == "CIK0000999001.json"


def test_demo_parses_into_the_expected_documents(demo_dir):
    docs = parse_demo(demo_dir, "t")
    kinds = [(d.accession, d.form, d.doc_kind) for d in docs]
    assert ("0000999001-25-000021", "10-K/A", "submission") in kinds
    assert ("0000999001-25-000030", "10-Q", "xbrl_instance") in kinds
    k = next(d for d in docs if d.accession == "0000999001-24-000010")
    assert k.cik == DEMO_CIK and k.meta["skipped_binaries"] == ["logo.jpg"]
    assert list(k.sections)[:4] == ["1", "1A", "1B", "2"] and k.sections["1A"]["confidence"] == 1.0
    assert k.meta["dei"]["dei:DocumentPeriodEndDate"] == "2023-12-31"
    k24 = next(d for d in docs if d.accession == "0000999001-25-000008")
    assert k24.filed_date == "2025-02-19"  # accepted 17:45:12 ET, after the 17:30 cut-off
    inst = next(d for d in docs if d.doc_kind == "xbrl_instance")
    assert inst.meta["xbrl_stats"]["duplicates"] == 1 and inst.meta["xbrl_stats"]["nil"] == 1
    ifrs = next(d for d in docs if d.cik == DEMO_IFRS_CIK)
    assert ifrs.form == "20-F" and list(ifrs.sections) == ["3", "4", "5", "18", "19"]


def test_demo_inline_xbrl_features(demo_dir):
    sub = parse_submission((demo_dir / "0000999001-25-000021.txt").read_bytes())
    res = parse_inline_xbrl(parse_html_document(sub.primary_document().body, "a"))
    by = {(f["concept"], f["period_end"], bool(f["dims"])): f["value"] for f in res.facts}
    assert by[("us-gaap:NetIncomeLoss", "2024-12-31", False)] == "-12500000"  # sign="-", scale=6
    assert by[("us-gaap:ProceedsFromIssuanceOfLongTermDebt", "2024-12-31", False)] == "0"  # fixed-zero
    assert by[("us-gaap:RevenueFromContractWithCustomerExcludingAssessedTax", "2024-12-31", True)] == "804600000"
    assert res.stats["nil"] == 1
    tb = next(f for f in res.nonnumeric if f["concept"] == "us-gaap:SignificantAccountingPoliciesTextBlock")
    assert tb["continuations"] == 2 and tb["text"].endswith("Actual results could differ.")
    assert res.dei["dei:AmendmentFlag"] == "true" and res.dei["dei:CurrentFiscalYearEndDate"] == "--12-31"


def test_demo_ifrs_fundamentals(demo_dir):
    w = build_windows(parse_path(demo_dir / "0000999002-25-000005.txt", "t"))[0]
    assert w.features["fund_revenue"] == 820e6 and w.features["fund_net_income"] == 64e6
    assert w.features["fund_eps_diluted"] == 0.8 and w.features["fund_equity"] == 600e6
    assert w.provenance["concepts"]["revenue"] == "ifrs-full:Revenue"
    assert "text_risk_factors_words" in w.features and "text_mdna_words" in w.features  # Items 3 and 5


def test_edgartools_offline_guard_blocks_network():
    with edgartools_offline():
        with pytest.raises(NetworkBlocked):
            socket.create_connection(("sec.gov", 443), timeout=1)
        with pytest.raises(NetworkBlocked):
            socket.getaddrinfo("sec.gov", 443)
    assert socket.getaddrinfo.__name__ == "getaddrinfo" and socket.create_connection.__name__ == "create_connection"
