"""Fundamental and text features, and their deltas across consecutive real filings."""

from __future__ import annotations

import json
import math
import random

import pytest
from edgar_testdata import AAPL, TENANT

from thunderline.edgar import FEATURE_NAMES, build_windows, load_lm_dictionary, parse_path
from thunderline.edgar.features import pick_fundamentals
from thunderline.edgar.lexicon import MODAL_WEAK, NEGATION, UNCERTAINTY
from thunderline.edgar.text_features import cosine, syllables, text_stats, token_bucket


def _by_accession(windows):
    return {w.provenance["accession"]: w for w in windows}


def test_apple_10k_fy2024_to_fy2025(aapl_10k_docs):
    w24, w25 = build_windows(aapl_10k_docs)
    f = w25.features
    assert w24.features["fund_revenue"] == 391_035e6 and f["fund_revenue"] == 416_161e6
    assert f["fund_revenue_yoy_delta"] == 25_126e6
    assert f["fund_revenue_yoy_pct"] == pytest.approx(25_126 / 391_035)
    assert f["fund_net_income_yoy_delta"] == 112_010e6 - 93_736e6
    assert f["fund_eps_diluted_yoy_delta"] == pytest.approx(7.46 - 6.08)
    assert f["fund_operating_cash_flow"] == 111_482e6 and w24.features["fund_operating_cash_flow"] == 118_254e6
    assert f["ratio_net_margin"] == pytest.approx(112_010 / 416_161)
    assert f["ratio_net_margin_yoy_delta"] == pytest.approx(112_010 / 416_161 - 93_736 / 391_035)
    assert f["ratio_leverage"] == pytest.approx(f["fund_total_liabilities"] / f["fund_total_assets"])
    avg_assets = (w24.features["fund_total_assets"] + f["fund_total_assets"]) / 2
    assert f["ratio_accruals"] == pytest.approx((112_010e6 - 111_482e6) / avg_assets)
    # lazy-prices similarity of the same Item a year apart: high but not identical
    assert 0.9 < f["text_risk_factors_sim_yoy"] < 1.0 and 0.9 < f["text_mdna_sim_yoy"] < 1.0
    assert f["text_risk_factors_log_words_change"] == pytest.approx(math.log(f["text_risk_factors_words"] / w24.features["text_risk_factors_words"]))
    assert w25.provenance["year_ago_accession"] == w24.provenance["accession"]
    assert w25.provenance["concepts"]["revenue"] == "us-gaap:RevenueFromContractWithCustomerExcludingAssessedTax"


def test_apple_instances_fy2022_to_fy2023(edgar_dir, aapl_submissions):
    docs = [parse_path(AAPL / "aapl-20220924_htm.xml", TENANT, submissions=aapl_submissions)[0],
            parse_path(AAPL / "aapl-20230930_htm.xml", TENANT, filed_date="2023-11-03")[0]]
    w22, w23 = build_windows(docs)
    assert w23.features["fund_revenue_yoy_delta"] == (383_285 - 394_328) * 1e6
    assert w23.features["fund_net_income_yoy_delta"] == (96_995 - 99_803) * 1e6
    assert w23.features["fund_total_assets_pop_delta"] == (352_583 - 352_755) * 1e6
    assert w22.status == w23.status == "open"  # XBRL only: no sections yet


def test_worlds_deltas_use_facts_as_reported_then(worlds_docs):
    w15, w16, w17 = build_windows(worlds_docs)
    assert w16.features["fund_net_income_pop_delta"] == -1_132_906 - (-4_037_365)
    assert w16.features["fund_cash_yoy_delta"] == 93_378 - 26_298
    # FY2017's filing restates 2016 cash as 93,379; the delta uses FY2016's own 93,378
    assert w17.features["fund_cash_pop_delta"] == 168_229 - 93_378
    assert w16.features["fund_equity_pop_delta"] == -4_778_533 - (-5_141_478)
    assert "fund_total_assets" not in w15.features  # FY2015 tags no Assets: absent, not zero
    assert w17.features["fund_total_liabilities"] == 184_227 - (-4_950_614)  # L&E - equity identity
    assert w17.provenance["concepts"]["total_liabilities"] == "us-gaap:LiabilitiesAndStockholdersEquity-us-gaap:StockholdersEquity"
    assert w16.features["text_risk_factors_sim_yoy"] > 0.99  # boilerplate risk factors barely change
    assert w15.features["text_mdna_confidence"] < 0.6  # the flagged FY2015 Item 7 is visible to consumers


def test_apple_10q_pop_compares_like_periods(aapl_10q_docs, aapl_10k_docs):
    ws = _by_accession(build_windows(aapl_10k_docs + aapl_10q_docs))
    q3 = ws["derived:320193:10-Q:2025-06-28"].features
    assert q3["fund_revenue_pop_delta"] == (94_036 - 95_359) * 1e6
    assert q3["fund_flow_period_days"] == 91
    assert "fund_operating_cash_flow_pop_delta" not in q3  # 9-month vs 6-month year-to-date: not comparable
    k25 = ws["derived:320193:10-K:2025-09-27"].features
    assert "fund_revenue_pop_delta" not in k25  # previous filing is the Q3 10-Q: a year vs a quarter
    assert "fund_cash_pop_delta" in k25 and "fund_revenue_yoy_delta" in k25


