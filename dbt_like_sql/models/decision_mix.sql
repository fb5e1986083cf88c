-- materialized: view
-- Blended actions per symbol and UTC day of the decided window: counts of buy, sell,
-- hold and abstain, and the abstain share (a rising share means experts time out,
-- breach risk limits or disagree).
SELECT
    x.symbol,
    x.day_start_us,
    {{ utc_date('x.day_start_us') }} AS day_utc,
    COUNT(*) AS n_decisions,
    SUM(CASE WHEN x.blended_action = 'buy' THEN 1 ELSE 0 END) AS n_buy,
    SUM(CASE WHEN x.blended_action = 'sell' THEN 1 ELSE 0 END) AS n_sell,
    SUM(CASE WHEN x.blended_action = 'hold' THEN 1 ELSE 0 END) AS n_hold,
    SUM(CASE WHEN x.blended_action = 'abstain' THEN 1 ELSE 0 END) AS n_abstain,
    CAST(SUM(CASE WHEN x.blended_action = 'abstain' THEN 1 ELSE 0 END) AS DOUBLE PRECISION) / COUNT(*) AS abstain_share
FROM (
    SELECT d.symbol, d.blended_action, (d.window_start / 86400000000) * 86400000000 AS day_start_us
    FROM {{ source('decision_traces') }} AS d
) AS x
GROUP BY x.symbol, x.day_start_us
