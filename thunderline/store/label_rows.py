"""Realised labels read back for the consumers that price or evaluate decisions (PnL, evaluation, export)."""

from __future__ import annotations

from typing import Sequence

from thunderline.store.warehouse import TenantSession


def load_labels(session: TenantSession, window_ids: Sequence[str], horizon: int) -> dict[str, dict]:
    """Filled labels of ``window_ids`` at ``horizon`` (the expert horizon in windows): window id → row.

    When a window has several specs of one horizon, a class spec wins over a delta, a clock spec
    (``spec.clock_ms``) over a chained one — the definition the experts are trained on — and then the
    smallest spec id (deterministic), so ``label`` is a class where one exists.
    """
    lab = session.table("labels")
    out: dict[str, dict] = {}
    ids = list(dict.fromkeys(window_ids))
    for i in range(0, len(ids), 1000):
        rows = session.select("labels", lab.c.feature_window_id.in_(ids[i:i + 1000]), lab.c.horizon == horizon,
                              lab.c.filled.is_(True),
                              columns=["feature_window_id", "fwd_return", "label", "spec_id", "spec", "label_type",
                                       "entry_spread_bps", "exit_spread_bps", "realised_at", "window_start"])
        rows.sort(key=lambda r: (r["feature_window_id"], r["label_type"] != "class",
                                 "clock_ms" not in (r["spec"] or {}), r["spec_id"]))
        for r in rows:
            out.setdefault(r["feature_window_id"], r)
    return out
