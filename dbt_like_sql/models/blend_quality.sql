-- materialized: table
-- Realised quality of the blend per router version, and its attribution to experts.
-- Rows with expert '(blend)' describe the blended action's pnl; one row per expert
-- model version gives its standalone pnl (its own action x realised return) and
-- attributed pnl: each decision's blended pnl split across experts in proportion
-- to their router weights (shadow experts weigh 0), so attributions sum to the blend.
-- Only decisions whose outcome is known (see decision_outcomes) count.
WITH labelled AS (
    SELECT o.trace_id, o.router_version, o.realized_return, o.pnl
    FROM {{ ref('decision_outcomes') }} AS o
    WHERE o.realized_return IS NOT NULL
),
acts AS (
    SELECT
        l.trace_id,
        l.router_version,
        l.pnl AS blend_pnl,
        {{ json_text('a.value', 'expert') }} AS expert,
        {{ json_text('a.value', 'model_version') }} AS model_version,
        {{ json_text('a.value', 'alias') }} AS alias,
        {{ json_float('a.value', 'weight') }} AS weight,
        (CASE {{ json_text('a.value', 'action') }} WHEN 'buy' THEN 1 WHEN 'sell' THEN -1 ELSE 0 END) * l.realized_return AS pnl
    FROM labelled AS l
    JOIN {{ source('decision_traces') }} AS d ON d.id = l.trace_id
    CROSS JOIN {{ json_each('d.expert_actions', 'a') }}
),
weights AS (
    SELECT trace_id, SUM(weight) AS total_weight FROM acts GROUP BY trace_id
),
per_row AS (
    SELECT l.router_version, '(blend)' AS expert, '' AS model_version, '' AS alias, l.pnl,
           l.pnl AS attributed_pnl, CAST(1.0 AS DOUBLE PRECISION) AS weight
    FROM labelled AS l
    UNION ALL
    SELECT a.router_version, a.expert, a.model_version, a.alias, a.pnl,
           CASE WHEN w.total_weight > 0 THEN a.blend_pnl * a.weight / w.total_weight ELSE CAST(0.0 AS DOUBLE PRECISION) END,
           a.weight
    FROM acts AS a
    JOIN weights AS w ON w.trace_id = a.trace_id
),
means AS (
    SELECT router_version, expert, model_version, alias, AVG(pnl) AS pnl_mean
    FROM per_row GROUP BY router_version, expert, model_version, alias
)
SELECT
    p.router_version,
    p.expert,
    p.model_version,
    p.alias,
    COUNT(*) AS n_decisions,
    SUM(p.pnl) AS pnl_sum,
    m.pnl_mean,
    SUM((p.pnl - m.pnl_mean) * (p.pnl - m.pnl_mean)) / NULLIF(COUNT(*) - 1, 0) AS pnl_variance,
    CAST(SUM(CASE WHEN p.pnl > 0 THEN 1 ELSE 0 END) AS DOUBLE PRECISION) / COUNT(*) AS hit_rate,
    SUM(p.attributed_pnl) AS attributed_pnl,
    AVG(p.weight) AS mean_weight
FROM per_row AS p
JOIN means AS m
  ON m.router_version = p.router_version AND m.expert = p.expert
 AND m.model_version = p.model_version AND m.alias = p.alias
GROUP BY p.router_version, p.expert, p.model_version, p.alias, m.pnl_mean
