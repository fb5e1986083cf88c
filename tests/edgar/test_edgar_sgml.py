"""Full-submission SGML on the three real Worlds Inc. 10-K .txt files."""

from __future__ import annotations

import datetime as dt

import pytest
from edgar_testdata import WORLDS, WORLDS_FILES

from thunderline.edgar.sgml import parse_submission
from thunderline.edgar.times import from_us

EXPECTED = {
    # accession: (acceptance (US/Eastern, as in the header), filed, period, documents, primary, instance)
    "0001264931-16-000339": ("20160412174428", "20160413", "20151231", 63, "worldsinc10k.htm", "world-20151231.xml"),
    "0001264931-17-000036": ("20170417173124", "20170417", "20161231", 61, "wddd10k2016.htm", "world-20161231.xml"),
    "0001264931-18-000031": ("20180402161248", "20180402", "20171231", 52, "worlds10k1217r.htm", "world-20171231.xml"),
}


@pytest.mark.parametrize("name", WORLDS_FILES)
def test_header_documents_and_binaries(edgar_dir, name):
    sub = parse_submission((WORLDS / name).read_bytes(), name)
    acc = name.removesuffix(".txt")
    accepted, filed, period, ndocs, primary, instance = EXPECTED[acc]
    assert sub.accession == acc
    assert sub.form == "10-K"
    assert sub.acceptance_datetime == accepted
    assert sub.header["FILED AS OF DATE"] == filed
    assert sub.header["CONFORMED PERIOD OF REPORT"] == period
    assert sub.primary_entity["CENTRAL INDEX KEY"] == "0000001961"
    assert sub.primary_entity["COMPANY CONFORMED NAME"] == "WORLDS INC"
    assert len(sub.documents) == ndocs == int(sub.header["PUBLIC DOCUMENT COUNT"])
    assert sub.warnings == []
    assert sub.primary_document().filename == primary
    inst = sub.xbrl_instance()
    assert inst.filename == instance and inst.wrapper == "XBRL" and inst.body.startswith(b"<?xml")
    binaries = [d for d in sub.documents if d.kind == "uuencoded"]
    assert {d.type for d in binaries} >= {"GRAPHIC", "ZIP", "EXCEL"}
    assert all(d.body == b"" for d in binaries)  # skipped, never decoded
    # the unclosed tags were read per document (EDGAR sequences may skip a number)
    seqs = [d.sequence for d in sub.documents]
    assert seqs[0] == 1 and all(b > a for a, b in zip(seqs, seqs[1:]))


def test_acceptance_after_1730_gets_next_filing_date(worlds_docs):
    """FY2015: accepted 2016-04-12 17:44:28 EDT (after EDGAR's 17:30 cut-off) -> filed 2016-04-13."""
    d = worlds_docs[0]
    assert d.filed_date == "2016-04-13"
    assert from_us(d.accepted_at_us) == dt.datetime(2016, 4, 12, 21, 44, 28, tzinfo=dt.timezone.utc)
    assert d.meta["accepted_at_rule"] == "sgml_acceptance_datetime"
    # EST example is not available in these files (all April); 2018: 16:12:48 EDT -> 20:12:48 UTC
    assert from_us(worlds_docs[2].accepted_at_us) == dt.datetime(2018, 4, 2, 20, 12, 48, tzinfo=dt.timezone.utc)


def test_submission_doc_fields(worlds_docs):
    for d, name in zip(worlds_docs, WORLDS_FILES):
        assert d.cik == 1961 and d.meta["cik_source"] == "sgml_header"
        assert d.accession == name.removesuffix(".txt")
        assert d.form == "10-K" and d.doc_kind == "submission"
        assert d.company_name == "WORLDS INC"
        assert d.meta["xbrl_source"].startswith("instance:world-")
        assert len(d.meta["skipped_binaries"]) >= 3
        assert d.meta["warnings"] == []  # XBRL CIK agrees with the header
