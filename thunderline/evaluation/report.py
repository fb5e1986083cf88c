"""Running a walk-forward evaluation against the platform's stores, and keeping what it found.

Reads market windows (warehouse) and quotes (lake) for the chosen symbols and period, runs
:mod:`thunderline.evaluation.walkforward` per fold, then stores every (fold, model, horizon) row
in ``signal_evaluations`` (replaced by id, so a re-run of the same spec is idempotent) and logs
one MLflow run per evaluation (metrics per model and horizon, the table as an artifact).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from thunderline.evaluation.walkforward import (
    Fold,
    FoldResult,
    evaluate_fold,
    format_table,
    report_rows,
    run_id_of,
    verdict,
    walk_forward_folds,
)
from thunderline.labels.clock import DEFAULT_CLOCK_HORIZONS_MS, load_quote_mids

EXPERIMENT = "thunderline-evaluation"


def months_between(lo_us: int, hi_us: int) -> list[str]:
    """Every YYYY-MM month that [lo, hi) touches (UTC)."""
    # tz-naive UTC: to_period on a tz-aware stamp warns that it drops the zone
    lo = pd.Timestamp(int(lo_us), unit="us").to_period("M")
    hi = pd.Timestamp(int(hi_us) - 1, unit="us").to_period("M")
    return [str(p) for p in pd.period_range(lo, hi, freq="M")]


def load_market_windows(session, symbols: Sequence[str] | None, lo_us: int, hi_us: int) -> list:
    """Market feature windows starting in [lo, hi) of ``symbols`` (None: all), in time order per symbol."""
    from thunderline.store.window_rows import row_to_window

    fw = session.table("feature_windows")
    where = [fw.c.kind == "market", fw.c.window_start >= lo_us, fw.c.window_start < hi_us]
    if symbols:
        where.append(fw.c.key.in_(list(symbols)))
    rows = session.select("feature_windows", *where, order_by=[fw.c.key, fw.c.window_start, fw.c.id])
    return [row_to_window(r) for r in rows]


def window_span(session, symbols: Sequence[str] | None, lo_us: int, hi_us: int) -> tuple[int, int] | None:
    """(first window start, last window end) of the market windows of ``symbols`` starting in [lo, hi)."""
    import sqlalchemy as sa

    fw = session.table("feature_windows")
    where = [fw.c.tenant_id == session.tenant_id, fw.c.kind == "market", fw.c.window_start >= lo_us,
             fw.c.window_start < hi_us]
    if symbols:
        where.append(fw.c.key.in_(list(symbols)))
    row = session.execute(sa.select(sa.func.min(fw.c.window_start), sa.func.max(fw.c.window_end)).where(*where)).one()
    return None if row[0] is None else (int(row[0]), int(row[1]))


def load_mids(lake, tenant_id: str, symbols: Sequence[str], lo_us: int, hi_us: int) -> dict:
    """symbol → QuoteMids from the lake over [lo, hi] (months it touches)."""
    months = months_between(lo_us, hi_us + 1)
    return {s: load_quote_mids(lake, tenant_id, months, s, lo_us=lo_us, hi_us=hi_us) for s in symbols}


@dataclass
class EvaluationRun:
    run_id: str
    spec: dict
    results: list[FoldResult] = field(default_factory=list)
    mlflow_run_id: str | None = None

    def tables(self) -> str:
        return "\n\n".join(format_table(r) for r in self.results)

    def verdicts(self) -> list[dict]:
        return [verdict(r) for r in self.results]

    def verdict_lines(self) -> list[str]:
        """Each fold × horizon's verdict in one line (what ``thunderline evaluate`` and the asset's report say)."""
        return [f"{h}: blend rank IC {c['blend_rank_ic']:+.4f} vs best expert {c['best_expert']} "
                f"{c['best_expert_rank_ic']:+.4f} ({'≥' if c['beats_best_expert'] else '<'}), linear OFI "
                f"{c['linear_ofi_rank_ic']:+.4f} ({'≥' if c['beats_linear_ofi'] else '<'}); hit rate on moved "
                f"windows {c['blend_hit_rate']:.3f}; shuffled labels inside the null band: "
                f"{c['shuffled_inside_band']}; the best fixed weighting after the fact {c['weighting_ceiling_rank_ic']:+.4f}"
                for v in self.verdicts() for h, c in v.items()]


def evaluate_period(session, lake, tenant_id: str, *, symbols: Sequence[str], folds: Sequence[Fold], seed: int = 0,
                    horizons_ms: Sequence[int] = DEFAULT_CLOCK_HORIZONS_MS, shuffle_train: bool = False,
                    n_boot: int = 400, n_perm: int = 200, ticker_map=(), specs=None) -> EvaluationRun:
    """Run every fold on the windows and quotes of ``symbols`` (see :mod:`~thunderline.evaluation.walkforward`)."""
    from thunderline.store.window_rows import load_edgar_windows

    lo = min(min(f.train_start_us, f.test_start_us) for f in folds)
    hi = max(max(f.train_end_us, f.test_end_us) for f in folds)
    windows = load_market_windows(session, symbols, lo, hi)
    if not windows:
        raise ValueError(f"no market windows for {list(symbols)} between {lo} and {hi} µs: ingest them first")
    syms = sorted({w.key for w in windows})
    mids = load_mids(lake, tenant_id, syms, lo, hi + max(horizons_ms) * 1000)
    edgar = load_edgar_windows(session, None, hi) if ticker_map else ()
    spec = {"symbols": ",".join(syms), "folds": json.dumps([f.as_dict() for f in folds]), "seed": seed,
            "horizons_ms": ",".join(map(str, horizons_ms)), "shuffle_train": shuffle_train}
    run = EvaluationRun(run_id_of(spec), spec)
    for f in folds:
        run.results.append(evaluate_fold(windows, mids, f, seed=seed, horizons_ms=horizons_ms, tenant_id=tenant_id,
                                         edgar_windows=edgar, ticker_map=ticker_map, n_boot=n_boot, n_perm=n_perm,
                                         shuffle_train_seed=(seed + 1 if shuffle_train else None), specs=specs))
    return run


def store_run(session, run: EvaluationRun) -> int:
    """Upsert the run's rows into ``signal_evaluations``; returns how many."""
    rows = report_rows(session.tenant_id, run.run_id, run.results)
    t = session.table("signal_evaluations")
    session.delete("signal_evaluations", t.c.run_id == run.run_id)
    session.insert("signal_evaluations", rows)
    return len(rows)


