"""Realised labels read back for the consumers that price or evaluate decisions (PnL, evaluation, export)."""

from __future__ import annotations

from typing import Sequence

from thunderline.store.warehouse import TenantSession


def load_labels(session: TenantSession, window_ids: Sequence[str], horizon: int) -> dict[str, dict]:
    """Filled labels of ``window_ids`` at ``horizon``: window id → row.

    The forward return of every spec of one horizon is the same; when a window has several, the
    class spec with the smallest id wins (deterministic), so ``label`` is a class where one exists.
    """
    lab = session.table("labels")
    out: dict[str, dict] = {}
    ids = list(dict.fromkeys(window_ids))
    for i in range(0, len(ids), 1000):
        for r in session.select("labels", lab.c.feature_window_id.in_(ids[i:i + 1000]), lab.c.horizon == horizon,
                                lab.c.filled.is_(True),
                                columns=["feature_window_id", "fwd_return", "label", "spec_id", "entry_spread_bps",
                                         "exit_spread_bps", "realised_at", "window_start"],
                                order_by=[lab.c.feature_window_id, lab.c.label_type, lab.c.spec_id]):
            out.setdefault(r["feature_window_id"], r)
    return out
