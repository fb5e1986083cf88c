"""Feature drift: PSI and KS of current feature windows against a stored baseline profile.

Typical use (no Dagster needed)::

    with warehouse.session(tenant) as s:
        profile, _ = ensure_profile(s, "market_feature_windows", "fs-1",
                                    lambda: columns_from_records(baseline_feature_dicts))
        report = compare(profile, columns_from_records(current_feature_dicts), scope="2024-02")
        save_report(s, report)
    render_markdown(report); render_png(report)
"""

from thunderline.drift.profile import (
    DriftError,
    DriftProfile,
    DriftReport,
    FeatureDrift,
    FeatureProfile,
    build_profile,
    columns_from_records,
    compare,
)
from thunderline.drift.render import png_markdown, render_markdown, render_png
from thunderline.drift.stats import DEFAULT_BINS, DEFAULT_EPSILON, FAIL_PSI, WARN_PSI, psi, status_of
from thunderline.drift.store import ensure_profile, load_profile, load_report_rows, save_profile, save_report

__all__ = [
    "DriftError", "DriftProfile", "DriftReport", "FeatureDrift", "FeatureProfile", "build_profile",
    "columns_from_records", "compare", "render_markdown", "render_png", "png_markdown", "psi", "status_of",
    "DEFAULT_BINS", "DEFAULT_EPSILON", "WARN_PSI", "FAIL_PSI",
    "ensure_profile", "load_profile", "load_report_rows", "save_profile", "save_report",
]
