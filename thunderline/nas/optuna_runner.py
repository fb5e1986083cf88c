"""The default NAS runner: an Optuna study (TPE, median pruning) over MLPs and gradient-boosted trees.

Search space (:func:`suggest_architecture`):

* ``mlp``: depth 1–3 layers of one width from {16, 32, 64, 128}, activation
  relu / tanh / logistic, dropout 0–0.5, learning rate 1e-4–3e-2 (log), L2
  1e-6–1e-2 (log), batch size {128, 256, 512}; early stopping on validation
  log loss (``patience`` epochs);
* ``gbm``: 20–``max_trees`` trees (step 20, default 200), depth 2–6, learning rate 0.02–0.3 (log),
  L2 1e-3–10 (log), min samples per leaf 10–200 (log).

The objective is the validation IC (see :mod:`thunderline.nas.space`); every
epoch / round of trees reports it, and the median pruner stops trials that
fall below the median of earlier trials at the same step.

Reproducible: the sampler is seeded, trials run one after another
(``n_jobs=1``), trial ``k`` fits with seed ``seed + k``, and a time budget is
opt-in (``timeout_s``; with it the number of trials depends on the machine).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Sequence

from thunderline.nas.protocol import Candidate, NasError, NasResult, NasTarget, split_arrays
from thunderline.nas.space import ArchitectureError, FitResult, fit_architecture

log = logging.getLogger(__name__)


def suggest_architecture(trial, kinds: Sequence[str] = ("mlp", "gbm"), *, max_epochs: int = 30,
                         patience: int = 4, max_trees: int = 200) -> dict:
    kind = trial.suggest_categorical("kind", list(kinds))
    if kind == "mlp":
        depth = trial.suggest_int("mlp_depth", 1, 3)
        width = trial.suggest_categorical("mlp_width", [16, 32, 64, 128])
        return {"kind": "mlp", "hidden": [width] * depth,
                "activation": trial.suggest_categorical("mlp_activation", ["relu", "tanh", "logistic"]),
                "dropout": trial.suggest_float("mlp_dropout", 0.0, 0.5),
                "learning_rate": trial.suggest_float("mlp_learning_rate", 1e-4, 3e-2, log=True),
                "l2": trial.suggest_float("mlp_l2", 1e-6, 1e-2, log=True),
                "batch_size": trial.suggest_categorical("mlp_batch_size", [128, 256, 512]),
                "max_epochs": max_epochs, "patience": patience}
    return {"kind": "gbm",
            "max_iter": trial.suggest_int("gbm_max_iter", 20, max(20, max_trees), step=20),
            "max_depth": trial.suggest_int("gbm_max_depth", 2, 6),
            "learning_rate": trial.suggest_float("gbm_learning_rate", 0.02, 0.3, log=True),
            "l2_regularization": trial.suggest_float("gbm_l2", 1e-3, 10.0, log=True),
            "min_samples_leaf": trial.suggest_int("gbm_min_samples_leaf", 10, 200, log=True)}


@dataclass
class OptunaNasRunner:
    """``n_trials`` seeded TPE trials (optionally capped by ``timeout_s``), median pruning."""

    n_trials: int = 20
    seed: int = 0
    kinds: tuple[str, ...] = ("mlp", "gbm")
    timeout_s: float | None = None
    max_epochs: int = 30
    patience: int = 4
    max_trees: int = 200
    pruner_startup_trials: int = 4
    pruner_warmup_steps: int = 3
    fold: int = -1
    name: str = "optuna"

    def settings(self) -> dict:
        return {"n_trials": self.n_trials, "seed": self.seed, "kinds": list(self.kinds), "timeout_s": self.timeout_s,
                "max_epochs": self.max_epochs, "patience": self.patience, "max_trees": self.max_trees,
                "sampler": "TPESampler",
                "pruner": f"MedianPruner(startup={self.pruner_startup_trials}, warmup={self.pruner_warmup_steps})",
                "fold": self.fold}

    def search(self, data, target: NasTarget, *, tracker=None) -> NasResult:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        arrays = split_arrays(data, target, self.fold)
        study_name = f"nas-{target.name}-{data.manifest_sha256[:12]}-s{self.seed}"
        study_run = tracker.start_study(study=study_name, runner=self.name, target=target, data=data,
                                        settings=self.settings()) if tracker else None
        study = optuna.create_study(
            study_name=study_name, direction="maximize",
            sampler=optuna.samplers.TPESampler(seed=self.seed, n_startup_trials=min(5, max(1, self.n_trials // 2))),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=self.pruner_startup_trials,
                                               n_warmup_steps=self.pruner_warmup_steps))
        fits: dict[int, FitResult] = {}
        runs: dict[int, str] = {}
        counts = {"tried": 0, "pruned": 0, "failed": 0}

        def objective(trial) -> float:
            arch = suggest_architecture(trial, self.kinds, max_epochs=self.max_epochs, patience=self.patience,
                                        max_trees=self.max_trees)
            seed = self.seed + trial.number
            last = {"ic": float("nan"), "step": 0}

            def report(step: int, value: float) -> None:
                last.update(ic=value, step=step)
                trial.report(value if math.isfinite(value) else -1.0, step)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"val_ic {value:.4f} at step {step} below the median")

            counts["tried"] += 1
            try:
                fit = fit_architecture(arch, arrays.X_train, arrays.y_train, arrays.X_val, arrays.y_val,
                                       arrays.r_val, seed=seed, report=report)
            except optuna.TrialPruned:
                counts["pruned"] += 1
                if tracker:
                    tracker.log_trial(study_run, study=study_name, runner=self.name, target=target, data=data,
                                      number=trial.number, architecture=arch,
                                      metrics={"val_ic": last["ic"], "steps": last["step"]}, state="PRUNED",
                                      trials_tried=counts["tried"], seed=seed)
                raise
            except ArchitectureError as exc:
                counts["failed"] += 1
                if tracker:
                    tracker.log_trial(study_run, study=study_name, runner=self.name, target=target, data=data,
                                      number=trial.number, architecture=arch, metrics={}, state="FAIL",
                                      trials_tried=counts["tried"], seed=seed,
                                      extra_tags={"thunderline.nas.error": str(exc)[:500]})
                raise
            fits[trial.number] = fit
            if tracker:
                runs[trial.number] = tracker.log_trial(
                    study_run, study=study_name, runner=self.name, target=target, data=data, number=trial.number,
                    architecture=fit.architecture, metrics={**fit.metrics, "steps": fit.steps}, state="COMPLETE",
                    trials_tried=counts["tried"], seed=seed)
            ic = fit.metrics["val_ic"]
            return ic if math.isfinite(ic) else -1.0

        error = None
        try:
            study.optimize(objective, n_trials=self.n_trials, timeout=self.timeout_s, n_jobs=1,
                           catch=(ArchitectureError,), gc_after_trial=False)
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            done = sorted(fits, key=lambda k: (-_obj(fits[k]), k))
            if tracker and study_run:
                tracker.end_study(study_run, trials_tried=counts["tried"],
                                  best=_obj(fits[done[0]]) if done else None, pruned=counts["pruned"],
                                  failed=counts["failed"], error=error)
        candidates = [Candidate(k, fits[k].architecture, dict(fits[k].metrics), self.name, runs.get(k), fits[k])
                      for k in done]
        if not candidates:
            raise NasError(f"NAS for {target.name!r}: none of {counts['tried']} trials completed "
                           f"({counts['pruned']} pruned, {counts['failed']} failed)")
        return NasResult(self.name, study_name, target, data.slice_id, data.manifest_sha256, counts["tried"],
                         candidates, study_run, counts["pruned"], counts["failed"])


def _obj(fit: FitResult) -> float:
    v = fit.metrics.get("val_ic", float("nan"))
    return v if math.isfinite(v) else -math.inf
