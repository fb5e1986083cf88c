"""What every NAS runner promises: a target expert, a training slice in, ranked candidates out.

A :class:`NasRunner` searches architectures for one *target* — an expert slot
``thunderline.expert.<name>`` with its family's features and its label horizon —
on a training slice's walk-forward split: it fits on the train rows and scores
on the validation rows. It returns :class:`Candidate` s (architecture, metrics,
the fitted estimator, the MLflow run of the trial) best first; registering
them is a separate step (:mod:`thunderline.nas.register`), so a failed search
registers nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from thunderline.experts.catalog import DEFAULT_LATENCY_BUDGET_MS, FAMILY_FEATURES, check_expert_name


class NasError(RuntimeError):
    """A search could not run or its output was unusable; the message says which and why."""


@dataclass(frozen=True)
class NasTarget:
    """The expert slot a search is for: candidates become versions of ``thunderline.expert.<name>``."""

    name: str
    family: str
    horizon: int
    latency_budget_ms: float = DEFAULT_LATENCY_BUDGET_MS

    def __post_init__(self) -> None:
        check_expert_name(self.name)
        if self.family not in FAMILY_FEATURES:
            raise NasError(f"NAS target {self.name!r}: unknown family {self.family!r}")
        if int(self.horizon) < 1:
            raise NasError(f"NAS target {self.name!r}: horizon must be >= 1")

    @classmethod
    def from_spec(cls, spec) -> "NasTarget":
        return cls(spec.name, spec.family, int(spec.horizon), float(spec.latency_budget_ms))

    @property
    def features(self) -> tuple[str, ...]:
        return FAMILY_FEATURES[self.family]

    @property
    def label_column(self) -> str:
        return f"label_h{self.horizon}"

    @property
    def return_column(self) -> str:
        return f"fwd_return_h{self.horizon}"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "family": self.family, "horizon": int(self.horizon),
                "features": list(self.features), "label_column": self.label_column,
                "return_column": self.return_column, "latency_budget_ms": float(self.latency_budget_ms)}


@dataclass
class Candidate:
    """One scored architecture."""

    number: int
    architecture: dict[str, Any]
    metrics: dict[str, float]
    runner: str
    run_id: str | None = None
    fit: Any = None  # thunderline.nas.space.FitResult
    external_metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def objective(self) -> float:
        v = self.metrics.get("val_ic", float("nan"))
        return float(v) if v is not None and math.isfinite(v) else -math.inf


@dataclass
class NasResult:
    runner: str
    study: str
    target: NasTarget
    slice_id: str
    manifest_sha256: str
    trials_tried: int
    candidates: list[Candidate]  # best first
    study_run_id: str | None = None
    pruned: int = 0
    failed: int = 0

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


class NasRunner(Protocol):
    """Search architectures for ``target`` on ``data`` (a :class:`thunderline.export.TrainingSlice`)."""

    name: str

    def search(self, data, target: NasTarget, *, tracker=None) -> NasResult: ...


@dataclass
class SplitArrays:
    """The target's features, labels and forward returns on one fold's train / validation rows."""

    train: pd.DataFrame
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    r_val: np.ndarray
    fold: int


def split_arrays(data, target: NasTarget, fold: int = -1) -> SplitArrays:
    """Arrays for ``target`` from a training slice's walk-forward ``fold`` (default the last)."""
    cols = list(target.features)
    missing = [c for c in (*cols, target.label_column, target.return_column) if c not in data.frame.columns]
    if missing:
        raise NasError(f"slice {data.slice_id}: no columns {missing} for target {target.name!r} "
                       f"(slice horizons: {data.manifest['spec']['horizons']})")
    train, val = data.split(fold)
    if len(train) == 0 or len(val) == 0:
        raise NasError(f"slice {data.slice_id}: fold {fold} has {len(train)} train and {len(val)} validation rows")
    return SplitArrays(train, train[cols].to_numpy(np.float64), train[target.label_column].to_numpy(dtype=object),
                       val[cols].to_numpy(np.float64), val[target.label_column].to_numpy(dtype=object),
                       val[target.return_column].to_numpy(np.float64),
                       fold if fold >= 0 else len(data.manifest["folds"]) + fold)
