-- materialized: table
-- How long decisions wait for their label, per symbol and UTC day of the decided
-- window: latency = when the outcome became known (the next window's available_at)
-- minus the decided window's end, in seconds; pending = no later window yet.
SELECT
    x.symbol,
    x.day_start_us,
    {{ utc_date('x.day_start_us') }} AS day_utc,
    COUNT(*) AS n_decisions,
    COUNT(x.latency_s) AS n_labelled,
    COUNT(*) - COUNT(x.latency_s) AS n_pending,
    AVG(x.latency_s) AS avg_latency_s,
    MAX(x.latency_s) AS max_latency_s
FROM (
    SELECT
        o.symbol,
        (o.window_start / 86400000000) * 86400000000 AS day_start_us,
        CAST(o.label_available_at - o.window_end AS DOUBLE PRECISION) / 1000000 AS latency_s
    FROM {{ ref('decision_outcomes') }} AS o
) AS x
GROUP BY x.symbol, x.day_start_us
