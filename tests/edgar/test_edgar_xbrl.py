"""XBRL facts from inline XBRL, XBRL instances (Apple, Worlds) - values checked against the datasets README."""

from __future__ import annotations

from decimal import Decimal

import pytest
from edgar_testdata import AAPL, WORLDS, WORLDS_FILES

from thunderline.edgar.htmltext import parse_html_document
from thunderline.edgar.ixbrl import parse_inline_xbrl, transform_date, transform_number
from thunderline.edgar.sgml import parse_submission
from thunderline.edgar.xbrl_common import dedupe_facts, fact_key
from thunderline.edgar.xbrl_instance import parse_instance_bytes

REV = "us-gaap:RevenueFromContractWithCustomerExcludingAssessedTax"


def _value(facts, concept, start, end):
    hits = [f for f in facts if f["concept"] == concept and not f["dims"] and f["period_start"] == start and f["period_end"] == end]
    assert len(hits) == 1, (concept, start, end, hits)
    return Decimal(hits[0]["value"])


@pytest.fixture(scope="module")
def q2_pair(edgar_dir):
    ix = parse_inline_xbrl(parse_html_document((AAPL / "aapl-20250329.htm").read_bytes(), "ix"))
    inst = parse_instance_bytes((AAPL / "aapl-20250329_htm.xml").read_bytes(), "inst")
    return ix, inst


def test_apple_instances_fy2022_fy2023(edgar_dir):
    f22 = parse_instance_bytes((AAPL / "aapl-20220924_htm.xml").read_bytes()).facts
    f23 = parse_instance_bytes((AAPL / "aapl-20230930_htm.xml").read_bytes()).facts
    assert _value(f22, REV, "2021-09-26", "2022-09-24") == Decimal("394328000000")
    assert _value(f23, REV, "2022-09-25", "2023-09-30") == Decimal("383285000000")
    assert _value(f22, "us-gaap:NetIncomeLoss", "2021-09-26", "2022-09-24") == Decimal("99803000000")
    assert _value(f23, "us-gaap:NetIncomeLoss", "2022-09-25", "2023-09-30") == Decimal("96995000000")
    assert _value(f22, "us-gaap:Assets", None, "2022-09-24") == Decimal("352755000000")
    assert _value(f23, "us-gaap:Assets", None, "2023-09-30") == Decimal("352583000000")
    # FY2023's comparative column repeats FY2022 as reported
    assert _value(f23, REV, "2021-09-26", "2022-09-24") == Decimal("394328000000")


def test_q2_fy2025_revenue_and_net_income_from_both_sources(q2_pair):
    for res in q2_pair:
        assert _value(res.facts, REV, "2024-12-29", "2025-03-29") == Decimal("95359000000")
        assert _value(res.facts, "us-gaap:NetIncomeLoss", "2024-12-29", "2025-03-29") == Decimal("24780000000")
        assert res.cik == 320193
        assert res.dei["dei:DocumentPeriodEndDate"] == "2025-03-29"
        assert res.dei["dei:DocumentType"] == "10-Q"


def test_q2_fact_sets_agree_between_inline_and_instance(q2_pair):
    ix, inst = q2_pair
    a = {fact_key(f): f["value"] for f in ix.facts}
    b = {fact_key(f): f["value"] for f in inst.facts}
    assert a == b
    assert len(a) == 612
    # 760 facts in the instance (README) = 674 numeric + 86 non-numeric, in both sources
    for res in q2_pair:
        assert res.stats["numeric_elements"] + res.stats["nonnumeric_elements"] == 760
        assert res.stats["nil"] == 2 and res.stats["duplicates"] == 60 and res.stats["conflicts"] == []
        assert res.stats["skipped"] == []
    key = lambda f: (f["concept"], f["period_start"], f["period_end"], tuple(sorted(f["dims"].items())))  # noqa: E731
    assert {key(f) for f in ix.nonnumeric} == {key(f) for f in inst.nonnumeric}


def test_inline_specifics_on_apple_10k(aapl_10k_docs, edgar_dir):
    res = parse_inline_xbrl(parse_html_document((AAPL / "aapl-10-k-2024-11-01.html").read_bytes(), "k"))
    facts = {f["fact_id"]: f for f in res.facts}
    # scale=6, sign="-": NonoperatingIncomeExpense shown "565" -> -565,000,000 (f-94)
    nonop = [f for f in res.facts if f["concept"] == "us-gaap:NonoperatingIncomeExpense" and not f["dims"]]
    assert Decimal("-565000000") in {Decimal(f["value"]) for f in nonop}
    # ixt:fixed-zero (an em dash) -> 0
    assert facts["f-325"]["value"] == "0" and facts["f-325"]["concept"] == "us-gaap:ProceedsFromIssuanceOfLongTermDebt"
    # nested ix:nonFraction (par value inside par value) -> both facts, exact decimal
    assert facts["f-193"]["value"] == facts["f-194"]["value"] == "0.00001"
    # scale=-2 percentages, three levels of nesting
    assert {facts[i]["value"] for i in ("f-733", "f-734", "f-735")} == {"0.21"}
    # ixt-sec:numwordsen "two" -> 2
    assert facts["f-639"]["value"] == "2"
    # xsi:nil CommitmentsAndContingencies is counted and not returned
    assert res.stats["nil"] == 2
    assert not [f for f in res.facts if f["concept"] == "us-gaap:CommitmentsAndContingencies"]
    # continuations: 31 ix:continuation elements, every chain resolved
    assert res.stats["continuations"] == 31
    assert sum(f.get("continuations", 0) for f in res.nonnumeric) == 31
    # nested ix:nonNumeric: DocumentPeriodEndDate wraps CurrentFiscalYearEndDate
    assert res.dei["dei:DocumentPeriodEndDate"] == "2024-09-28"
    assert res.dei["dei:CurrentFiscalYearEndDate"] in ("--09-28", "--09-27")
    assert res.dei["dei:AmendmentFlag"] == "false"
    # contexts and units from ix:header
    assert res.stats["contexts"] > 100 and set(res.units.values()) >= {"USD", "shares", "USD/shares", "pure"}


