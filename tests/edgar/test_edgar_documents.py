"""EDGARDoc assembly: CIK from content, acceptance-time rules, detection, and malformed input."""

from __future__ import annotations

import datetime as dt
import random
import shutil

import pytest
from edgar_testdata import AAPL, SNOW, TENANT, WORLDS, WORLDS_FILES

from thunderline.edgar import (
    EdgarEncodingError,
    EdgarMissingFieldError,
    EdgarNoSectionsError,
    EdgarParseError,
    EdgarTruncatedError,
    EdgarUnrecognisedError,
    detect_kind,
    parse_bytes,
    parse_path,
)
from thunderline.edgar.times import from_us

UTC = dt.timezone.utc


def test_detect_kinds_by_content(edgar_dir):
    kinds = {
        WORLDS / WORLDS_FILES[0]: "submission",
        AAPL / "aapl-10-k-2024-11-01.html": "html",
        AAPL / "aapl-20250329.htm": "html",
        AAPL / "aapl-20230930_htm.xml": "xbrl_instance",
        AAPL / "CIK0000320193.json": "submissions_json",
        SNOW / "snow_facts.json": "companyfacts",
    }
    for p, k in kinds.items():
        assert detect_kind(p.read_bytes(), str(p)) == k


def test_cik_comes_from_content_not_file_name(edgar_dir, tmp_path):
    src = WORLDS / WORLDS_FILES[0]
    renamed = tmp_path / "CIK0000320193-apple-10-k.txt"  # a misleading name
    shutil.copyfile(src, renamed)
    d = parse_path(renamed, TENANT)[0]
    assert d.cik == 1961 and d.accession == "0001264931-16-000339"
    html = parse_path(AAPL / "aapl-10-k-2024-11-01.html", TENANT, filed_date="2024-11-01")[0]
    assert html.cik == 320193 and html.meta["cik_source"] == "dei:EntityCentralIndexKey"


def test_bare_html_needs_a_date_and_records_the_rule(edgar_dir):
    p = AAPL / "aapl-10-k-2024-11-01.html"
    with pytest.raises(EdgarMissingFieldError, match="no acceptance time and no filing date"):
        parse_path(p, TENANT)
    d = parse_path(p, TENANT, filed_date="2024-11-01")[0]
    assert d.meta["accepted_at_rule"] == "filed_date_end_of_day"
    assert from_us(d.accepted_at_us) == dt.datetime(2024, 11, 2, 3, 59, 59, tzinfo=UTC)  # 23:59:59 EDT
    assert d.form == "10-K" and d.period_of_report == "2024-09-28" and d.company_name == "Apple Inc."
    assert d.accession == "derived:320193:10-K:2024-09-28" and d.meta["accession_rule"] == "derived"
    exact = parse_path(p, TENANT, accepted_at_us=1_730_491_200_000_000, accession="0000320193-24-000123")[0]
    assert exact.meta["accepted_at_rule"] == "explicit_accepted_at" and exact.accession == "0000320193-24-000123"


def test_instance_gets_acceptance_and_accession_from_submissions(edgar_dir, aapl_submissions):
    d = parse_path(AAPL / "aapl-20220924_htm.xml", TENANT, submissions=aapl_submissions)[0]
    assert d.accession == "0000320193-22-000108" and d.meta["accepted_at_rule"] == "submissions_json_acceptance"
    assert from_us(d.accepted_at_us) == dt.datetime(2022, 10, 27, 22, 1, 14, tzinfo=UTC)
    assert d.filed_date == "2022-10-28"
    # FY2023 was filed after the JSON was captured: no entry -> no time -> clear error
    with pytest.raises(EdgarMissingFieldError):
        parse_path(AAPL / "aapl-20230930_htm.xml", TENANT, submissions=aapl_submissions)


def test_sgml_acceptance_wins_over_hints(worlds_docs, edgar_dir):
    d = parse_path(WORLDS / WORLDS_FILES[0], TENANT, accepted_at_us=0, filed_date="1999-01-01")[0]
    assert d.accepted_at_us == worlds_docs[0].accepted_at_us and d.meta["accepted_at_rule"] == "sgml_acceptance_datetime"


def test_docs_are_deterministic(edgar_dir):
    a = parse_path(WORLDS / WORLDS_FILES[1], TENANT)[0]
    b = parse_path(WORLDS / WORLDS_FILES[1], TENANT)[0]
    assert a.id == b.id and a.content_hash == b.content_hash


