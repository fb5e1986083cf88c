-- materialized: table
-- One row per decision trace with its realised outcome: the next market window of
-- the same symbol, recipe and feature schema supplies the realised return (its
-- mid_return, a log return) and the time the outcome became known; position is
-- +1 buy, -1 sell, 0 hold/abstain; pnl = position x realised return (horizon 1
-- window, as thunderline.labels.forward_returns), before costs. The learning
-- group's `labels` and `pnl` tables hold the dead-band classes for horizons 1, 4
-- and 10 and the costed PnL; this model needs neither, so it is current as soon
-- as the next window exists. Rows without a later window keep NULLs.
WITH windows AS (
    SELECT
        w.id AS window_id,
        LEAD(w.id) OVER next_in_key AS next_window_id,
        LEAD(w.available_at) OVER next_in_key AS next_available_at,
        LEAD({{ json_float('w.features', 'mid_return') }}) OVER next_in_key AS next_mid_return
    FROM {{ source('feature_windows') }} AS w
    WHERE w.kind = 'market' AND w.status <> 'superseded'
    WINDOW next_in_key AS (PARTITION BY w.key, w.recipe_version, w.feature_schema_version ORDER BY w.window_start)
)
SELECT
    d.id AS trace_id,
    d.symbol,
    d.router_version,
    d.window_start,
    d.window_end,
    d.blended_action,
    d.blended_confidence,
    CASE d.blended_action WHEN 'buy' THEN 1 WHEN 'sell' THEN -1 ELSE 0 END AS position,
    n.next_window_id,
    n.next_available_at AS label_available_at,
    n.next_mid_return AS realized_return,
    (CASE d.blended_action WHEN 'buy' THEN 1 WHEN 'sell' THEN -1 ELSE 0 END) * n.next_mid_return AS pnl
FROM {{ source('decision_traces') }} AS d
LEFT JOIN windows AS n ON n.window_id = d.feature_window_id
