-- materialized: table
-- Feature windows per kind, key (symbol or CIK) and UTC hour of window start, by status:
-- the first place to look when a symbol or a filer goes quiet.
SELECT
    x.kind,
    x.key,
    x.hour_start_us,
    {{ utc_hour('x.hour_start_us') }} AS hour_utc,
    COUNT(*) AS n_windows,
    SUM(CASE WHEN x.status = 'filled' THEN 1 ELSE 0 END) AS n_filled,
    SUM(CASE WHEN x.status = 'open' THEN 1 ELSE 0 END) AS n_open,
    SUM(CASE WHEN x.status = 'superseded' THEN 1 ELSE 0 END) AS n_superseded,
    COUNT(DISTINCT x.feature_schema_version) AS n_schema_versions,
    MIN(x.window_start) AS first_window_start,
    MAX(x.window_end) AS last_window_end
FROM (
    SELECT
        w.kind,
        w.key,
        w.status,
        w.feature_schema_version,
        w.window_start,
        w.window_end,
        (w.window_start / 3600000000) * 3600000000 AS hour_start_us
    FROM {{ source('feature_windows') }} AS w
) AS x
GROUP BY x.kind, x.key, x.hour_start_us
