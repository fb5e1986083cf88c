"""How Thunderline's MLflow experiments, runs and models look to an MLflow user.

* Experiments are created for model training: MLflow 3 opens an experiment in
  its GenAI view (Traces, "Detect Issues") unless the experiment tag
  ``mlflow.experimentKind`` says ``custom_model_development`` (the value its UI
  writes when a user picks "Machine learning"). Existing experiments without the
  tag get it; an explicit choice by a user is kept.
* Run names are unique (``<what>-<UTC time>-<run id prefix>``): retrains of one
  expert are told apart in the runs table.
* Training data is an ``mlflow.data`` dataset input (name, digest, source URI,
  column schema) linked to the run and to its logged model, so the UI's
  Dataset column and the model page show what a model was trained on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Sequence

from thunderline.experts import _mlflow_env  # noqa: F401  (telemetry/retry settings before mlflow is imported)

# isort: split
from mlflow import MlflowClient  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402

EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
MODEL_TRAINING = "custom_model_development"


def ensure_experiment(client: MlflowClient, name: str, artifact_location: str | None) -> str:
    """Id of experiment ``name``, created for model training if missing (race-safe)."""
    exp = client.get_experiment_by_name(name)
    if exp is None:
        try:
            return client.create_experiment(name, artifact_location=artifact_location,
                                            tags={EXPERIMENT_KIND_TAG: MODEL_TRAINING})
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            exp = client.get_experiment_by_name(name)
    if EXPERIMENT_KIND_TAG not in (exp.tags or {}):
        client.set_experiment_tag(exp.experiment_id, EXPERIMENT_KIND_TAG, MODEL_TRAINING)
    return exp.experiment_id


def unique_run_name(client: MlflowClient, run_id: str, stem: str) -> str:
    """Rename run ``run_id`` to ``<stem>-<UTC yyyymmdd-HHMMSS>-<run id[:6]>`` and return the name."""
    name = f"{stem}-{dt.datetime.now(dt.timezone.utc):%Y%m%d-%H%M%S}-{run_id[:6]}"
    client.update_run(run_id, name=name)
    return name


@dataclass(frozen=True)
class TrainingData:
    """What a model was trained on, as MLflow shows it: a name, a content digest, where it lives, its columns."""

    name: str
    digest: str
    source_uri: str
    columns: Sequence[tuple[str, str]] = ()  # (column, MLflow type: double | long | string | boolean)
    rows: int | None = None

    def dataset_input(self, context: str = "training"):
        import json

        from mlflow.data.dataset_source_registry import get_registered_sources
        from mlflow.entities import Dataset, DatasetInput, InputTag
        from mlflow.types import ColSpec, Schema

        # the local-file source class by name: resolving the URI instead warns that two registered sources match
        local = next(s for s in get_registered_sources() if s.__name__ == "LocalArtifactDatasetSource")
        source = local(self.source_uri)
        schema = Schema([ColSpec(t, c) for c, t in self.columns]) if self.columns else None
        entity = Dataset(name=self.name, digest=self.digest[:36], source_type=source._get_source_type(),
                         source=source.to_json(),
                         schema=json.dumps({"mlflow_colspec": schema.to_dict()}) if schema else None,
                         profile=json.dumps({"num_rows": int(self.rows)}) if self.rows is not None else None)
        return DatasetInput(dataset=entity, tags=[InputTag(key="mlflow.data.context", value=context)])


def mlflow_type(dtype) -> str:
    """MLflow column type of a pandas/numpy dtype (for dataset schemas)."""
    kind = getattr(dtype, "kind", "O")
    return {"f": "double", "i": "long", "u": "long", "b": "boolean"}.get(kind, "string")


class TrackingUnreachable(RuntimeError):
    """The MLflow tracking server does not accept connections; the message names MLFLOW_TRACKING_URI."""


def check_reachable(tracking_uri: str, timeout_s: float = 5.0) -> None:
    """For an http(s) tracking URI, one TCP connect with ``timeout_s``: fail in seconds rather than hang.

    File and database URIs are checked by their own stores (the warehouse has a connect timeout).
    """
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(tracking_uri)
    if parts.scheme not in ("http", "https"):
        return
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as exc:
        why = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        safe = f"{parts.scheme}://{host}:{port}{parts.path}"
        raise TrackingUnreachable(f"MLFLOW_TRACKING_URI={safe}: cannot connect ({why} after at most {timeout_s:g} s)") from None
