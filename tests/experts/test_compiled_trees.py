"""Compiled boosted trees must predict exactly what scikit-learn predicts.

The decision trace hashes every expert's confidence, so "close" is not enough:
probabilities must be bitwise equal to ``predict_proba``, on trained experts and
on inputs with missing values; what the kernel cannot model falls back to sklearn.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from thunderline.experts import compiled_trees
from thunderline.experts.catalog import DEFAULT_EXPERT_SPECS
from thunderline.experts.training import train_expert

from .conftest import SEED


def _bits(a):
    return np.ascontiguousarray(a, dtype=np.float64).view(np.uint64)


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((3000, 6))
    X[rng.random(X.shape) < 0.1] = np.nan  # missing values go the way the fit learned
    y = np.where(X[:, 0] > 0.3, "buy", np.where(X[:, 1] < -0.3, "sell", "hold"))
    return HistGradientBoostingClassifier(max_iter=40, max_depth=4, early_stopping=False, random_state=0).fit(X, y)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 300), st.integers(0, 2**32 - 1), st.floats(0, 0.5))
def test_bitwise_equal_to_sklearn(fitted, n, seed, missing):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 6)) * rng.choice([0.1, 1.0, 10.0])
    X[rng.random(X.shape) < missing] = np.nan
    forest = compiled_trees.compiled(fitted)
    assert forest is not None
    assert np.array_equal(_bits(forest.predict_proba(X)), _bits(fitted.predict_proba(X)))


def test_thresholds_are_taken_exactly(fitted):
    """Inputs sitting exactly on every split threshold take the sklearn branch (x <= t goes left)."""
    forest = compiled_trees.compiled(fitted)
    splits = ~forest.is_leaf
    X = np.zeros((int(splits.sum()), 6))
    X[np.arange(X.shape[0]), forest.feature[splits]] = forest.threshold[splits]
    assert np.array_equal(_bits(forest.predict_proba(X)), _bits(fitted.predict_proba(X)))


def test_trained_experts_predict_identically(planted):
    """Every boosted expert of the default catalog, trained as the product trains it, on held-out windows."""
    specs = [s for s in DEFAULT_EXPERT_SPECS if s.estimator == "gbm"]
    assert specs
    for spec in specs:
        fitted = train_expert(spec, planted.frame[planted.train], planted.labels[planted.train], SEED)
        est = fitted.estimator
        X = planted.frame.loc[planted.test, list(spec.features)].to_numpy(np.float64)
        X = X[np.isfinite(X).all(axis=1)]
        assert X.shape[0] > 100 and compiled_trees.compiled(est) is not None, spec.name
        assert np.array_equal(_bits(compiled_trees.predict_proba(est, X)), _bits(est.predict_proba(X))), spec.name


def test_what_the_kernel_cannot_model_falls_back_to_sklearn():
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.integers(0, 4, 500).astype(float), rng.standard_normal(500)])
    y = rng.choice(["buy", "sell", "hold"], 500)
    categorical = HistGradientBoostingClassifier(max_iter=5, categorical_features=[0], random_state=0).fit(X, y)
    assert compiled_trees.compiled(categorical) is None
    assert np.array_equal(compiled_trees.predict_proba(categorical, X), categorical.predict_proba(X))
    logit = LogisticRegression().fit(X, y)
    assert compiled_trees.compiled(logit) is None
    with pytest.raises(ValueError, match="expected 6 features"):
        compiled_trees.compiled(HistGradientBoostingClassifier(max_iter=3).fit(rng.standard_normal((60, 6)),
                                                                                 y[:60])).raw_predict(X)
