"""drift_reports: each month's feature distributions against a stored baseline (PSI + KS), with a check.

Thin over :mod:`thunderline.drift` (statistics, profiles, storage, rendering). What this
module adds is the glue a month partition needs:

* **which windows** — market windows whose ``window_start`` falls in the month, EDGAR windows
  *accepted* in the month (the EDGAR partitioning), each of one recipe and one feature schema
  version, so a change of window width or lexicon never shows up as "drift";
* **bounded memory** — only the ``features`` JSON is read, in batches of ``batch_rows`` through
  a server-side cursor; what is kept is one float64 per finite value (no row dicts);
* **the baseline** — the stored profile of (recipe, schema version) when there is one (stored
  once, reused, never recomputed); otherwise it is built from ``baseline_month`` (config) or,
  by default, from the first month materialized, and stored. Re-basing is explicit
  (``rebase: true``). Two partitions racing to create the first baseline keep whichever
  committed first;
* **what a person sees** — a markdown table and a PNG per kind in the metadata, numbers the UI
  plots (max PSI, counts), the check ``psi_within_thresholds`` (WARN above 0.1, ERROR above
  0.25), one ``drift_reports`` row per feature and one ``drift.feature.psi`` telemetry event
  per measured feature.
"""

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import numpy as np
import sqlalchemy as sa

from resources import WarehouseResource
from thunderline.config import Settings
from thunderline.contracts import FEATURE_SCHEMA_VERSION
from thunderline.drift import (
    FAIL_PSI,
    WARN_PSI,
    DriftError,
    DriftProfile,
    DriftReport,
    build_profile,
    columns_from_records,
    compare,
    load_profile,
    png_markdown,
    render_markdown,
    render_png,
    save_profile,
    save_report,
)
from thunderline.store import Warehouse
from thunderline.store.postgres import month_bounds_us
from thunderline.telemetry import EventBatch, now_us
from thunderline_assets.edgar import edgar_feature_windows
from thunderline_assets.market import market_feature_windows
from jobs.keys import months

OWNERS = ["team:data-platform"]
CHECK_NAME = "psi_within_thresholds"
PSI_EVENT = "drift.feature.psi"
_RANK = {"ok": 0, "warn": 1, "fail": 2}


def _default_market_recipe() -> str:
    from thunderline.market.features import FULL_RECIPE

    return FULL_RECIPE.recipe_version


def _default_edgar_recipe() -> str:
    from thunderline.edgar.features import RECIPE_VERSION

    return RECIPE_VERSION


class DriftConfig(dg.Config):
    baseline_month: str = ""  # YYYY-MM; "" = the first month materialized. Used only when no profile is stored.
    rebase: bool = False  # rebuild and replace the stored baselines from baseline_month (or this month)
    min_windows: int = 30  # a kind with fewer windows in the month (or in its baseline) is skipped, with the reason
    batch_rows: int = 5_000  # feature rows fetched per round trip
    n_bins: int = 10
    market_recipe_version: str = ""  # "" = the full market recipe
    edgar_recipe_version: str = ""  # "" = the current EDGAR recipe
    feature_schema_version: str = FEATURE_SCHEMA_VERSION


@dataclass(frozen=True)
class DriftSource:
    """One population of feature windows: a kind, one recipe, and the column that places a window in a month."""

    kind: str  # feature_windows.kind
    recipe_version: str
    time_column: str  # window_start (market) | available_at (EDGAR: acceptance month)

    @property
    def profile_name(self) -> str:
        return f"{self.kind}_feature_windows@{self.recipe_version}"


def sources(config: DriftConfig) -> list[DriftSource]:
    return [DriftSource("market", config.market_recipe_version or _default_market_recipe(), "window_start"),
            DriftSource("edgar", config.edgar_recipe_version or _default_edgar_recipe(), "available_at")]


