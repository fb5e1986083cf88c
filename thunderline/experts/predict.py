"""How every expert turns a frame of feature windows into actions: one function, shared by the
in-memory expert and the MLflow pyfunc, so both answer identically.

Guarantees of :func:`predict_frame`:

* input is a pandas DataFrame; the expert's features are taken **by name in the
  expert's order**, extra columns are ignored;
* a missing feature column raises :class:`MissingFeatureError` naming the
  column and the expert; a non-numeric one raises :class:`FeatureTypeError`;
* a window with any NaN or ±inf among the expert's features gets
  ``action="abstain"``, ``confidence=0.0`` and NaN probabilities — the expert
  cannot see that window, and a made-up ``hold`` would read as an opinion in
  the decision trace; every other window gets ``buy``/``sell``/``hold``;
* ``confidence`` is the model's probability of the action it chose, in [0, 1];
  ``prob_buy``/``prob_hold``/``prob_sell`` are the class probabilities (0 for a
  class never seen in training); ties between classes resolve to ``hold``;
* ``score`` is the signed conviction ``prob_buy − prob_sell`` in [−1, 1] (positive: the mid
  is expected to rise over the expert's horizon), NaN where the expert abstains;
* the output has the input's index and the columns of :data:`OUTPUT_COLUMNS`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from thunderline.experts import compiled_trees
from thunderline.experts._threads import single_threaded

BUY, SELL, HOLD, ABSTAIN = "buy", "sell", "hold", "abstain"
#: Class order used for argmax: ties go to the first, so to ``hold``.
CLASS_ORDER: tuple[str, ...] = (HOLD, SELL, BUY)
OUTPUT_COLUMNS: tuple[str, ...] = ("action", "confidence", "prob_buy", "prob_hold", "prob_sell", "score")


class ExpertInputError(ValueError):
    """The feature frame given to an expert breaks its input contract."""


class MissingFeatureError(ExpertInputError):
    """A feature column the expert requires is absent; ``column`` names it."""

    def __init__(self, expert: str, column: str, missing: Sequence[str], required: Sequence[str]) -> None:
        others = [c for c in missing if c != column]
        more = f" (also missing: {', '.join(others)})" if others else ""
        super().__init__(
            f"expert {expert!r}: input is missing feature column {column!r}{more}; "
            f"required columns, in order: {', '.join(required)}"
        )
        self.expert = expert
        self.column = column
        self.missing = tuple(missing)


class FeatureTypeError(ExpertInputError):
    """A feature column cannot be read as float64; ``column`` names it."""

    def __init__(self, expert: str, column: str, dtype: object) -> None:
        super().__init__(f"expert {expert!r}: feature column {column!r} has dtype {dtype} and is not numeric")
        self.expert = expert
        self.column = column


def check_features(df: pd.DataFrame, features: Sequence[str], expert: str) -> None:
    """Raise :class:`MissingFeatureError` for the first required column ``df`` lacks."""
    if not isinstance(df, pd.DataFrame):
        raise ExpertInputError(f"expert {expert!r}: expected a pandas DataFrame of features, got {type(df).__name__}")
    missing = [c for c in features if c not in df.columns]
    if missing:
        raise MissingFeatureError(expert, missing[0], missing, features)


def check_feature_frame(df: pd.DataFrame, features: Sequence[str], expert: str) -> None:
    """Raise for the first missing (:class:`MissingFeatureError`) or non-numeric (:class:`FeatureTypeError`) column."""
    check_features(df, features, expert)
    for c in features:
        dtype = df[c].dtype
        if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            raise FeatureTypeError(expert, c, dtype)


def feature_matrix(df: pd.DataFrame, features: Sequence[str], expert: str) -> tuple[np.ndarray, np.ndarray]:
    """(X as C-contiguous float64 n×f in ``features`` order, mask of rows whose features are all finite)."""
    check_feature_frame(df, features, expert)
    cols = [df[c].to_numpy(dtype=np.float64, na_value=np.nan) for c in features]
    X = np.column_stack(cols) if cols else np.empty((len(df), 0))
    X = np.ascontiguousarray(X, dtype=np.float64)
    return X, np.isfinite(X).all(axis=1)


def probabilities_to_frame(proba: np.ndarray, classes: Sequence[str], finite: np.ndarray, index: pd.Index) -> pd.DataFrame:
    """Class probabilities of the finite rows → the output frame (abstain elsewhere)."""
    n = finite.size
    by_class = np.zeros((n, len(CLASS_ORDER)))
    by_class[~finite] = np.nan
    known = {str(c): i for i, c in enumerate(classes)}
    for j, cls in enumerate(CLASS_ORDER):
        if cls in known:
            by_class[finite, j] = proba[:, known[cls]]
    action = np.full(n, ABSTAIN, dtype=object)
    confidence = np.zeros(n)
    if finite.any():
        p = by_class[finite]
        best = np.argmax(p, axis=1)
        action[finite] = np.asarray(CLASS_ORDER, dtype=object)[best]
        confidence[finite] = np.clip(p[np.arange(p.shape[0]), best], 0.0, 1.0)
    return pd.DataFrame(
        {
            # object dtype on purpose: pandas' default string dtype would copy every action into
            # Arrow and the runner straight back out (half of a logistic expert's call)
            "action": pd.Series(action, index=index, dtype=object, copy=False),
            "confidence": confidence,
            "prob_buy": by_class[:, 2],
            "prob_hold": by_class[:, 0],
            "prob_sell": by_class[:, 1],
            "score": by_class[:, 2] - by_class[:, 1],
        },
        index=index,
    )


def predict_frame(estimator, features: Sequence[str], df: pd.DataFrame, *, expert: str) -> pd.DataFrame:
    """Actions and confidences of a fitted scikit-learn classifier for every window of ``df``."""
    X, finite = feature_matrix(df, features, expert)
    classes = [str(c) for c in estimator.classes_]
    unknown = set(classes) - set(CLASS_ORDER)
    if unknown:
        raise ExpertInputError(f"expert {expert!r}: estimator was trained on unknown classes {sorted(unknown)}")
    if finite.any():
        forest = compiled_trees.compiled(estimator)
        if forest is not None:  # same probabilities, bitwise, without one sklearn call per tree
            proba = forest.predict_proba(X[finite])
        else:
            with single_threaded("openmp"):
                proba = estimator.predict_proba(X[finite])
    else:
        proba = np.empty((0, len(classes)))
    return probabilities_to_frame(np.asarray(proba, dtype=np.float64), classes, finite, df.index)
