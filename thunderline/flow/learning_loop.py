"""The learning loop's steps above one partition: rolling slices, NAS into MLflow, promotion rounds.

Why here: the Dagster assets (``training_slices``, ``nas_candidates``,
``promotion``), the monthly retrain schedule and the demo call the same
functions, so a slice or a shadow produced either way is the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from thunderline.export import SliceResult, SliceSpec, TrainingSlice, build_slice, open_slice


def months_back(month: str, n: int) -> list[str]:
    """``n`` months ending with ``month`` (YYYY-MM), oldest first."""
    y, m = int(month[:4]), int(month[5:7])
    out = []
    for _ in range(max(1, int(n))):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return out[::-1]


def rolling_slice_name(prefix: str, month: str) -> str:
    return f"{prefix}-{month}"


def build_rolling_slice(session, root: str | Path, month: str, *, prefix: str = "rolling", lookback_months: int = 3,
                        horizons: Sequence[int] = (1, 4, 10), n_folds: int = 3, embargo_windows: int = 2,
                        symbols: Sequence[str] = (), ticker_map: Sequence[dict] = ()) -> SliceResult:
    """The slice of the ``lookback_months`` ending with ``month`` (only months that have windows)."""
    import sqlalchemy as sa

    from thunderline.partitioning import month_bounds_us

    wanted = months_back(month, lookback_months)
    fw = session.table("feature_windows")
    present = []
    for m in wanted:
        lo, hi = month_bounds_us(m)
        n = session.execute(sa.select(sa.func.count()).select_from(fw).where(
            fw.c.tenant_id == session.tenant_id, fw.c.kind == "market", fw.c.window_start >= lo,
            fw.c.window_start < hi)).scalar_one()
        if n:
            present.append(m)
    spec = SliceSpec(rolling_slice_name(prefix, month), tuple(present or [month]), tuple(symbols), tuple(horizons),
                     n_folds=n_folds, embargo_windows=embargo_windows)
    return build_slice(session, spec, root, ticker_map=ticker_map)


def latest_slice(session, slice_name: str) -> TrainingSlice | None:
    """The most recently exported slice called ``slice_name`` (verified), or None."""
    ej = session.table("export_jobs")
    rows = session.select("export_jobs", ej.c.slice_name == slice_name, ej.c.status == "complete",
                          columns=["path", "inserted_at"], order_by=[ej.c.inserted_at.desc()], limit=1)
    return open_slice(rows[0]["path"]) if rows else None


@dataclass
class NasOutcome:
    target: str
    runner: str
    study: str
    trials_tried: int
    pruned: int
    best_val_ic: float | None
    best_architecture: dict
    registered: list = field(default_factory=list)  # RegisteredCandidate
    error: str | None = None


def search_and_register(registry, warehouse, tenant_id: str, data: TrainingSlice, targets: Sequence, runner, *,
                        top_k: int = 1, tracker=None, actor: str = "thunderline.nas") -> list[NasOutcome]:
    """Search every target on ``data`` and register its best candidates (best → shadow).

    A target whose search fails is reported (``error``) and registers nothing; the others go on.
    """
    from thunderline.nas import NasError, register_candidates

    out = []
    for target in targets:
        try:
            result = runner.search(data, target, tracker=tracker)
        except NasError as exc:
            out.append(NasOutcome(target.name, runner.name, "", 0, 0, None, {}, [], str(exc)))
            continue
        reg = register_candidates(registry, result, data, top_k=top_k, warehouse=warehouse, tenant_id=tenant_id,
                                  actor=actor)
        best = result.best
        out.append(NasOutcome(target.name, result.runner, result.study, result.trials_tried, result.pruned,
                              best.metrics.get("val_ic") if best else None, best.architecture if best else {}, reg))
    return out


def register_inverted_candidate(registry, session, spec, history_months: Sequence[str], *, seed: int = 0,
                                actor: str = "thunderline.learn") -> tuple[str, int]:
    """A deliberately poor candidate for ``spec``: the same model trained on the history months with buy and
    sell swapped in its labels, registered as ``shadow`` (tagged with its training data's end, so the
    promotion gate judges it only on later windows). The promotion gate must reject it; returns
    (version, training windows)."""
    from thunderline.decisions.bootstrap import training_set
    from thunderline.evaluation.promotion import TRAIN_END_TAG
    from thunderline.experts.training import train_expert
    from thunderline.labels.forward import label_column
    from thunderline.partitioning import month_bounds_us
    from thunderline.store.window_rows import row_to_window

    fw = session.table("feature_windows")
    windows = []
    for m in history_months:
        lo, hi = month_bounds_us(m)
        windows += [row_to_window(r) for r in session.select("feature_windows", fw.c.kind == "market",
                                                             fw.c.window_start >= lo, fw.c.window_start < hi)]
    ts = training_set(windows, horizons=(spec.horizon,))
    col = label_column(spec.horizon)
    flipped = ts.labels.copy()
    flipped[col] = flipped[col].map({"buy": "sell", "sell": "buy", "hold": "hold"})
    fx = train_expert(spec, ts.features, flipped, seed)
    end = max(w.window_end_us for w in windows)
    v = registry.register(fx, alias="shadow", metrics={"inverted_labels": 1.0},
                          tags={TRAIN_END_TAG: str(end), "thunderline.candidate": "inverted-labels (deliberately poor)"})
    return str(v.version), len(windows)