def month_columns(session, source: DriftSource, month: str, *, feature_schema_version: str,
                  batch_rows: int = 5_000) -> tuple[dict[str, np.ndarray], int]:
    """(feature → its finite float64 values, number of windows) for ``source``'s windows in ``month``.

    Reads only the ``features`` column, ``batch_rows`` rows at a time (a server-side cursor on
    PostgreSQL), so memory is one float per value plus one batch of JSON, whatever the month's size.
    Values are order-free (bins, quantiles and KS do not depend on row order), so no sort is asked for.
    """
    lo, hi = month_bounds_us(month)
    t = session.table("feature_windows")
    when = t.c[source.time_column]
    stmt = sa.select(t.c.features).where(
        t.c.tenant_id == session.tenant_id, t.c.kind == source.kind, t.c.recipe_version == source.recipe_version,
        t.c.feature_schema_version == feature_schema_version, when >= lo, when < hi,
        t.c.window_start < hi,  # window_start ≤ available_at: lets PostgreSQL skip later month partitions
    ).execution_options(yield_per=batch_rows)
    parts: dict[str, list[np.ndarray]] = {}
    n = 0
    for batch in session.execute(stmt).partitions():
        records = [r[0] or {} for r in batch]
        n += len(records)
        for name, col in columns_from_records(records).items():
            parts.setdefault(name, []).append(col[np.isfinite(col)])
    return {k: np.concatenate(v) for k, v in sorted(parts.items())}, n


@dataclass
class KindDrift:
    """The outcome for one source in one month: a report, or the reason there is none."""

    source: DriftSource
    windows: int
    report: DriftReport | None = None
    baseline_month: str = ""
    profile_created: bool = False
    skipped: str = ""
    no_baseline_values: list[str] = field(default_factory=list)


@dataclass
class MonthDrift:
    month: str
    kinds: list[KindDrift]
    rows_written: int = 0
    events: int = 0

    @property
    def reports(self) -> list[DriftReport]:
        return [k.report for k in self.kinds if k.report is not None]

    @property
    def status(self) -> str:
        return max((r.status for r in self.reports), key=_RANK.__getitem__, default="ok")

    def worst(self, n: int | None = 3) -> list[tuple[str, Any]]:
        """(kind, FeatureDrift), worst first across kinds (status, then PSI; an unmeasurable feature is worst)."""
        feats = [(k.source.kind, f) for k in self.kinds if k.report for f in k.report.features]
        feats.sort(key=lambda kf: (-_RANK[kf[1].status], -(kf[1].psi if kf[1].psi is not None else np.inf),
                                   kf[0], kf[1].feature))
        return feats if n is None else feats[:n]


def _baseline(warehouse: Warehouse, tenant: str, source: DriftSource, month: str, config: DriftConfig,
              current: tuple[dict[str, np.ndarray], int]) -> tuple[DriftProfile | None, bool, str, list[str]]:
    """(profile, created, why none, features without a finite baseline value)."""
    fsv = config.feature_schema_version
    with warehouse.session(tenant) as s:
        stored = load_profile(s, source.profile_name, fsv)
    if stored is not None and not config.rebase:
        return stored, False, "", []
    base_month = config.baseline_month or month
    if base_month == month:
        cols, n = current
    else:
        with warehouse.session(tenant) as s:
            cols, n = month_columns(s, source, base_month, feature_schema_version=fsv, batch_rows=config.batch_rows)
    if n < config.min_windows:
        return None, False, (f"baseline month {base_month} has {n} {source.kind} windows "
                             f"(fewer than min_windows={config.min_windows}); no baseline stored yet"), []
    empty = sorted(k for k, v in cols.items() if v.size == 0)
    profile = build_profile(source.profile_name, {k: v for k, v in cols.items() if v.size}, feature_schema_version=fsv,
                            n_bins=config.n_bins, baseline_scope=base_month)
    try:
        with warehouse.session(tenant) as s:
            save_profile(s, profile, replace=config.rebase)
        return profile, True, "", empty
    except (DriftError, sa.exc.IntegrityError):
        # another partition stored the first baseline meanwhile: use it, never overwrite it
        with warehouse.session(tenant) as s:
            stored = load_profile(s, source.profile_name, fsv)
        if stored is None:
            raise
        return stored, False, "", []