def log_mlflow(tracking_uri: str, run: EvaluationRun, *, artifact_location: str | None = None) -> str:
    """One MLflow run in ``thunderline-evaluation``: params = the spec, metrics = per fold/model/horizon
    rank IC, IC and hit rate, the text table and the full rows as artifacts. Returns the run id."""
    from thunderline.experts import _mlflow_env  # noqa: F401  (env before mlflow)
    from thunderline.experts._mlflow_env import quiet_mlflow_internals
    # isort: split
    import mlflow
    from mlflow.tracking import MlflowClient

    with quiet_mlflow_internals():
        client = MlflowClient(tracking_uri=tracking_uri)
        exp = client.get_experiment_by_name(EXPERIMENT)
        exp_id = exp.experiment_id if exp else client.create_experiment(EXPERIMENT,
                                                                       artifact_location=artifact_location)
        r = client.create_run(exp_id, run_name=f"evaluate {run.spec['symbols']}",
                              tags={"thunderline.evaluation_run": run.run_id})
        for k, v in run.spec.items():
            client.log_param(r.info.run_id, k, str(v)[:500])
        metrics = []
        import time as _time

        now = int(_time.time() * 1000)
        for res in run.results:
            for row in res.rows:
                key = f"f{res.fold.index}.{row['model'].replace(':', '.')}.{int(row['horizon_ms'])}ms"
                for m in ("rank_ic", "ic", "hit_rate", "net_bps"):
                    v = row.get(m)
                    if v is not None and np.isfinite(v):
                        metrics.append(mlflow.entities.Metric(f"{key}.{m}", float(v), now, 0))
            for h, c in res.ceiling.items():
                if np.isfinite(c["rank_ic"]):
                    metrics.append(mlflow.entities.Metric(f"f{res.fold.index}.weighting_ceiling.{int(h)}ms.rank_ic",
                                                          float(c["rank_ic"]), now, 0))
        for i in range(0, len(metrics), 900):
            client.log_batch(r.info.run_id, metrics=metrics[i:i + 900])
        client.log_text(r.info.run_id, run.tables(), "evaluation.txt")
        client.log_text(r.info.run_id, json.dumps([{"fold": res.fold.as_dict(), "rows": res.rows,
                                                    "control": res.control, "ceiling": res.ceiling,
                                                    "fit": res.fit_report,
                                                    "gap_rates": res.gap_rates} for res in run.results],
                                                  default=_json_default, indent=1), "evaluation.json")
        client.set_terminated(r.info.run_id)
    run.mlflow_run_id = r.info.run_id
    return r.info.run_id


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def single_fold(train_from_us: int, train_to_us: int, test_from_us: int, test_to_us: int, *,
                embargo_us: int = 5_000_000) -> Fold:
    """One explicit fold. Forward (test after training): the test period starts no earlier than
    ``train_to + embargo``. Backward (test before training, e.g. decide the morning with experts
    trained on the afternoon): it ends no later than ``train_from − embargo``, so no test label
    reads a quote the training features were built from."""
    if train_from_us < train_to_us <= test_from_us < test_to_us:
        return Fold(0, int(train_from_us), int(train_to_us), int(max(test_from_us, train_to_us + embargo_us)),
                    int(test_to_us))
    if test_from_us < test_to_us <= train_from_us < train_to_us and test_from_us < train_from_us - embargo_us:
        return Fold(0, int(train_from_us), int(train_to_us), int(test_from_us),
                    int(min(test_to_us, train_from_us - embargo_us)))
    raise ValueError("periods must not overlap: train_from < train_to ≤ from < to, or from < to ≤ train_from < "
                     "train_to (the test period before training)")


__all__ = ["EvaluationRun", "evaluate_period", "load_market_windows", "load_mids", "log_mlflow", "months_between",
           "single_fold", "store_run", "walk_forward_folds"]
