"""Bare documents dated by what sits beside them: ``.meta.json``, EDGAR's index-headers page, index.json."""

from __future__ import annotations

import json
import shutil

import pytest
from edgar_testdata import AAPL

from thunderline.edgar import EdgarParseError, times
from thunderline.edgar.sidecar import hints_for, is_sidecar, parse_index_headers, parse_meta_json
from thunderline.flow.edgar_partition import SIDECAR_FORMAT, _parse_landing_file, classify_edgar_file
from thunderline.hashing import file_sha256

# The header as EDGAR renders <accession>-index-headers.html (escaped SGML in a <pre>).
HEADERS = """<html><head><title>0000320193-25-000057.hdr.sgml : 20250502</title></head>
<body><pre>
&lt;ACCEPTANCE-DATETIME&gt;20250501180422
&lt;ACCESSION-NUMBER&gt;0000320193-25-000057
&lt;TYPE&gt;10-Q
&lt;PUBLIC-DOCUMENT-COUNT&gt;61
&lt;PERIOD&gt;20250329
&lt;FILING-DATE&gt;20250502
&lt;FILER&gt;
&lt;COMPANY-DATA&gt;
&lt;CONFORMED-NAME&gt;Apple Inc.
&lt;CIK&gt;0000320193
&lt;/COMPANY-DATA&gt;
&lt;/FILER&gt;
</pre></body></html>
"""


def _landed(tmp_path, name, subdir="edgar"):
    d = tmp_path / subdir
    d.mkdir(parents=True, exist_ok=True)
    return shutil.copy(AAPL / name, d / name)


def _parse(path, indexes=None):
    return _parse_landing_file({"path": str(path), "id": file_sha256(path)}, "t1", indexes or {})


def test_meta_json_rules():
    h = parse_meta_json(json.dumps({"accession": "000032019324000123", "form": "10-k", "filed_date": "20241101",
                                    "acceptance_time": "2024-11-01T06:01:36.000Z", "cik": "0000320193"}).encode(), "x.meta.json")
    assert (h.accession, h.form, h.filed_date, h.cik) == ("0000320193-24-000123", "10-K", "2024-11-01", 320193)
    # SEC's Z is false: the wall clock is US/Eastern (EDT in November's first days: UTC-4)
    assert h.accepted_at_us == times.to_us(times.dt.datetime(2024, 11, 1, 10, 1, 36, tzinfo=times.dt.timezone.utc))
    assert parse_meta_json(b'{"acceptance_time": "2024-11-01T06:01:36-05:00"}', "x").accepted_at_us == \
        h.accepted_at_us + 3600 * 1_000_000  # an explicit offset is honoured
    assert parse_meta_json(b'{"acceptance_time": "20241101060136"}', "x").accepted_at_us == h.accepted_at_us
    with pytest.raises(EdgarParseError, match="'accession'"):
        parse_meta_json(b'{"accession": "320193-24-123", "filed_date": "2024-11-01"}', "x.meta.json")
    with pytest.raises(EdgarParseError, match="unknown sidecar fields \\['filed'\\]"):
        parse_meta_json(b'{"filed": "2024-11-01"}', "x.meta.json")
    with pytest.raises(EdgarParseError, match="neither 'filed_date' nor 'acceptance_time'"):
        parse_meta_json(b'{"form": "10-K"}', "x.meta.json")
    with pytest.raises(EdgarParseError, match="field 'cik': cik: CIK must be an integer"):
        parse_meta_json(b'{"cik": "12345678901", "filed_date": "2024-11-01"}', "x.meta.json")
    with pytest.raises(EdgarParseError, match="'filed_date'"):
        parse_meta_json(b'{"filed_date": "2024-13-01"}', "x.meta.json")


def test_index_headers_page():
    h = parse_index_headers(HEADERS.encode(), "0000320193-25-000057-index-headers.html")
    assert (h.accession, h.form, h.filed_date, h.cik) == ("0000320193-25-000057", "10-Q", "2025-05-02", 320193)
    assert h.accepted_at_us == times.parse_sgml_acceptance("20250501180422")
    assert is_sidecar(AAPL / "x-index-headers.html") and is_sidecar(AAPL / "a.htm.meta.json")
    assert not is_sidecar(AAPL / "CIK0000320193.json")


def test_bare_10k_without_sidecar_names_the_sidecar(edgar_dir, tmp_path):
    doc = _landed(tmp_path, "aapl-10-k-2024-11-01.html")
    with pytest.raises(EdgarParseError, match=r"add a sidecar aapl-10-k-2024-11-01\.html\.meta\.json beside it"):
        _parse(doc)


def test_bare_10q_dated_by_index_headers_beside_it(edgar_dir, tmp_path):
    doc = _landed(tmp_path, "aapl-20250329.htm", "edgar/cik=320193/0000320193-25-000057")
    hdr = doc.parent / "0000320193-25-000057-index-headers.html"
    hdr.write_text(HEADERS)
    assert classify_edgar_file(hdr).format == SIDECAR_FORMAT
    assert classify_edgar_file(hdr).partitions == []
    [d] = _parse(doc)
    assert d.accession == "0000320193-25-000057" and d.form == "10-Q" and d.filed_date == "2025-05-02"
    assert d.accepted_at_us == times.parse_sgml_acceptance("20250501180422")
    assert d.meta["accepted_at_rule"] == times.RULE_EXPLICIT and d.meta["sidecar"] == hdr.name
    assert classify_edgar_file(doc).partitions == ["2025-05"]
    (doc.parent / "0000320193-25-000099-index-headers.html").write_text(HEADERS)
    with pytest.raises(EdgarParseError, match="ambiguous; add aapl-20250329.htm.meta.json"):
        hints_for(doc)


def test_sidecar_that_contradicts_the_document_is_refused(edgar_dir, tmp_path):
    doc = _landed(tmp_path, "aapl-20250329.htm")
    (doc.parent / (doc.name + ".meta.json")).write_text(json.dumps({"cik": 1961, "filed_date": "2025-05-02"}))
    with pytest.raises(EdgarParseError, match="says CIK 1961, the document says 320193"):
        _parse(doc)