@pytest.mark.parametrize("name", WORLDS_FILES)
def test_worlds_instances(edgar_dir, name):
    sub = parse_submission((WORLDS / name).read_bytes(), name)
    res = parse_instance_bytes(sub.xbrl_instance().body, name)
    assert res.cik == 1961
    if name == WORLDS_FILES[0]:
        assert _value(res.facts, "us-gaap:Cash", None, "2015-12-31") == 26298
        assert _value(res.facts, "us-gaap:NetIncomeLoss", "2015-01-01", "2015-12-31") == -4037365
        assert _value(res.facts, "us-gaap:StockholdersEquity", None, "2015-12-31") == -5141478
        assert res.stats["numeric_elements"] + res.stats["nonnumeric_elements"] == 480  # README: 480 facts
        assert res.stats["contexts"] == 62
    # xsi:nil facts: counted, never a value (StockholdersEquity under SubscriptionReceivableMember is nil)
    assert res.stats["nil"] > 0
    for f in res.facts:
        assert f["value"] != "" and Decimal(f["value"]).is_finite()


def test_worlds_2015_nil_facts(edgar_dir):
    sub = parse_submission((WORLDS / WORLDS_FILES[0]).read_bytes())
    res = parse_instance_bytes(sub.xbrl_instance().body)
    assert res.stats["nil"] == 39
    assert not [f for f in res.facts if f["concept"] == "us-gaap:DeferredTaxAssetsNet"]  # only ever nil
    sub_recv = [f for f in res.facts if f["concept"] == "us-gaap:StockholdersEquity"
                and f["dims"].get("us-gaap:StatementEquityComponentsAxis") == "world:SubscriptionReceivableMember"]
    assert sub_recv == []


def test_transforms():
    assert transform_number("1,234.5", "ixt:num-dot-decimal") == Decimal("1234.5")
    assert transform_number("1.234,5", "ixt:num-comma-decimal") == Decimal("1234.5")
    assert transform_number("\u2014", "ixt:fixed-zero") == 0
    assert transform_number("twenty-one", "ixt-sec:numwordsen") == 21
    assert transform_number("no", "ixt-sec:numwordsen") == 0
    assert transform_number("0.5", None) == Decimal("0.5")
    with pytest.raises(ValueError):
        transform_number("1,234", "ixt:something-new")
    with pytest.raises(Exception):
        transform_number("1,234", None)  # no format: must already be xsd:decimal
    assert transform_date("September 28, 2024", "ixt:date-monthname-day-year-en") == "2024-09-28"
    assert transform_date("September 28", "ixt:date-monthname-day-en") == "--09-28"
    assert transform_date("03/29/2025", "ixt:date-month-day-year") == "2025-03-29"


def test_dedupe_keeps_precise_consistent_and_reports_conflicts():
    base = {"concept": "us-gaap:Assets", "unit": "USD", "period_start": None, "period_end": "2024-01-01", "dims": {},
            "context_id": "c", "fact_id": None}
    a = {**base, "value": "1200000", "decimals": "-5"}
    b = {**base, "value": "1234567", "decimals": "0"}  # rounds to 1200000 at -5: consistent, more precise
    facts, st = dedupe_facts([a, b])
    assert [f["value"] for f in facts] == ["1234567"] and st["conflicts"] == [] and st["duplicates"] == 1
    c = {**base, "value": "999", "decimals": "0"}
    facts, st = dedupe_facts([b, c])
    assert [f["value"] for f in facts] == ["1234567"] and len(st["conflicts"]) == 1


def test_edgartools_instance_values_match_ours(edgar_dir):
    """edgartools reads the same instance; its numeric values are floats - they equal our Decimals here."""
    pytest.importorskip("edgar")
    from thunderline.edgar.offline import edgartools_offline

    with edgartools_offline():
        from edgar.xbrl import XBRL

        x = XBRL.from_files(instance_file=AAPL / "aapl-20250329_htm.xml")
        df = x.facts.to_dataframe()
    ours = parse_instance_bytes((AAPL / "aapl-20250329_htm.xml").read_bytes())
    q = df[(df["concept"] == REV) & (df["period_start"] == "2024-12-29") & (df["period_end"] == "2025-03-29") & (~df["is_dimensioned"])]
    assert float(q["numeric_value"].iloc[0]) == float(_value(ours.facts, REV, "2024-12-29", "2025-03-29"))
    assert df["numeric_value"].dropna().map(type).eq(float).all()  # not exact decimals
