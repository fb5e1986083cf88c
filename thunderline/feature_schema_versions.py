"""The released feature schema versions, oldest first (append-only; see :mod:`thunderline.feature_schemas`).

A recipe change adds a version here with its forward migration from the previous one, and bumps
``thunderline.contracts.FEATURE_SCHEMA_VERSION`` to it; a released version is never edited (its
snapshot in ``tests/foundation/snapshots/feature_schemas.json`` pins it).
"""

from __future__ import annotations

from thunderline.feature_schema_model import Add, FeatureSchema, ForwardMigration

FS1_MARKET_FULL = (
    'mid_return', 'spread', 'spread_bps', 'spread_twa', 'imbalance_top1', 'imbalance_topn', 'ofi_1', 'ofi_2',
    'ofi_3', 'ofi_4', 'ofi_5', 'order_flow_imbalance', 'realized_vol', 'trade_count', 'volume', 'vwap',
    'signed_volume', 'tick_rate', 'microburst',
)
FS1_MARKET_COARSE = (
    'mid_return', 'spread', 'trade_count', 'volume', 'vwap',
)
FS1_EDGAR = (
    'fund_revenue', 'fund_revenue_pop_delta', 'fund_revenue_pop_pct', 'fund_revenue_yoy_delta',
    'fund_revenue_yoy_pct', 'fund_net_income', 'fund_net_income_pop_delta', 'fund_net_income_pop_pct',
    'fund_net_income_yoy_delta', 'fund_net_income_yoy_pct', 'fund_operating_income',
    'fund_operating_income_pop_delta', 'fund_operating_income_pop_pct', 'fund_operating_income_yoy_delta',
    'fund_operating_income_yoy_pct', 'fund_eps_diluted', 'fund_eps_diluted_pop_delta',
    'fund_eps_diluted_pop_pct', 'fund_eps_diluted_yoy_delta', 'fund_eps_diluted_yoy_pct',
    'fund_operating_cash_flow', 'fund_operating_cash_flow_pop_delta', 'fund_operating_cash_flow_pop_pct',
    'fund_operating_cash_flow_yoy_delta', 'fund_operating_cash_flow_yoy_pct', 'fund_total_assets',
    'fund_total_assets_pop_delta', 'fund_total_assets_pop_pct', 'fund_total_assets_yoy_delta',
    'fund_total_assets_yoy_pct', 'fund_total_liabilities', 'fund_total_liabilities_pop_delta',
    'fund_total_liabilities_pop_pct', 'fund_total_liabilities_yoy_delta', 'fund_total_liabilities_yoy_pct',
    'fund_equity', 'fund_equity_pop_delta', 'fund_equity_pop_pct', 'fund_equity_yoy_delta',
    'fund_equity_yoy_pct', 'fund_cash', 'fund_cash_pop_delta', 'fund_cash_pop_pct', 'fund_cash_yoy_delta',
    'fund_cash_yoy_pct', 'fund_flow_period_days', 'ratio_net_margin', 'ratio_net_margin_pop_delta',
    'ratio_net_margin_yoy_delta', 'ratio_operating_margin', 'ratio_operating_margin_pop_delta',
    'ratio_operating_margin_yoy_delta', 'ratio_leverage', 'ratio_leverage_pop_delta',
    'ratio_leverage_yoy_delta', 'ratio_cash_to_assets', 'ratio_cash_to_assets_pop_delta',
    'ratio_cash_to_assets_yoy_delta', 'ratio_accruals', 'ratio_accruals_pop_delta', 'ratio_accruals_yoy_delta',
    'text_risk_factors_words', 'text_risk_factors_confidence', 'text_risk_factors_fog',
    'text_risk_factors_log_words_change', 'text_risk_factors_sim_yoy', 'text_risk_factors_uncertainty_per_1k',
    'text_risk_factors_negation_per_1k', 'text_risk_factors_modal_strong_per_1k',
    'text_risk_factors_modal_weak_per_1k', 'text_risk_factors_lm_negative_per_1k',
    'text_risk_factors_lm_positive_per_1k', 'text_risk_factors_lm_uncertainty_per_1k',
    'text_risk_factors_lm_litigious_per_1k', 'text_risk_factors_lm_strong_modal_per_1k',
    'text_risk_factors_lm_weak_modal_per_1k', 'text_risk_factors_lm_constraining_per_1k',
    'text_risk_factors_lm_tone', 'text_mdna_words', 'text_mdna_confidence', 'text_mdna_fog',
    'text_mdna_log_words_change', 'text_mdna_sim_yoy', 'text_mdna_uncertainty_per_1k',
    'text_mdna_negation_per_1k', 'text_mdna_modal_strong_per_1k', 'text_mdna_modal_weak_per_1k',
    'text_mdna_lm_negative_per_1k', 'text_mdna_lm_positive_per_1k', 'text_mdna_lm_uncertainty_per_1k',
    'text_mdna_lm_litigious_per_1k', 'text_mdna_lm_strong_modal_per_1k', 'text_mdna_lm_weak_modal_per_1k',
    'text_mdna_lm_constraining_per_1k', 'text_mdna_lm_tone', 'doc_sections', 'doc_min_section_confidence',
    'doc_facts', 'doc_has_sections', 'doc_has_facts', 'doc_is_amendment',
)

#: fs-2: the book as of the decision (queue imbalance and microprice at the window's last book row, time
#: since the mid last changed) and top-of-book OFI over longer lookbacks (decayed, 1 s / 5 s). Backfills
#: for fs-1 windows are the nearest fs-1 quantity: the window mean imbalance for the end value, the mean
#: spread for the microprice, the window's own OFI for the decayed sums, and for the mid's age half a
#: window when the mid moved inside the window, a full window when it did not (a lower bound).
FS2_MARKET_FULL = FS1_MARKET_FULL + (
    'imbalance_top1_end', 'microprice_dev_bps', 'mid_age_log_ms', 'ofi_1_ewm_1s', 'ofi_1_ewm_5s',
)
FS2_FORWARD = ForwardMigration((
    Add('imbalance_top1_end', 'imbalance_top1'),
    Add('microprice_dev_bps', 'spread_bps / 2 * imbalance_top1'),
    Add('mid_age_log_ms', '(mid_return != 0) * log1p(125.0) + (mid_return == 0) * log1p(250.0)'),
    Add('ofi_1_ewm_1s', 'ofi_1'),
    Add('ofi_1_ewm_5s', 'ofi_1'),
))

RELEASED = (
    FeatureSchema("fs-1", {"market.full": FS1_MARKET_FULL, "market.coarse": FS1_MARKET_COARSE, "edgar": FS1_EDGAR}),
    FeatureSchema("fs-2", {"market.full": FS2_MARKET_FULL, "market.coarse": FS1_MARKET_COARSE, "edgar": FS1_EDGAR},
                  FS2_FORWARD),
)
