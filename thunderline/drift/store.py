"""Drift profiles and reports in the warehouse (tables in :mod:`thunderline.store.drift_tables`).

Guarantees: a profile is stored once per (tenant, name, feature schema version)
and reused — :func:`ensure_profile` only calls the baseline loader when none is
stored; silently replacing a stored baseline with a different one is refused
unless asked for (``replace=True``), because it would re-base every later report.
Report rows have content-derived ids per (tenant, profile, scope, feature), so
re-running a scope replaces its rows instead of duplicating them.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from thunderline.drift.profile import DriftError, DriftProfile, DriftReport, build_profile, report_rows
from thunderline.hashing import content_id
from thunderline.store.warehouse import TenantSession


def profile_id(tenant_id: str, name: str, feature_schema_version: str) -> str:
    return content_id("drift_profile", [tenant_id, name, feature_schema_version])


def report_row_id(tenant_id: str, profile_name: str, feature_schema_version: str, scope: str, feature: str) -> str:
    return content_id("drift_report", [tenant_id, profile_name, feature_schema_version, scope, feature])


def save_profile(session: TenantSession, profile: DriftProfile, *, replace: bool = False) -> str:
    """Store ``profile``; returns its id. An identical re-save is a no-op."""
    pid = profile_id(session.tenant_id, profile.name, profile.feature_schema_version)
    table = session.table("drift_profiles")
    existing = session.select("drift_profiles", table.c.id == pid, columns=["content_hash"])
    if existing and existing[0]["content_hash"] == profile.content_hash:
        return pid
    if existing and not replace:
        raise DriftError(
            f"profile {profile.name!r} ({profile.feature_schema_version}) is already stored for tenant "
            f"{session.tenant_id!r} with another baseline; pass replace=True to re-base it"
        )
    session.upsert("drift_profiles", [{
        "id": pid,
        "name": profile.name,
        "feature_schema_version": profile.feature_schema_version,
        "n_bins": profile.n_bins,
        "epsilon": profile.epsilon,
        "n_features": len(profile.features),
        "profile": profile.to_dict(),
        "content_hash": profile.content_hash,
    }])
    return pid


def load_profile(session: TenantSession, name: str, feature_schema_version: str) -> DriftProfile | None:
    table = session.table("drift_profiles")
    rows = session.select("drift_profiles", table.c.id == profile_id(session.tenant_id, name, feature_schema_version),
                          columns=["profile", "content_hash"])
    if not rows:
        return None
    profile = DriftProfile.from_dict(rows[0]["profile"])
    if profile.content_hash != rows[0]["content_hash"]:
        raise DriftError(f"stored profile {name!r} ({feature_schema_version}) does not match its content hash")
    return profile


def ensure_profile(
    session: TenantSession,
    name: str,
    feature_schema_version: str,
    baseline: Callable[[], Mapping[str, Any]],
    **build_kwargs: Any,
) -> tuple[DriftProfile, bool]:
    """The stored profile, or one built from ``baseline()`` and stored. Returns (profile, created)."""
    found = load_profile(session, name, feature_schema_version)
    if found is not None:
        return found, False
    profile = build_profile(name, baseline(), feature_schema_version=feature_schema_version, **build_kwargs)
    save_profile(session, profile)
    return profile, True


def save_report(session: TenantSession, report: DriftReport) -> int:
    """Store one row per feature; replaces an earlier report of the same scope. Returns rows written."""
    table = session.table("drift_reports")
    session.delete("drift_reports", table.c.profile_name == report.profile_name,
                   table.c.feature_schema_version == report.feature_schema_version, table.c.scope == report.scope)
    rows = []
    for r in report_rows(report):
        r["id"] = report_row_id(session.tenant_id, report.profile_name, report.feature_schema_version, report.scope,
                                r["feature"])
        rows.append(r)
    return session.insert("drift_reports", rows)


def load_report_rows(session: TenantSession, profile_name: str, scope: str) -> list[dict[str, Any]]:
    table = session.table("drift_reports")
    return session.select("drift_reports", table.c.profile_name == profile_name, table.c.scope == scope,
                          order_by=[table.c.feature])
