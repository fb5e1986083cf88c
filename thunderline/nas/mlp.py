"""A small numpy MLP trained with dropout, Adam and early stopping, handed over as a scikit-learn MLPClassifier.

Why numpy and not ``sklearn.neural_network.MLPClassifier.fit``: scikit-learn's
MLP has no dropout, and dropout is part of the search space. Why hand it over
as an ``MLPClassifier``: at inference dropout is off (inverted dropout scales
activations during training, so the learned weights are used as they are),
so the trained weights *are* a scikit-learn MLP — which the expert pyfunc
stores with skops' allow-list (scikit-learn / numpy / scipy types only) and
serves through the same ``predict_proba`` as every other expert.

Guarantees: float64 throughout; deterministic in ``seed`` (weight init, batch
order and dropout masks come from one ``numpy.random.Generator``); the
returned weights are those of the epoch with the lowest validation log loss.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

ACTIVATIONS = ("relu", "tanh", "logistic")


def _act(name: str, z: np.ndarray) -> np.ndarray:
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "tanh":
        return np.tanh(z)
    return 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))


def _act_grad(name: str, a: np.ndarray) -> np.ndarray:
    """Derivative of the activation, written in terms of its output ``a``."""
    if name == "relu":
        return (a > 0).astype(np.float64)
    if name == "tanh":
        return 1.0 - a * a
    return a * (1.0 - a)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def forward(coefs, intercepts, activation: str, X: np.ndarray) -> np.ndarray:
    """Class probabilities (softmax) of the network without dropout."""
    a = X
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        z = a @ W + b
        a = z if i == len(coefs) - 1 else _act(activation, z)
    return _softmax(a)


def log_loss(proba: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(proba[np.arange(y.size), y], 1e-15, 1.0))))


@dataclass
class MlpFit:
    coefs: list[np.ndarray]
    intercepts: list[np.ndarray]
    epochs: int
    best_epoch: int
    val_loss: list[float] = field(default_factory=list)


def train_mlp(X: np.ndarray, y: np.ndarray, n_classes: int, *, hidden: tuple[int, ...], activation: str,
              dropout: float, learning_rate: float, l2: float, batch_size: int, max_epochs: int, patience: int,
              seed: int, X_val: np.ndarray, y_val: np.ndarray,
              on_epoch: Callable[[int, list[np.ndarray], list[np.ndarray]], None] | None = None) -> MlpFit:
    """Train on (X, y) — y holds class indices 0..n_classes−1 — stopping early on validation log loss.

    ``on_epoch(epoch, coefs, intercepts)`` is called after every epoch (e.g. to
    report to a pruner, which may raise to stop the trial).
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation {activation!r} is not one of {ACTIVATIONS}")
    rng = np.random.default_rng(seed)
    sizes = [X.shape[1], *hidden, n_classes]
    coefs, intercepts = [], []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        factor = 2.0 if activation == "logistic" else 6.0  # Glorot uniform, as scikit-learn initialises
        bound = np.sqrt(factor / (fan_in + fan_out))
        coefs.append(rng.uniform(-bound, bound, (fan_in, fan_out)))
        intercepts.append(rng.uniform(-bound, bound, fan_out))
    params = [*coefs, *intercepts]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    b1, b2, eps = 0.9, 0.999, 1e-8
    step = 0
    keep = 1.0 - dropout
    onehot = np.eye(n_classes)
    best = (np.inf, 0, [c.copy() for c in coefs], [b.copy() for b in intercepts])
    losses: list[float] = []
    n = X.shape[0]
    L = len(coefs)
    epoch = 0
    for epoch in range(1, max_epochs + 1):
        order = rng.permutation(n)
        for s in range(0, n, batch_size):
            idx = order[s:s + batch_size]
            xb, yb = X[idx], onehot[y[idx]]
            acts, masks = [xb], []
            a = xb
            for i in range(L - 1):
                a = _act(activation, a @ coefs[i] + intercepts[i])
                if dropout > 0:
                    mask = (rng.random(a.shape) < keep) / keep
                    a = a * mask
                    masks.append(mask)
                acts.append(a)
            proba = _softmax(a @ coefs[-1] + intercepts[-1])
            delta = (proba - yb) / idx.size
            grads_w, grads_b = [None] * L, [None] * L
            for i in range(L - 1, -1, -1):
                grads_w[i] = acts[i].T @ delta + l2 * coefs[i] / idx.size
                grads_b[i] = delta.sum(axis=0)
                if i > 0:
                    delta = delta @ coefs[i].T
                    if dropout > 0:
                        delta = delta * masks[i - 1]
                        pre = acts[i] / np.where(masks[i - 1] > 0, masks[i - 1], 1.0)
                    else:
                        pre = acts[i]
                    delta = delta * _act_grad(activation, pre)
            step += 1
            lr_t = learning_rate * np.sqrt(1 - b2 ** step) / (1 - b1 ** step)
            for j, g in enumerate([*grads_w, *grads_b]):
                m[j] = b1 * m[j] + (1 - b1) * g
                v[j] = b2 * v[j] + (1 - b2) * g * g
                params[j] -= lr_t * m[j] / (np.sqrt(v[j]) + eps)
        val = log_loss(forward(coefs, intercepts, activation, X_val), y_val) if y_val.size else 0.0
        losses.append(val)
        if val < best[0] - 1e-9:
            best = (val, epoch, [c.copy() for c in coefs], [b.copy() for b in intercepts])
        if on_epoch is not None:
            on_epoch(epoch, best[2], best[3])
        if epoch - best[1] >= patience:
            break
    return MlpFit(best[2], best[3], epoch, best[1], losses)


def to_sklearn(fit: MlpFit, classes: np.ndarray, activation: str, X_example: np.ndarray, y_example: np.ndarray,
               *, hidden: tuple[int, ...], seed: int):
    """The trained network as a fitted ``sklearn.neural_network.MLPClassifier`` (same probabilities)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden_layer_sizes=tuple(hidden), activation=activation, max_iter=1, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.partial_fit(X_example, y_example, classes=classes)  # builds the structure; weights replaced below
    coefs = [c.copy() for c in fit.coefs]
    intercepts = [b.copy() for b in fit.intercepts]
    if len(classes) == 2:  # scikit-learn uses one logistic output: softmax over two = sigmoid of the difference
        coefs[-1] = (coefs[-1][:, 1] - coefs[-1][:, 0]).reshape(-1, 1)
        intercepts[-1] = np.array([intercepts[-1][1] - intercepts[-1][0]])
    clf.coefs_, clf.intercepts_ = coefs, intercepts
    for attr in ("_optimizer", "loss_curve_", "_best_coefs", "_best_intercepts"):
        if hasattr(clf, attr):
            delattr(clf, attr)
    return clf
