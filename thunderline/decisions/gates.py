"""Learned gates: each layer's W_g fitted to which pool expert would have been right.

The first router version has seeded gates (``thunderline.routing.init_gates``).
Later versions learn them from realised outcomes:

* **target** of a decided window in a layer: among that layer's pool experts
  whose action equals the realised class label at the expert's own horizon
  (abstentions are never right), the one with the highest confidence (ties:
  lowest pool index); ``-1`` when none was right — such windows teach the
  layer nothing and are left out of its fit;
* **fit**: a multinomial logistic regression of target on the router's input
  embeddings ``X`` (n × d, the router state's own embedding of the window
  features), L2-regularised (``C``), **without intercept** — the router's
  logits are exactly ``X · W_g`` — so the fitted coefficients are ``W_g``'s
  columns for the experts that were right at least once (with two such
  experts, ±half the binary coefficient vector, which gives the same softmax);
* an expert that was **never right** gets the fitted columns' mean minus a
  margin. Without an intercept a constant cannot be subtracted from a logit, so
  the margin is applied as closely as a linear gate can: ``mean − margin · β``,
  where ``X · β ≈ 1`` in the least-squares sense (ridge) on the same windows;
  its logits sit about ``margin`` below the average expert's wherever the
  embeddings allow (if they are exactly centred, nothing can, and it gets the mean);
* deterministic: lbfgs on one thread, rows in the given order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from thunderline.labels.forward import LABEL_BUY, LABEL_HOLD, LABEL_SELL

_LABELS = (LABEL_BUY, LABEL_SELL, LABEL_HOLD)


class GateFitError(ValueError):
    """A layer's gate cannot be learned (no window where any of its experts was right)."""


def right_expert_targets(actions: np.ndarray, confidences: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per window, the index of the right expert with the highest confidence, ``-1`` if none was right.

    ``actions`` and ``labels`` are n × e object arrays (labels: the realised class
    at each expert's horizon, None when unknown), ``confidences`` n × e floats.
    """
    A = np.asarray(actions, dtype=object)
    L = np.asarray(labels, dtype=object)
    C = np.asarray(confidences, dtype=np.float64)
    if not (A.shape == L.shape == C.shape) or A.ndim != 2:
        raise ValueError(f"right_expert_targets: actions {A.shape}, confidences {C.shape}, labels {L.shape} "
                         "must be the same n × e shape")
    known = np.isin(L, np.array(_LABELS, dtype=object))
    right = known & (A == L) & (A != "abstain")
    score = np.where(right, np.nan_to_num(C, nan=0.0), -np.inf)
    target = np.argmax(score, axis=1)  # first maximum: ties go to the lower pool index
    return np.where(right.any(axis=1), target, -1).astype(np.int64)


@dataclass
class LayerFit:
    W: np.ndarray
    n_windows: int
    n_used: int
    right_counts: dict[int, int] = field(default_factory=dict)
    never_right: list[int] = field(default_factory=list)


def fit_gate(X: np.ndarray, target: np.ndarray, n_experts: int, *, C: float = 1.0, margin: float = 1.0,
             ridge: float = 1e-3) -> LayerFit:
    """``W_g`` (d × n_experts) from embeddings ``X`` (n × d) and right-expert ``target`` (see module docstring)."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    X = np.asarray(X, dtype=np.float64)
    t = np.asarray(target, dtype=np.int64)
    if X.ndim != 2 or t.shape != (X.shape[0],):
        raise ValueError(f"fit_gate: X {X.shape} and target {t.shape} do not align")
    if (t >= n_experts).any():
        raise ValueError(f"fit_gate: target names expert {int(t.max())} of a {n_experts}-expert layer")
    use = t >= 0
    present = np.unique(t[use])
    if present.size == 0:
        raise GateFitError(f"no window where any of the layer's {n_experts} experts was right")
    d = X.shape[1]
    cols: dict[int, np.ndarray] = {}
    with threadpool_limits(limits=1):
        if present.size >= 2:
            lr = LogisticRegression(C=C, fit_intercept=False, max_iter=2000, tol=1e-10)
            lr.fit(X[use], t[use])
            coef = lr.coef_
            if present.size == 2:  # binary: one vector for class 1; softmax over (−v/2, v/2) is the same model
                cols[int(lr.classes_[0])] = -coef[0] / 2.0
                cols[int(lr.classes_[1])] = coef[0] / 2.0
            else:
                for k, c in enumerate(lr.classes_):
                    cols[int(c)] = coef[k]
        else:
            cols[int(present[0])] = np.zeros(d)
        mean = np.mean([cols[c] for c in sorted(cols)], axis=0)
        Xu = X[use]
        beta = np.linalg.solve(Xu.T @ Xu + ridge * len(Xu) * np.eye(d), Xu.T @ np.ones(len(Xu)))
    W = np.empty((d, n_experts))
    never = []
    for j in range(n_experts):
        if j in cols:
            W[:, j] = cols[j]
        else:
            W[:, j] = mean - margin * beta
            never.append(j)
    counts = {int(c): int((t == c).sum()) for c in present}
    return LayerFit(W, int(t.size), int(use.sum()), counts, never)


def fit_router_gates(X: np.ndarray, pools: Sequence[Sequence[str]], actions: dict[str, np.ndarray],
                     confidences: dict[str, np.ndarray], labels: dict[str, np.ndarray], *, C: float = 1.0,
                     margin: float = 1.0, previous: Sequence[np.ndarray] | None = None
                     ) -> tuple[list[np.ndarray], list[dict]]:
    """One learned gate per layer. ``actions`` / ``confidences`` / ``labels``: expert → n-array.

    A layer whose experts were never right keeps its ``previous`` gate (reported), or raises without one.
    """
    gates, report = [], []
    for layer, pool in enumerate(pools):
        A = np.column_stack([actions[e] for e in pool])
        Cf = np.column_stack([confidences[e] for e in pool])
        Lb = np.column_stack([labels[e] for e in pool])
        target = right_expert_targets(A, Cf, Lb)
        try:
            fit = fit_gate(X, target, len(pool), C=C, margin=margin)
        except GateFitError:
            if previous is None:
                raise
            gates.append(np.asarray(previous[layer], dtype=np.float64))
            report.append({"layer": layer, "learned": False, "n_windows": int(len(target)), "n_used": 0})
            continue
        gates.append(fit.W)
        report.append({"layer": layer, "learned": True, "n_windows": fit.n_windows, "n_used": fit.n_used,
                       "right_counts": {pool[j]: n for j, n in fit.right_counts.items()},
                       "never_right": [pool[j] for j in fit.never_right]})
    return gates, report