# --------------------------------------------------------------------------- malformed input
@pytest.fixture(scope="module")
def worlds_bytes(edgar_dir):
    return (WORLDS / WORLDS_FILES[0]).read_bytes()


@pytest.mark.parametrize("cut", [0.5, 0.999, 1500])
def test_truncated_sgml(worlds_bytes, cut):
    data = worlds_bytes[: int(len(worlds_bytes) * cut)] if cut < 1 else worlds_bytes[:cut]
    with pytest.raises(EdgarTruncatedError) as ei:
        parse_bytes(data, "cut.txt", TENANT)
    assert ei.value.source == "cut.txt" and ei.value.line is not None and "truncated" in ei.value.reason


def test_truncated_sgml_header(worlds_bytes):
    with pytest.raises(EdgarTruncatedError, match="SEC-HEADER"):
        parse_bytes(worlds_bytes[:400], "h.txt", TENANT)


def test_sgml_without_accession(worlds_bytes):
    with pytest.raises(EdgarMissingFieldError, match="ACCESSION NUMBER"):
        parse_bytes(worlds_bytes.replace(b"ACCESSION NUMBER:", b"ACCESSION NUMBR:", 1), "a.txt", TENANT)


def test_html_without_items(edgar_dir, worlds_bytes):
    with pytest.raises(EdgarNoSectionsError, match="no Item headings"):
        parse_bytes(b"<html><body><p>FORM 10-K</p><p>Annual report.</p></body></html>", "x.htm", TENANT)
    no_items = worlds_bytes.replace(b"ITEM", b"THING").replace(b"Item", b"Thing")
    with pytest.raises(EdgarNoSectionsError) as ei:
        parse_bytes(no_items, "w.txt", TENANT)
    assert ei.value.source == "w.txt#worldsinc10k.htm"


def test_garbage_and_wrong_encodings(edgar_dir, worlds_bytes):
    rng = random.Random(7)
    with pytest.raises(EdgarEncodingError, match="NUL byte"):
        parse_bytes(bytes(rng.randrange(256) for _ in range(4096)), "g.bin", TENANT)
    with pytest.raises(EdgarUnrecognisedError):
        parse_bytes(bytes(rng.randrange(32, 127) for _ in range(4096)), "g.txt", TENANT)
    with pytest.raises(EdgarUnrecognisedError, match="empty"):
        parse_bytes(b"", "e", TENANT)
    with pytest.raises(EdgarEncodingError, match="UTF-16"):
        parse_bytes(worlds_bytes[:20000].decode("latin-1").encode("utf-16"), "u16.txt", TENANT)
    inst = (AAPL / "aapl-20250329_htm.xml").read_bytes()
    latin1_in_utf8 = inst.replace(b"Apple Inc.", b"Appl\xe9 Inc.")
    with pytest.raises(EdgarEncodingError) as ei:
        parse_bytes(latin1_in_utf8, "i.xml", TENANT, filed_date="2025-05-02")
    assert ei.value.line is not None and "utf-8" in ei.value.reason
    ix = (AAPL / "aapl-20250329.htm").read_bytes()  # declared encoding='ASCII'
    with pytest.raises(EdgarEncodingError, match="not ASCII"):
        parse_bytes(ix.replace(b"Apple Inc.", b"Apple Inc.\xc3\xa9", 1), "ix.htm", TENANT, filed_date="2025-05-02")


def test_truncated_xml(edgar_dir):
    ix = (AAPL / "aapl-20250329.htm").read_bytes()
    with pytest.raises(EdgarTruncatedError, match="</html>"):
        parse_bytes(ix[: len(ix) // 2], "ix.htm", TENANT, filed_date="2025-05-02")
    inst = (AAPL / "aapl-20250329_htm.xml").read_bytes()
    with pytest.raises(EdgarTruncatedError):
        parse_bytes(inst[: len(inst) // 2], "i.xml", TENANT, filed_date="2025-05-02")


def test_json_errors():
    with pytest.raises(EdgarParseError, match="not valid JSON"):
        parse_bytes(b'{"cik": 1, "facts": ', "j.json", TENANT)
    with pytest.raises(EdgarUnrecognisedError, match="neither"):
        parse_bytes(b'{"a": 1}', "j.json", TENANT)


def test_every_error_is_an_edgar_parse_error_with_message():
    with pytest.raises(EdgarParseError) as ei:
        parse_bytes(b"\x00\x01", "z.bin", TENANT)
    assert str(ei.value).startswith("z.bin:1: ")
