"""Training experts on feature windows and realised labels; measuring what they learned.

Why plain scikit-learn on a generic DataFrame: the feature pipelines (market
window kernels, EDGAR deltas) and the label realiser (:mod:`thunderline.labels`)
produce frames; an expert only needs its family's columns and a label per row,
so the same code trains on synthetic windows, a backfilled month or a NAS slice.

Guarantees:

* deterministic: the same frame, labels and ``seed`` give bitwise-identical
  fitted estimators (seeded estimators, no parallel randomness, rows in the
  given order);
* rows whose label is unknown (``None``/NaN: not realised yet) or whose
  features are not all finite are left out of the fit, and counted;
* each expert reads only its family's features (:mod:`thunderline.experts.catalog`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from thunderline.experts._threads import single_threaded
from thunderline.experts.catalog import DEFAULT_EXPERT_SPECS, ExpertSpec, clock_horizon_ms, registered_model_name
from thunderline.experts.predict import CLASS_ORDER, ExpertInputError, feature_matrix, predict_frame
from thunderline.labels.forward import label_column

#: Fewer usable rows than this and an expert is not trained (its metrics would be noise).
MIN_TRAINING_ROWS = 50


@dataclass(frozen=True, eq=False)
class FittedExpert:
    """A trained expert in memory: estimator + ordered features + metadata. Predicts like its pyfunc."""

    name: str
    family: str
    horizon: int
    features: tuple[str, ...]
    estimator: Any
    estimator_kind: str
    params: Mapping[str, Any]
    feature_schema_version: str
    latency_budget_ms: float
    seed: int
    train_info: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    #: a few training rows (features only, finite): the input example stored with the model
    example: pd.DataFrame | None = None
    #: the clock horizon its labels were realised over (ms)
    horizon_ms: int | None = None

    @property
    def registered_model(self) -> str:
        return registered_model_name(self.name)

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(str(c) for c in self.estimator.classes_)

    def predict(self, df: pd.DataFrame) -> pd.DataFrame:
        """See :func:`thunderline.experts.predict.predict_frame`."""
        return predict_frame(self.estimator, self.features, df, expert=self.name)

    def metadata(self) -> dict[str, Any]:
        """JSON-able description stored with the model (MLmodel metadata, model config, registry tags)."""
        return {
            "name": self.name,
            "family": self.family,
            "horizon": int(self.horizon),
            "horizon_ms": clock_horizon_ms(self.horizon, self.horizon_ms),
            "features": list(self.features),
            "feature_schema_version": self.feature_schema_version,
            "estimator": self.estimator_kind,
            "params": {k: _jsonable(v) for k, v in self.params.items()},
            "classes": list(self.classes),
            "latency_budget_ms": float(self.latency_budget_ms),
            "seed": int(self.seed),
            "train_info": {k: _jsonable(v) for k, v in self.train_info.items()},
            "description": self.description,
        }


def _jsonable(v: Any) -> Any:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def build_estimator(spec: ExpertSpec, seed: int):
    """A fresh, seeded, unfitted scikit-learn classifier for ``spec``."""
    p = dict(spec.params)
    if spec.estimator == "logit":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler

        return Pipeline(
            [
                ("scale", StandardScaler()),
                ("logit", LogisticRegression(C=float(p.pop("C", 1.0)), max_iter=int(p.pop("max_iter", 1000)),
                                             random_state=seed, **p)),
            ]
        )
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=int(p.pop("max_iter", 60)),
        max_depth=p.pop("max_depth", 3),
        learning_rate=float(p.pop("learning_rate", 0.1)),
        l2_regularization=float(p.pop("l2_regularization", 0.0)),
        early_stopping=False,  # a validation split would make the fit depend on more than the seed
        random_state=seed,
        **p,
    )


def _label_array(labels: Any, spec: ExpertSpec, index: pd.Index) -> np.ndarray:
    if isinstance(labels, pd.DataFrame):
        col = label_column(spec.horizon)
        if col not in labels.columns:
            raise ExpertInputError(
                f"expert {spec.name!r}: labels have no column {col!r} for horizon {spec.horizon} "
                f"(columns: {list(labels.columns)})"
            )
        labels = labels[col]
    if isinstance(labels, pd.Series):
        if not labels.index.equals(index):
            raise ExpertInputError(f"expert {spec.name!r}: labels must have the same index as the feature frame")
        values = labels.to_numpy(dtype=object)
    else:
        values = np.asarray(labels, dtype=object)
        if values.shape != (len(index),):
            raise ExpertInputError(f"expert {spec.name!r}: {values.shape[0]} labels for {len(index)} feature rows")
    known = np.array([v is not None and not (isinstance(v, float) and np.isnan(v)) and v is not pd.NA for v in values])
    bad = {str(v) for v in values[known]} - set(CLASS_ORDER)
    if bad:
        raise ExpertInputError(f"expert {spec.name!r}: unknown label values {sorted(bad)} (use buy, sell, hold)")
    out = np.full(values.shape, None, dtype=object)
    out[known] = [str(v) for v in values[known]]
    return out


def train_expert(spec: ExpertSpec, features_df: pd.DataFrame, labels: Any, seed: int) -> FittedExpert:
    """Fit one expert. ``labels``: a DataFrame with ``label_h{horizon}`` columns, a Series, or an array."""
    X, finite = feature_matrix(features_df, spec.features, spec.name)
    y = _label_array(labels, spec, features_df.index)
    use = finite & np.array([v is not None for v in y])
    n_use = int(use.sum())
    classes, counts = np.unique(y[use].astype(str), return_counts=True) if n_use else (np.array([]), np.array([]))
    if n_use < MIN_TRAINING_ROWS or classes.size < 2:
        absent = [f for j, f in enumerate(spec.features) if not np.isfinite(X[:, j]).any()]
        why = f"; no row has {', '.join(absent)}" if absent and len(features_df) else ""
        raise ExpertInputError(
            f"expert {spec.name!r}: only {n_use} usable rows with {classes.size} label classes "
            f"(need >= {MIN_TRAINING_ROWS} rows and 2 classes){why}"
        )
    est = build_estimator(spec, seed)
    with single_threaded(user_api=None):
        est.fit(X[use], y[use].astype(str))
        train_acc = float(np.mean(est.predict(X[use]) == y[use].astype(str)))
    info = {
        "n_rows": int(len(features_df)),
        "n_train": n_use,
        "n_dropped_nonfinite": int((~finite).sum()),
        "n_dropped_unlabelled": int((finite & ~use).sum()),
        "class_counts": {str(c): int(k) for c, k in zip(classes, counts)},
        "train_accuracy": train_acc,
    }
    return FittedExpert(
        name=spec.name,
        family=spec.family,
        horizon=spec.horizon,
        features=spec.features,
        estimator=est,
        estimator_kind=spec.estimator,
        params=dict(spec.params),
        feature_schema_version=spec.feature_schema_version,
        latency_budget_ms=spec.latency_budget_ms,
        seed=int(seed),
        train_info=info,
        description=spec.description,
        example=features_df.loc[use, list(spec.features)].head(3).astype(np.float64).reset_index(drop=True),
        horizon_ms=spec.clock_horizon_ms,
    )


def train_default_experts(
    features_df: pd.DataFrame,
    labels: Any,
    seed: int,
    *,
    specs: Sequence[ExpertSpec] = DEFAULT_EXPERT_SPECS,
    families: Iterable[str] | None = None,
) -> dict[str, FittedExpert]:
    """Train the default pool (or ``specs``), optionally only some ``families``; name → fitted expert.

    ``labels`` is normally the frame from :func:`thunderline.labels.forward_labels`
    (one ``label_h{h}`` column per horizon the specs use). Deterministic in ``seed``.
    """
    wanted = None if families is None else set(families)
    out: dict[str, FittedExpert] = {}
    for spec in specs:
        if wanted is not None and spec.family not in wanted:
            continue
        out[spec.name] = train_expert(spec, features_df, labels, seed)
    return out


@dataclass(frozen=True)
class ExpertMetrics:
    """Held-out quality of an expert.

    ``accuracy``: share of windows with a known label where the action equals the
    label (abstentions excluded). ``ic``: Spearman rank correlation between the
    expert's directional score ``prob_buy − prob_sell`` and the realised forward
    return. ``coverage``: share of windows the expert did not abstain on.
    """

    n: int
    coverage: float
    accuracy: float
    ic: float

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        return {f"{prefix}{k}": float(v) for k, v in self.__dict__.items()}


def evaluate_expert(expert, features_df: pd.DataFrame, labels: Any, forward_returns: Any = None) -> ExpertMetrics:
    """Measure ``expert`` (anything with ``predict(df)``) on held-out windows.

    ``labels`` as in :func:`train_expert` (for a DataFrame the expert's horizon
    column is used); ``forward_returns`` a Series/array aligned with the frame
    (or taken from ``fwd_return_h{h}`` of a labels DataFrame when omitted).
    """
    from scipy.stats import spearmanr

    horizon = int(getattr(expert, "horizon", 1))
    if isinstance(labels, pd.DataFrame):
        if forward_returns is None and f"fwd_return_h{horizon}" in labels.columns:
            forward_returns = labels[f"fwd_return_h{horizon}"]
        labels = labels[label_column(horizon)]
    y = np.asarray(labels, dtype=object)
    pred = expert.predict(features_df)
    act = pred["action"].to_numpy(dtype=object)
    live = act != "abstain"
    known = np.array([v is not None and v is not pd.NA and not (isinstance(v, float) and np.isnan(v)) for v in y])
    m = live & known
    accuracy = float(np.mean(act[m] == y[m].astype(str))) if m.any() else float("nan")
    ic = float("nan")
    if forward_returns is not None:
        r = np.asarray(forward_returns, dtype=np.float64)
        score = (pred["prob_buy"] - pred["prob_sell"]).to_numpy(dtype=np.float64)
        k = live & np.isfinite(r) & np.isfinite(score)
        if k.sum() > 2 and np.ptp(score[k]) > 0:
            ic = float(spearmanr(score[k], r[k]).statistic)
    return ExpertMetrics(n=int(len(act)), coverage=float(live.mean()) if len(act) else 0.0, accuracy=accuracy, ic=ic)
