"""Item splitting on the real 10-K / 10-Q primary documents."""

from __future__ import annotations

import pytest
from edgar_testdata import AAPL, AAPL_10K

from thunderline.edgar.html_sections import LOW_CONFIDENCE, split_sections
from thunderline.edgar.htmltext import html_lines, parse_html_document


def _first_words(text: str, n: int = 6) -> str:
    return " ".join(text.split()[:n])


# (doc index, Item 1A first words, 1A chars range, Item 7 first words, 7 chars range)
AAPL_10K_EXPECT = [
    ("The Company’s business, reputation, results of operations,", (60_000, 75_000),
     "The following discussion should be read", (12_000, 20_000)),
    ("The following summarizes factors that could", (60_000, 75_000),
     "The following discussion should be read", (14_000, 22_000)),
]


@pytest.mark.parametrize("i", [0, 1])
def test_apple_10k_items_1a_and_7(aapl_10k_docs, i):
    d = aapl_10k_docs[i]
    s = d.sections
    assert list(s) == ["1", "1A", "1B", "1C", "2", "3", "4", "5", "6", "7", "7A", "8", "9", "9A", "9B", "9C",
                       "10", "11", "12", "13", "14", "15", "16"]
    first_1a, range_1a, first_7, range_7 = AAPL_10K_EXPECT[i]
    assert _first_words(s["1A"]["text"]).startswith(first_1a[:30])
    assert range_1a[0] <= len(s["1A"]["text"]) <= range_1a[1]
    assert _first_words(s["7"]["text"]).startswith(first_7)
    assert range_7[0] <= len(s["7"]["text"]) <= range_7[1]
    assert s["1A"]["title"] == "Item 1A. Risk Factors"  # body heading (TOC row ends with a page number)
    assert s["1A"]["confidence"] == 1.0 and s["7"]["confidence"] == 1.0
    # the body, not the table of contents: the TOC lists 1A before Item 1's text starts
    assert s["1A"]["start"] > s["1"]["start"] > 0
    assert "Item 1B." not in s["1A"]["text"]
    assert d.meta["toc_keys"] == list(s)
    # entities/whitespace normalised: no NBSP, no runs of spaces
    assert "\xa0" not in s["7"]["text"] and "  " not in s["7"]["text"]
    assert s["1B"]["text"] == "None." and s["6"]["text"] == ""  # "[Reserved]": empty without a penalty


@pytest.mark.parametrize("i", [0, 1, 2])
def test_worlds_10k_items_1a_and_7(worlds_docs, i):
    s = worlds_docs[i].sections
    assert s["1A"]["text"].startswith("Our business is subject to numerous risks")
    assert 9_000 <= len(s["1A"]["text"]) <= 16_000
    assert s["1A"]["title"] == "ITEM 1A. RISK FACTORS" and s["1A"]["confidence"] == 1.0
    assert s["7"]["text"].startswith("Forward Looking Statements")
    assert "2" in s and s["2"]["text"].startswith("We do not own any property")  # edgartools drops Item 2


def test_worlds_fy2015_item7_boundary_is_flagged_not_silent(worlds_docs):
    """FY2015 has no 'Item 8' body heading: Item 7 runs into the financial statements. The TOC
    lists Item 8, so the section is returned with a low confidence and a warning."""
    d = worlds_docs[0]
    s7 = d.sections["7"]
    assert "8" not in d.sections
    assert s7["confidence"] < LOW_CONFIDENCE
    assert any("Item 8" in w for w in s7["warnings"])
    assert "7" in d.meta["low_confidence_sections"]
    assert "REPORT OF INDEPENDENT REGISTERED PUBLIC ACCOUNTING FIRM" in s7["text"]
    # the next two years have the heading, and their Item 7 ends before the statements
    for later in worlds_docs[1:]:
        assert later.sections["8"]["confidence"] == 1.0
        assert "REPORT OF INDEPENDENT" not in later.sections["7"]["text"]
        assert later.meta["low_confidence_sections"] == []


@pytest.mark.parametrize("i", [0, 1])
def test_apple_10q_part_i_item_2_and_part_ii_item_1a(aapl_10q_docs, i):
    s = aapl_10q_docs[i].sections
    assert list(s) == ["I-1", "I-2", "I-3", "I-4", "II-1", "II-1A", "II-2", "II-3", "II-4", "II-5", "II-6"]
    assert s["I-2"]["title"].startswith("Item 2. Management")
    assert s["I-2"]["text"].startswith("This Item and other sections of this Quarterly Report")
    assert 15_000 <= len(s["I-2"]["text"]) <= 25_000
    assert s["II-1A"]["title"] == "Item 1A. Risk Factors"
    assert s["II-1A"]["text"].startswith("The Company’s business, reputation, results of operations")
    assert s["II-2"]["title"].startswith("Item 2. Unregistered Sales")  # Part II Item 2, told apart by title
    assert all(v["confidence"] == 1.0 for v in s.values())


def test_q2_risk_factor_update_is_longer_than_q3(aapl_10q_docs):
    assert len(aapl_10q_docs[0].sections["II-1A"]["text"]) > 5 * len(aapl_10q_docs[1].sections["II-1A"]["text"])


def test_out_of_order_cross_reference_cannot_start_a_section():
    html = b"""<html><body><p>FORM 10-K</p>
    <p>Item 1. Business</p><p>We make things.</p>
    <p>Item 8 of this report contains the statements.</p>
    <p>Item 1A. Risk Factors</p><p>Things may go wrong.</p>
    <p>Item 7. Management's Discussion and Analysis</p><p>Sales rose.</p>
    <p>Item 8. Financial Statements</p><p>Balance sheet.</p></body></html>"""
    res = split_sections(html_lines(parse_html_document(html, "x").root), "10-K", "x")
    assert list(res.sections) == ["1", "1A", "7", "8"]
    assert res.sections["1"]["text"] == "We make things.\nItem 8 of this report contains the statements."


def test_edgartools_cross_check_apple_agrees_worlds_disagrees(edgar_dir):
    """edgartools as a second opinion: on Apple it finds the same Items with similar lengths; on
    Worlds FY2015 it returns Item 7 ('mda') of ~81k chars with confidence 0.7 and no Item 2 - the
    silent wrong boundary our splitter flags."""
    pytest.importorskip("edgar")
    from edgar_testdata import WORLDS

    from thunderline.edgar.html_sections import edgartools_sections
    from thunderline.edgar.sgml import parse_submission

    html = (AAPL / AAPL_10K[0][0]).read_text("ascii")
    theirs = edgartools_sections(html, "10-K")
    ours = split_sections(html_lines(parse_html_document(html.encode(), "a").root), "10-K").sections
    for key in ("1A", "7", "8"):
        assert abs(theirs[key]["chars"] - len(ours[key]["text"])) / len(ours[key]["text"]) < 0.1
    sub = parse_submission((WORLDS / "0001264931-16-000339.txt").read_bytes())
    w = sub.primary_document().body.decode("latin-1")
    theirs_w = edgartools_sections(w, "10-K")
    assert "2" not in theirs_w and "8" not in theirs_w
    assert theirs_w["7"]["chars"] > 60_000 and theirs_w["7"]["confidence"] >= 0.6  # confident, wrong
