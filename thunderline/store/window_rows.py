"""FeatureWindow ↔ ``feature_windows`` row, both ways, so hashes survive a round trip through the warehouse."""

from __future__ import annotations

from thunderline.contracts import FeatureWindow


def window_row(w) -> dict:
    """A FeatureWindow as a feature_windows row. JSON has no NaN (jsonb refuses it): NaN is stored as null."""
    feats = {k: (None if v != v else v) for k, v in w.features.items()}
    return dict(id=w.id, tenant_id=w.tenant_id, kind=w.kind, key=w.key, window_start=w.window_start_us,
                window_end=w.window_end_us, available_at=w.available_at_us,
                feature_schema_version=w.feature_schema_version, recipe_version=w.recipe_version, status=w.status,
                features=feats, provenance=w.provenance, label_spec=w.label_spec or None,
                content_hash=w.content_hash)


def row_to_window(r: dict):
    """The inverse of :func:`window_row` (null features back to NaN), so hashes survive a round trip."""
    w = FeatureWindow(
        tenant_id=r["tenant_id"], kind=r["kind"], key=r["key"], window_start_us=int(r["window_start"]),
        window_end_us=int(r["window_end"]), available_at_us=int(r["available_at"]),
        recipe_version=r["recipe_version"],
        features={k: (float("nan") if v is None else float(v)) for k, v in r["features"].items()},
        provenance=r["provenance"], status=r["status"], feature_schema_version=r["feature_schema_version"],
        label_spec=r["label_spec"] or {},
    )
    return w.with_stored_id(r["id"]) if r.get("id") else w


def load_edgar_windows(session, ciks: list[int] | None = None, until_us: int | None = None):
    """EDGAR windows from the warehouse as FeatureWindows (for the point-in-time join), oldest first."""
    fw = session.table("feature_windows")
    where = [fw.c.kind == "edgar"]
    if ciks is not None:
        where.append(fw.c.key.in_([str(c) for c in ciks]))
    if until_us is not None:
        where.append(fw.c.available_at <= until_us)
    return [row_to_window(r) for r in session.select("feature_windows", *where, order_by=[fw.c.available_at, fw.c.id])]
