"""Histogram-gradient-boosting experts evaluated by one numba loop instead of one sklearn call per tree.

Why: a boosted expert with 60 iterations × 3 classes is 180 trees, and sklearn
predicts tree by tree, each call a Python round trip over the whole batch — the
single largest cost of deciding a window. The fitted trees are already flat node
arrays; this walks all of them per row in one compiled loop.

Exactness: sklearn's raw score for (row, class k) is the baseline plus every tree
of class k, added in iteration order, in float64. The kernel performs the same
additions in the same order (no fast-math), and the probabilities come from the
estimator's own loss (``_loss.predict_proba``), so the output is bitwise identical
to ``estimator.predict_proba`` — tests hold it to that on real data. Anything the
kernel does not model (categorical splits, a fitted preprocessor, an unknown
sklearn layout) falls back to sklearn.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import numpy as np
from numba import njit

_CACHE: "weakref.WeakKeyDictionary[Any, CompiledForest | None]" = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


class Unsupported(Exception):
    """The fitted model uses something the kernel does not model; sklearn predicts it instead."""


class CompiledForest:
    """Every tree of a fitted HistGradientBoostingClassifier as concatenated node arrays."""

    def __init__(self, estimator: Any) -> None:
        predictors = estimator._predictors
        roots, classes, parts = [], [], []
        base = 0
        for iteration in predictors:
            for k, tree in enumerate(iteration):
                nodes = tree.nodes
                if nodes["is_categorical"].any():
                    raise Unsupported("categorical splits")
                roots.append(base)
                classes.append(k)
                parts.append(nodes)
                base += nodes.shape[0]
        if base >= 2**31:
            raise Unsupported("more nodes than int32 indices address")
        nodes = np.concatenate(parts) if parts else np.zeros(0, dtype=[("value", "f8")])
        offsets = np.repeat(np.array(roots, dtype=np.int64), [p.shape[0] for p in parts]) if parts else np.zeros(0)
        # int32 indices: the whole forest's nodes stay within L2 (a 60 × 3-tree expert is ~45 KB)
        self.feature = np.ascontiguousarray(nodes["feature_idx"], dtype=np.int32)
        self.threshold = np.ascontiguousarray(nodes["num_threshold"], dtype=np.float64)
        self.left = np.ascontiguousarray(nodes["left"].astype(np.int64) + offsets).astype(np.int32)
        self.right = np.ascontiguousarray(nodes["right"].astype(np.int64) + offsets).astype(np.int32)
        self.is_leaf = np.ascontiguousarray(nodes["is_leaf"].astype(np.bool_))
        self.missing_left = np.ascontiguousarray(nodes["missing_go_to_left"].astype(np.bool_))
        self.value = np.ascontiguousarray(nodes["value"], dtype=np.float64)
        # leaves point at themselves, so every tree can be walked a fixed number of steps without branches
        leaf_idx = np.flatnonzero(self.is_leaf)
        self.left[leaf_idx] = leaf_idx
        self.right[leaf_idx] = leaf_idx
        self.depth = int(nodes["depth"].max()) if parts else 0
        self.roots = np.array(roots, dtype=np.int64)
        self.classes = np.array(classes, dtype=np.int64)
        self.baseline = np.ascontiguousarray(np.asarray(estimator._baseline_prediction, dtype=np.float64).reshape(-1))
        self.n_features = int(estimator.n_features_in_)
        self.loss = estimator._loss

    def raw_predict(self, X: np.ndarray) -> np.ndarray:
        X = np.ascontiguousarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"expected {self.n_features} features, got shape {X.shape}")
        return _raw_predict(X, self.feature, self.threshold, self.left, self.right, self.missing_left,
                            self.value, self.roots, self.classes, self.baseline, self.depth)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.loss.predict_proba(self.raw_predict(X))


def compiled(estimator: Any) -> CompiledForest | None:
    """The estimator's compiled forest, built once; None when only sklearn can predict it."""
    if type(estimator).__name__ != "HistGradientBoostingClassifier":
        return None
    try:
        with _LOCK:
            if estimator in _CACHE:
                return _CACHE[estimator]
    except TypeError:  # not weak-referenceable
        return None
    try:
        if getattr(estimator, "_preprocessor", None) is not None:
            raise Unsupported("fitted preprocessor")
        forest: CompiledForest | None = CompiledForest(estimator)
    except (AttributeError, KeyError, ValueError, Unsupported):
        forest = None
    with _LOCK:
        _CACHE[estimator] = forest
    return forest


def predict_proba(estimator: Any, X: np.ndarray) -> np.ndarray:
    """``estimator.predict_proba(X)``, through the compiled forest when there is one."""
    forest = compiled(estimator)
    if forest is None:
        return estimator.predict_proba(X)
    return forest.predict_proba(X)


#: Rows walked through one tree side by side: their walks are independent chains of loads, which the
#: CPU overlaps; one row at a time waits on every load of a walk in turn.
_BLOCK = 64


@njit(cache=True, nogil=True)
def _raw_predict(X, feature, threshold, left, right, missing_left, value, roots, classes, baseline, depth):
    """Every tree walked ``depth`` steps for a block of rows at a time. A leaf's children are itself,
    so no walk needs a data-dependent branch; each row still adds its trees in sklearn's order."""
    n = X.shape[0]
    K = baseline.shape[0]
    out = np.empty((n, K), dtype=np.float64)
    node = np.empty(_BLOCK, dtype=np.int32)
    for b in range(0, n, _BLOCK):
        m = min(_BLOCK, n - b)
        for i in range(m):
            for k in range(K):
                out[b + i, k] = 0.0 + baseline[k]  # sklearn: zeros, then += baseline (-0.0 → 0.0 alike)
        for t in range(roots.shape[0]):
            for i in range(m):
                node[i] = roots[t]
            for _ in range(depth):
                for i in range(m):
                    nd = node[i]
                    x = X[b + i, feature[nd]]
                    go_right = (x > threshold[nd]) | (np.isnan(x) & ~missing_left[nd])
                    node[i] = left[nd] + np.int32(go_right) * (right[nd] - left[nd])
            k = classes[t]
            for i in range(m):
                out[b + i, k] += value[node[i]]
    return out
