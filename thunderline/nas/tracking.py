"""NAS runs in MLflow: one parent run per study, one child run per trial, in experiment ``thunderline-nas``.

Every trial run carries the architecture as params (``arch.<key>``), the
target and seed, the validation metrics, ``trials_tried`` (how many trials the
study had run when this one ended), and tags naming the slice
(``thunderline.slice_id``, ``thunderline.slice_manifest_sha256``), the study,
the runner and the trial's state (COMPLETE / PRUNED / FAIL). The study run
records the search settings, ``trials_tried`` and the best objective. Like
the expert registry, everything goes through one ``MlflowClient``; nothing
sets a process-global tracking URI.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any, Mapping

from thunderline.experts import _mlflow_env  # noqa: F401  (env before mlflow)

# isort: split

from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric, Param, RunTag  # noqa: E402

NAS_EXPERIMENT = "thunderline-nas"
TAG = "thunderline."


class NasTracker:
    """Logs studies and trials to ``experiment`` (created with ``artifact_location`` if missing)."""

    def __init__(self, client: MlflowClient, *, experiment: str = NAS_EXPERIMENT,
                 artifact_location: str | None = None) -> None:
        self.client = client
        self.experiment = experiment
        self.artifact_location = artifact_location
        self._experiment_id: str | None = None

    def experiment_id(self) -> str:
        if self._experiment_id is None:
            from thunderline.experts.tracking import ensure_experiment

            self._experiment_id = ensure_experiment(self.client, self.experiment, self.artifact_location)
        return self._experiment_id

    def _slice_tags(self, data, target) -> dict[str, str]:
        return {TAG + "slice_id": data.slice_id, TAG + "slice_manifest_sha256": data.manifest_sha256,
                TAG + "expert": target.name, TAG + "family": target.family}

    def start_study(self, *, study: str, runner: str, target, data, settings: Mapping[str, Any]) -> str:
        from thunderline.experts.tracking import unique_run_name

        run = self.client.create_run(self.experiment_id(), tags={
            **self._slice_tags(data, target), TAG + "nas.study": study, TAG + "nas.runner": runner,
            TAG + "nas.role": "study"})
        unique_run_name(self.client, run.info.run_id, study)  # a re-run study over the same slice is its own row
        params = {"runner": runner, "target": target.name, "horizon": target.horizon, "slice_id": data.slice_id,
                  **{f"setting.{k}": v for k, v in settings.items()}}
        self.client.log_batch(run.info.run_id, params=[Param(k, _s(v)) for k, v in sorted(params.items())])
        return run.info.run_id

    def log_trial(self, study_run_id: str | None, *, study: str, runner: str, target, data, number: int,
                  architecture: Mapping[str, Any], metrics: Mapping[str, float], state: str, trials_tried: int,
                  seed: int, extra_tags: Mapping[str, str] | None = None) -> str:
        tags = {**self._slice_tags(data, target), TAG + "nas.study": study, TAG + "nas.runner": runner,
                TAG + "nas.role": "trial", TAG + "nas.trial": str(number), TAG + "nas.state": state,
                TAG + "nas.architecture": json.dumps(dict(architecture), sort_keys=True), **dict(extra_tags or {})}
        if study_run_id:
            tags["mlflow.parentRunId"] = study_run_id
        run = self.client.create_run(self.experiment_id(), run_name=f"{study}-trial-{number:03d}", tags=tags)
        rid = run.info.run_id
        now = int(time.time() * 1000)
        params = {f"arch.{k}": v for k, v in architecture.items()}
        params.update({"target": target.name, "horizon": target.horizon, "seed": seed, "slice_id": data.slice_id,
                       "slice_manifest_sha256": data.manifest_sha256})
        ms = {k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(float(v))}
        ms["trials_tried"] = float(trials_tried)
        self.client.log_batch(rid, metrics=[Metric(k, v, now, 0) for k, v in sorted(ms.items())],
                              params=[Param(k, _s(v)) for k, v in sorted(params.items())])
        status = {"COMPLETE": "FINISHED", "PRUNED": "KILLED"}.get(state, "FAILED")
        self.client.set_terminated(rid, status)
        return rid

    def end_study(self, run_id: str, *, trials_tried: int, best: float | None, pruned: int = 0, failed: int = 0,
                  error: str | None = None) -> None:
        now = int(time.time() * 1000)
        ms = {"trials_tried": float(trials_tried), "trials_pruned": float(pruned), "trials_failed": float(failed)}
        if best is not None and math.isfinite(best):
            ms["best_val_ic"] = float(best)
        tags = [RunTag(TAG + "nas.error", error[:5000])] if error else []
        self.client.log_batch(run_id, metrics=[Metric(k, v, now, 0) for k, v in sorted(ms.items())], tags=tags)
        self.client.set_terminated(run_id, "FAILED" if error else "FINISHED")


def _s(v: Any) -> str:
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v, sort_keys=True)
    return str(v)
