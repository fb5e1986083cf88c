"""Other filers and layouts: 8-K, 6-K, plain-text 10-K, a table of contents without table or links."""

from __future__ import annotations

from thunderline.edgar import build_windows, parse_bytes
from thunderline.edgar.html_sections import split_sections
from thunderline.edgar.htmltext import html_lines, parse_html_document


def _sgml(form: str, body: str, cik: int = 1234567, period: str = "20240501") -> bytes:
    return (
        "<SEC-DOCUMENT>0001234567-24-000001.txt : 20240502\n<SEC-HEADER>0001234567-24-000001.hdr.sgml : 20240502\n"
        "<ACCEPTANCE-DATETIME>20240502163000\nACCESSION NUMBER:\t\t0001234567-24-000001\n"
        f"CONFORMED SUBMISSION TYPE:\t{form}\nPUBLIC DOCUMENT COUNT:\t\t1\nCONFORMED PERIOD OF REPORT:\t{period}\n"
        "FILED AS OF DATE:\t\t20240502\n\nFILER:\n\n\tCOMPANY DATA:\t\n\t\tCOMPANY CONFORMED NAME:\t\t\tACME CORP\n"
        f"\t\tCENTRAL INDEX KEY:\t\t\t{cik:010d}\n</SEC-HEADER>\n<DOCUMENT>\n<TYPE>{form}\n<SEQUENCE>1\n"
        f"<FILENAME>doc.htm\n<TEXT>\n{body}\n</TEXT>\n</DOCUMENT>\n</SEC-DOCUMENT>\n"
    ).encode("ascii")


def test_8k_items():
    body = ("<html><body><p>FORM 8-K</p><p>Item 2.02 Results of Operations and Financial Condition</p>"
            "<p>On May 2, 2024 the Company announced its results.</p><p>Item 9.01 Financial Statements and Exhibits</p>"
            "<p>99.1 Press release.</p></body></html>")
    d = parse_bytes(_sgml("8-K", body), "8k.txt", "t")[0]
    assert list(d.sections) == ["2.02", "9.01"]
    assert d.sections["2.02"]["text"] == "On May 2, 2024 the Company announced its results."
    assert d.xbrl_facts == [] and d.period_of_report == "2024-05-01"
    w = build_windows([d])[0]
    assert w.status == "filled"  # a current report: sections alone fill
    assert "fund_revenue" not in w.features and w.features["doc_sections"] == 2


def test_6k_has_no_item_model_and_does_not_crash():
    d = parse_bytes(_sgml("6-K", "<html><body><p>Report of foreign private issuer</p></body></html>"), "6k.txt", "t")[0]
    assert d.sections == {} and "no Item model" in d.meta["section_warnings"][0]
    assert build_windows([d])[0].status == "open"


def test_plain_text_10k_with_dotted_toc():
    text = "\n".join([
        "FORM 10-K", "TABLE OF CONTENTS",
        "Item 1.  Business ........................ 3",
        "Item 1A. Risk Factors .................... 5",
        "Item 7.  Management's Discussion and Analysis ...... 9",
        "Item 8.  Financial Statements ............ 12",
        "", "PART I", "Item 1.  Business", "We sell anvils.",
        "Item 1A. Risk Factors", "Anvils may fall.", "Demand is uncertain.",
        "PART II", "Item 7.  Management's Discussion and Analysis", "Sales rose.",
        "Item 8.  Financial Statements", "See below.", "SIGNATURES", "By: Wile E.",
    ])
    d = parse_bytes(_sgml("10-K", text, period="20231231"), "t.txt", "t")[0]
    assert list(d.sections) == ["1", "1A", "7", "8"]
    assert d.sections["1A"]["text"] == "Anvils may fall.\nDemand is uncertain."
    assert d.sections["8"]["text"] == "See below."  # stops at SIGNATURES
    assert d.meta["toc_keys"] == ["1", "1A", "7", "8"]


def test_paragraph_toc_without_table_or_links():
    html = b"""<html><body><p>FORM 10-K</p>
    <p>Item 1. Business 3</p><p>Item 1A. Risk Factors 5</p><p>Item 7. Management's Discussion and Analysis 9</p>
    <p>Item 8. Financial Statements 14</p>
    <p>Item 1. Business</p><p>We make things.</p><p>Item 1A. Risk Factors</p><p>Things may go wrong.</p>
    <p>Item 7. Management's Discussion and Analysis</p><p>Sales rose.</p>
    <p>Item 8. Financial Statements</p><p>Balance sheet.</p></body></html>"""
    res = split_sections(html_lines(parse_html_document(html, "x").root), "10-K", "x")
    assert res.sections["1A"]["text"] == "Things may go wrong."
    assert res.toc_keys == ["1", "1A", "7", "8"]
    assert all(s["confidence"] == 1.0 for s in res.sections.values())