def measure_month(warehouse: Warehouse, tenant: str, month: str, config: DriftConfig) -> MonthDrift:
    """Drift of every source in ``month`` against its baseline; reports and telemetry stored in one transaction.

    Memory: one float64 per finite feature value of the month (plus the baseline month's when a
    baseline is first built from another month) — e.g. 20 features × 1 M windows ≈ 160 MB.
    """
    if config.baseline_month and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", config.baseline_month):
        raise DriftError(f"drift_reports config baseline_month={config.baseline_month!r}: expected YYYY-MM")
    if config.batch_rows < 1 or config.min_windows < 1:
        raise DriftError(f"drift_reports config: batch_rows ({config.batch_rows}) and min_windows "
                         f"({config.min_windows}) must be at least 1")
    fsv = config.feature_schema_version
    kinds = []
    for source in sources(config):
        with warehouse.session(tenant) as s:
            current = month_columns(s, source, month, feature_schema_version=fsv, batch_rows=config.batch_rows)
        kd = KindDrift(source, windows=current[1])
        if kd.windows == 0:
            kd.skipped = f"no {source.kind} windows in {month}"
        elif kd.windows < config.min_windows:
            kd.skipped = f"{kd.windows} {source.kind} windows in {month} (fewer than min_windows={config.min_windows})"
        else:
            profile, kd.profile_created, why, kd.no_baseline_values = _baseline(warehouse, tenant, source, month,
                                                                                config, current)
            if profile is None:
                kd.skipped = why
            else:
                kd.baseline_month = profile.baseline_scope
                kd.report = compare(profile, current[0], scope=month, feature_schema_version=fsv)
        kinds.append(kd)
    out = MonthDrift(month, kinds)
    ts = now_us()
    events = EventBatch()
    with warehouse.session(tenant) as s:
        for kd in kinds:
            if kd.report is None:
                continue
            out.rows_written += save_report(s, kd.report)
            for f in kd.report.features:
                if f.psi is not None:
                    events.add(PSI_EVENT, f.psi, {"feature": f.feature, "kind": kd.source.kind, "month": month,
                                                  "status": f.status, "baseline": kd.baseline_month}, ts=ts)
        out.events = len(events.flush(s))
    return out


def _kind_markdown(kd: KindDrift) -> str:
    head = f"### {kd.source.kind} features · {kd.windows:,} windows"
    if kd.report is None:
        return f"{head}\n\nNot measured: {kd.skipped}.\n"
    made = " (baseline built and stored by this run)" if kd.profile_created else ""
    parts = [head, "", f"Baseline month `{kd.baseline_month}`{made}.", "", render_markdown(kd.report)]
    if kd.no_baseline_values:
        parts.append("No finite value in the baseline (not profiled): "
                     + ", ".join(f"`{x}`" for x in kd.no_baseline_values) + "\n")
    # the plot's title names the kind, not the long profile name (recipe included), which the table heads
    short = dataclasses.replace(kd.report, profile_name=f"{kd.source.kind} features")
    parts.append(png_markdown(render_png(short), alt=f"PSI per {kd.source.kind} feature, {kd.report.scope}"))
    return "\n".join(parts) + "\n"


def drift_metadata(md: MonthDrift) -> dict[str, Any]:
    """What the asset page shows: the report (table + plot), and numbers the UI plots across partitions."""
    counts = {"ok": 0, "warn": 0, "fail": 0}
    for r in md.reports:
        for k, v in r.counts().items():
            counts[k] += v
    psis = [f.psi for r in md.reports for f in r.features if f.psi is not None]
    worst = md.worst(1)
    meta: dict[str, Any] = {
        "status": md.status if md.reports else "not measured",
        "report": dg.MetadataValue.md(f"## Feature drift, {md.month}\n\n"
                                      + "\n".join(_kind_markdown(k) for k in md.kinds)),
        "worst_feature": (f"{worst[0][0]}.{worst[0][1].feature}" if worst else "-"),
        "features_ok": counts["ok"],
        "features_warn": counts["warn"],
        "features_fail": counts["fail"],
        "dagster/row_count": dg.MetadataValue.int(md.rows_written),
        "dagster/table_name": "drift_reports",
        "telemetry_events": md.events,
    }
    if psis:  # no made-up zero in the plots when nothing was measured
        meta["max_psi"] = dg.MetadataValue.float(max(psis))
    for kd in md.kinds:
        meta[f"windows/{kd.source.kind}"] = kd.windows
        meta[f"baseline/{kd.source.kind}"] = kd.baseline_month or f"none: {kd.skipped}"
        if kd.report is not None:
            meta[f"profile_hash/{kd.source.kind}"] = kd.report.profile_hash
    return meta


