"""Monthly drift: which windows a month holds, the baseline policy, and the measurement stored in one transaction.

What a month partition needs on top of the statistics (:mod:`thunderline.drift.profile`):

* **which windows** — market windows whose ``window_start`` falls in the month, EDGAR windows
  *accepted* in the month (the EDGAR partitioning), each of one recipe and one feature schema
  version, so a change of window width or lexicon never shows up as "drift";
* **bounded memory** — only the ``features`` JSON is read, in batches of ``batch_rows`` through
  a server-side cursor; what is kept is one float64 per finite value (no row dicts);
* **the baseline** — the stored profile of (recipe, schema version) when there is one (stored
  once, reused, never recomputed); otherwise it is built from ``baseline_month`` or, by default,
  from the first month measured, and stored. Re-basing is explicit (``rebase``). Two partitions
  racing to create the first baseline keep whichever committed first.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlalchemy as sa

from thunderline.contracts import FEATURE_SCHEMA_VERSION
from thunderline.drift.profile import (
    DriftError,
    DriftProfile,
    DriftReport,
    build_profile,
    columns_from_records,
    compare,
)
from thunderline.drift.render import png_markdown, render_markdown, render_png
from thunderline.drift.store import load_profile, save_profile, save_report
from thunderline.partitioning import month_bounds_us
from thunderline.store import Warehouse
from thunderline.telemetry import EventBatch, now_us

PSI_EVENT = "drift.feature.psi"
_RANK = {"ok": 0, "warn": 1, "fail": 2}


def _default_market_recipe() -> str:
    from thunderline.market.features import FULL_RECIPE

    return FULL_RECIPE.recipe_version


def _default_edgar_recipe() -> str:
    from thunderline.edgar.features import RECIPE_VERSION

    return RECIPE_VERSION


@dataclass(frozen=True)
class DriftPolicy:
    """How a month is measured (the ``drift_reports`` asset's config carries the same fields)."""

    baseline_month: str = ""  # YYYY-MM; "" = the first month measured. Used only when no profile is stored.
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


def sources(config: DriftPolicy) -> list[DriftSource]:
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


def _baseline(warehouse: Warehouse, tenant: str, source: DriftSource, month: str, config: DriftPolicy,
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


def measure_month(warehouse: Warehouse, tenant: str, month: str, config: DriftPolicy) -> MonthDrift:
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


def kind_markdown(kd: KindDrift) -> str:
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


def worst_features(session, month: str, n: int = 3) -> list[dict[str, Any]]:
    """The month's ``n`` most drifted features as stored in ``drift_reports`` (unmeasurable ones first)."""
    t = session.table("drift_reports")
    rows = session.select("drift_reports", t.c.scope == month,
                          columns=["profile_name", "feature", "psi", "ks_statistic", "status"])
    rows.sort(key=lambda r: (-_RANK[r["status"]], -(r["psi"] if r["psi"] is not None else np.inf),
                             r["profile_name"], r["feature"]))
    for r in rows:
        r["kind"] = r["profile_name"].split("_feature_windows@")[0]
    return rows[:n]