def test_features_are_finite_named_and_json_safe(worlds_docs, aapl_10k_docs):
    for w in build_windows(worlds_docs + aapl_10k_docs):
        assert set(w.features) <= set(FEATURE_NAMES)
        assert all(isinstance(v, float) and math.isfinite(v) for v in w.features.values())
        json.dumps(w.features, allow_nan=False)
        assert w.kind == "edgar" and w.key in ("1961", "320193")
        assert w.window_end_us == w.available_at_us and w.window_start_us <= w.window_end_us


def test_windows_are_deterministic_and_order_free(worlds_docs, aapl_10k_docs):
    docs = worlds_docs + aapl_10k_docs
    a = build_windows(docs)
    shuffled = docs[:]
    random.Random(3).shuffle(shuffled)
    b = build_windows(shuffled)
    assert [w.content_hash for w in a] == [w.content_hash for w in b]
    assert [w.id for w in a] == [w.id for w in b]


def test_pick_fundamentals_prefers_exact_period_and_non_dimensional():
    facts = [
        {"concept": "us-gaap:Revenues", "value": "10", "unit": "USD", "period_start": "2024-01-01", "period_end": "2024-12-31", "dims": {"srt:ProductOrServiceAxis": "x"}},
        {"concept": "us-gaap:Revenues", "value": "100", "unit": "USD", "period_start": "2024-01-01", "period_end": "2024-12-31", "dims": {}},
        {"concept": "us-gaap:Revenues", "value": "30", "unit": "USD", "period_start": "2024-10-01", "period_end": "2024-12-31", "dims": {}},
        {"concept": "ifrs-full:Revenue", "value": "7", "unit": "EUR", "period_start": "2024-01-01", "period_end": "2024-12-31", "dims": {}},
    ]
    p = pick_fundamentals(facts, "2024-12-31", "10-K")
    assert p["revenue"].value == 100 and p["revenue"].days == 366
    q = pick_fundamentals(facts, "2024-12-31", "10-Q")
    assert q["revenue"].value == 30  # the quarter
    ifrs = pick_fundamentals(facts[3:], "2024-12-31", "20-F")
    assert ifrs["revenue"].value == 7 and ifrs["revenue"].unit == "EUR"
    assert pick_fundamentals(facts, "2024-12-31", "8-K") == {}


def test_text_stats_lexicon_fog_and_similarity():
    text = "We may not achieve our goals. Results are uncertain and could fluctuate. We will not fail."
    st = text_stats(text)
    assert st.words == 16 and st.sentences == 3
    assert st.lexicon["negation"] == 3  # not, not, fail
    assert st.lexicon["modal_weak"] == 2  # may, could
    assert st.lexicon["uncertainty"] == 2  # uncertain, fluctuate
    assert st.lexicon["modal_strong"] == 1  # will
    assert st.fog == pytest.approx(0.4 * (16 / 3 + 100 * st.complex_words / 16))
    assert cosine(st, text_stats(text)) == pytest.approx(1.0)
    assert cosine(st, text_stats("Completely different vocabulary here")) == 0.0
    assert math.isnan(cosine(st, text_stats("")))
    assert syllables("uncertainty") >= 4 and syllables("the") == 1
    assert token_bucket("risk") == 0x6d541  # crc32, stable across processes (no PYTHONHASHSEED)
    assert {"may", "could"} <= MODAL_WEAK and "not" in NEGATION and "uncertain" in UNCERTAINTY


def test_lm_tone_only_with_a_user_dictionary(tmp_path, worlds_docs):
    csv = tmp_path / "lm.csv"
    csv.write_text("Word,Negative,Positive,Uncertainty,Litigious\nLOSS,2009,0,0,0\nLOSSES,2009,0,0,0\n"
                   "GAIN,0,2009,0,0\nPATENT,0,0,0,2009\nMAYBE,0,0,-2012,0\n", encoding="utf-8")
    lm = load_lm_dictionary(csv)
    assert lm.words == 5 and lm.categories["uncertainty"] == frozenset()  # negative = removed
    plain = build_windows(worlds_docs)
    toned = build_windows(worlds_docs, lm=lm)
    assert not any("_lm_" in k for w in plain for k in w.features)
    f = toned[0].features
    assert f["text_risk_factors_lm_negative_per_1k"] > 0 and "text_risk_factors_lm_tone" in f
    assert f["text_risk_factors_lm_litigious_per_1k"] > 0  # Worlds' risk factors discuss its patents
    bad = tmp_path / "bad.csv"
    bad.write_text("Token,Negative\nx,1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no 'Word' column"):
        load_lm_dictionary(bad)
