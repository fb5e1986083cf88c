-- materialized: table
-- Per expert model version and UTC day: how often it succeeded (acted, i.e. did not
-- abstain, and raised no flag containing "error") and how fast it answered, plus the
-- same over a rolling window of the last N days (var expert_stats_days, default 7)
-- ending that day. Shadow experts are included: their actions are logged too.
WITH actions AS (
    SELECT
        {{ json_text('a.value', 'expert') }} AS expert,
        {{ json_text('a.value', 'model_version') }} AS model_version,
        d.window_start / 86400000000 AS day_number,
        CASE
            WHEN {{ json_text('a.value', 'action') }} <> 'abstain'
                 AND NOT EXISTS (SELECT 1 FROM {{ json_each_text('a.value', 'flags', 'f') }} WHERE f.value LIKE '%error%')
            THEN 1 ELSE 0
        END AS success,
        {{ json_float('a.value', 'latency_ms') }} AS latency_ms
    FROM {{ source('decision_traces') }} AS d
    CROSS JOIN {{ json_each('d.expert_actions', 'a') }}
),
daily AS (
    SELECT
        expert,
        model_version,
        day_number,
        COUNT(*) AS n_actions,
        CAST(SUM(success) AS BIGINT) AS n_success,
        SUM(latency_ms) AS latency_sum_ms,
        AVG(latency_ms) AS avg_latency_ms
    FROM actions
    GROUP BY expert, model_version, day_number
)
SELECT
    expert,
    model_version,
    day_number * 86400000000 AS day_start_us,
    {{ utc_date('day_number * 86400000000') }} AS day_utc,
    n_actions,
    n_success,
    CAST(n_success AS DOUBLE PRECISION) / n_actions AS success_rate,
    avg_latency_ms,
    {{ var('expert_stats_days', 7) }} AS rolling_days,
    CAST(SUM(n_actions) OVER rolling AS BIGINT) AS rolling_actions,
    CAST(SUM(n_success) OVER rolling AS BIGINT) AS rolling_success,
    CAST(SUM(n_success) OVER rolling AS DOUBLE PRECISION) / SUM(n_actions) OVER rolling AS rolling_success_rate,
    SUM(latency_sum_ms) OVER rolling / SUM(n_actions) OVER rolling AS rolling_avg_latency_ms
FROM daily
WINDOW rolling AS (
    PARTITION BY expert, model_version ORDER BY day_number
    RANGE BETWEEN CAST({{ var('expert_stats_days', 7) }} - 1 AS BIGINT) PRECEDING AND CURRENT ROW
)