def drift_check(md: MonthDrift) -> dg.AssetCheckResult:
    """Passed when every measured feature has PSI ≤ 0.1; WARN above, ERROR above 0.25 (or unmeasurable)."""
    failing = [{"kind": k, "feature": f.feature, "psi": f.psi, "status": f.status, "note": f.note}
               for k, f in md.worst(n=None) if f.status != "ok"]
    meta = {"max_psi": max((f.psi for r in md.reports for f in r.features if f.psi is not None), default=0.0),
            "warn_above": WARN_PSI, "fail_above": FAIL_PSI,
            "features_over_threshold": dg.MetadataValue.json(failing[:50])}
    if not md.reports:
        return dg.AssetCheckResult(check_name=CHECK_NAME, passed=False, severity=dg.AssetCheckSeverity.WARN,
                                   description="nothing measured: " + "; ".join(k.skipped for k in md.kinds),
                                   metadata=meta)
    status = md.status
    severity = dg.AssetCheckSeverity.ERROR if status == "fail" else dg.AssetCheckSeverity.WARN
    top = ", ".join(f"{x['kind']}.{x['feature']} {x['psi'] if x['psi'] is None else format(x['psi'], '.3f')}"
                    for x in failing[:5])
    desc = "every feature within PSI 0.1" if status == "ok" else f"{len(failing)} feature(s) drifted: {top}"
    return dg.AssetCheckResult(check_name=CHECK_NAME, passed=status == "ok", severity=severity, description=desc,
                               metadata=meta)


@dg.asset(
    partitions_def=months,
    deps=[
        dg.AssetDep(market_feature_windows,
                    partition_mapping=dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name="month")),
        dg.AssetDep(edgar_feature_windows),
    ],
    group_name="observability",
    kinds={"sql", "numpy", "matplotlib"},
    owners=OWNERS,
    description="Monthly feature drift (PSI, KS) of market and EDGAR windows against a stored baseline profile.",
    check_specs=[dg.AssetCheckSpec(CHECK_NAME, asset="drift_reports",
                                   description=f"PSI ≤ {WARN_PSI:g} for every feature: WARN above, "
                                               f"ERROR above {FAIL_PSI:g} or when a feature has no value")],
)
def drift_reports(context: dg.AssetExecutionContext, config: DriftConfig, warehouse: WarehouseResource):
    month = context.partition_key[:7]
    md = measure_month(warehouse.get(), warehouse.tenant_id, month, config)
    for kd in md.kinds:
        if kd.report is None:
            context.log.info(f"{month} {kd.source.kind}: not measured ({kd.skipped})")
        else:
            c = kd.report.counts()
            context.log.info(f"{month} {kd.source.kind}: {kd.windows:,} windows vs baseline {kd.baseline_month}: "
                             f"{c['ok']} ok, {c['warn']} warn, {c['fail']} fail")
    yield dg.MaterializeResult(metadata=drift_metadata(md))
    yield drift_check(md)


ASSETS = [drift_reports]


def defs(settings: Settings) -> dg.Definitions:
    """The observability domain: the SQL models, monthly drift reports (with their check), flow telemetry."""
    from thunderline_assets.sql_models import SQL_MODEL_ASSETS
    from thunderline_assets.telemetry import ASSETS as TELEMETRY_ASSETS

    return dg.Definitions(assets=[*SQL_MODEL_ASSETS, *ASSETS, *TELEMETRY_ASSETS])


def run_drift_reports(settings, months_: list[str], *, baseline_month: str = "", instance=None,
                      resources: dict | None = None) -> list[tuple[str, bool]]:
    """Materialize drift_reports for ``months_`` (YYYY-MM, in order) through the Dagster instance.

    Returns (month, run succeeded) per month; the runs show in the UI like any other. Used by ``thunderline demo``.
    """
    from resources import build_resources
    from thunderline_assets.ingest_command import instance_for

    instance = instance or instance_for(settings)
    resources = resources or build_resources(settings)
    from thunderline_assets.ingest_command import QUIET_CONSOLE

    run_config = {"ops": {"drift_reports": {"config": {"baseline_month": baseline_month}}}, **QUIET_CONSOLE}
    out = []
    for m in months_:
        result = dg.materialize([drift_reports], partition_key=f"{m}-01", instance=instance, resources=resources,
                                run_config=run_config, raise_on_error=False)
        out.append((m, result.success))
    return out


def worst_features(settings, month: str, n: int = 3) -> list[dict[str, Any]]:
    """The month's ``n`` most drifted features as stored in ``drift_reports`` (unmeasurable ones first)."""
    wh = Warehouse(settings.warehouse_url)
    try:
        with wh.session(settings.tenant_id) as s:
            t = s.table("drift_reports")
            rows = s.select("drift_reports", t.c.scope == month,
                            columns=["profile_name", "feature", "psi", "ks_statistic", "status"])
    finally:
        wh.dispose()
    rows.sort(key=lambda r: (-_RANK[r["status"]], -(r["psi"] if r["psi"] is not None else np.inf),
                             r["profile_name"], r["feature"]))
    for r in rows:
        r["kind"] = r["profile_name"].split("_feature_windows@")[0]
    return rows[:n]
