"""Expert architectures the NAS searches, how each is built and fitted, and how it is scored.

An architecture is a JSON object — the unit exchanged with Optuna, with external
NAS programs (:mod:`thunderline.nas.external`) and stored on MLflow runs:

``{"kind": "mlp", "hidden": [64, 32], "activation": "relu"|"tanh"|"logistic", "dropout": 0.1,
"learning_rate": 0.003, "l2": 1e-4, "batch_size": 256, "max_epochs": 30, "patience": 4}``
    a standardised-input MLP trained by :mod:`thunderline.nas.mlp` (dropout,
    Adam, early stopping on validation log loss), served as a scikit-learn
    ``Pipeline(StandardScaler, MLPClassifier)``;

``{"kind": "gbm", "max_iter": 100, "max_depth": 3, "learning_rate": 0.1, "l2_regularization": 1.0,
"min_samples_leaf": 20}``
    scikit-learn histogram gradient boosting, grown in rounds of 20 trees and
    stopped early when validation log loss stops improving.

Missing keys take the defaults above; unknown keys or out-of-range values raise
:class:`ArchitectureError` naming the key. Scores (on the validation split):
``val_ic`` — Spearman rank correlation of ``p(buy) − p(sell)`` with the realised
forward return (the objective, as in the promotion gate); ``val_accuracy`` and
``val_log_loss`` on rows with a known label.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from thunderline.experts.predict import CLASS_ORDER

KINDS = ("mlp", "gbm")
MLP_DEFAULTS: dict[str, Any] = {"hidden": [32], "activation": "relu", "dropout": 0.0, "learning_rate": 3e-3,
                                "l2": 1e-4, "batch_size": 256, "max_epochs": 30, "patience": 4}
GBM_DEFAULTS: dict[str, Any] = {"max_iter": 100, "max_depth": 3, "learning_rate": 0.1, "l2_regularization": 1.0,
                                "min_samples_leaf": 20}
GBM_ROUND = 20
MIN_ROWS = 50


class ArchitectureError(ValueError):
    """An architecture description is invalid; the message names the key and the rule."""


def _num(arch: Mapping, key: str, lo: float, hi: float, integer: bool = False) -> float | int:
    v = arch[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
        raise ArchitectureError(f"architecture {arch.get('kind')!r}: {key}={v!r} is not a finite number")
    if integer and float(v) != int(v):
        raise ArchitectureError(f"architecture {arch.get('kind')!r}: {key}={v!r} must be a whole number")
    if not lo <= float(v) <= hi:
        raise ArchitectureError(f"architecture {arch.get('kind')!r}: {key}={v!r} must be in [{lo}, {hi}]")
    return int(v) if integer else float(v)


def validate_architecture(arch: Mapping[str, Any]) -> dict[str, Any]:
    """The architecture with defaults filled in, or :class:`ArchitectureError`."""
    if not isinstance(arch, Mapping):
        raise ArchitectureError(f"architecture must be a JSON object, got {type(arch).__name__}")
    kind = arch.get("kind")
    if kind not in KINDS:
        raise ArchitectureError(f"architecture kind {kind!r} is not one of {KINDS}")
    defaults = MLP_DEFAULTS if kind == "mlp" else GBM_DEFAULTS
    unknown = set(arch) - set(defaults) - {"kind"}
    if unknown:
        raise ArchitectureError(f"architecture {kind!r}: unknown keys {sorted(unknown)} (known: {sorted(defaults)})")
    a = {"kind": kind, **defaults, **{k: v for k, v in arch.items() if k != "kind"}}
    if kind == "mlp":
        hidden = a["hidden"]
        if not isinstance(hidden, (list, tuple)) or not 1 <= len(hidden) <= 4:
            raise ArchitectureError(f"architecture 'mlp': hidden={hidden!r} must list 1-4 layer widths")
        a["hidden"] = [int(_num({"kind": kind, "hidden": h}, "hidden", 1, 1024, True)) for h in hidden]
        if a["activation"] not in ("relu", "tanh", "logistic"):
            raise ArchitectureError(f"architecture 'mlp': activation={a['activation']!r} must be relu, tanh or "
                                    "logistic")
        a["dropout"] = _num(a, "dropout", 0.0, 0.9)
        a["learning_rate"] = _num(a, "learning_rate", 1e-6, 1.0)
        a["l2"] = _num(a, "l2", 0.0, 10.0)
        a["batch_size"] = _num(a, "batch_size", 8, 65536, True)
        a["max_epochs"] = _num(a, "max_epochs", 1, 1000, True)
        a["patience"] = _num(a, "patience", 1, 1000, True)
    else:
        a["max_iter"] = _num(a, "max_iter", 1, 2000, True)
        a["max_depth"] = _num(a, "max_depth", 1, 32, True)
        a["learning_rate"] = _num(a, "learning_rate", 1e-4, 1.0)
        a["l2_regularization"] = _num(a, "l2_regularization", 0.0, 1e4)
        a["min_samples_leaf"] = _num(a, "min_samples_leaf", 1, 1_000_000, True)
    return a


def _one_thread():
    """Native pools (OpenMP, BLAS) at one thread for the fit, looked up *now*.

    Not :func:`thunderline.experts._threads.single_threaded`: its controller is built once per
    process and misses libraries loaded later (scikit-learn's OpenMP runtime when the ensemble
    module is first imported inside the block) — and on a busy 2-core host an unlimited OpenMP
    team spinning against other processes made a 1 s boosted-tree fit take 25-35 s (measured).
    """
    import sklearn.ensemble  # noqa: F401  (load the OpenMP runtime before the limits are applied)
    import sklearn.neural_network  # noqa: F401
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


@dataclass
class FitResult:
    estimator: Any
    architecture: dict[str, Any]
    metrics: dict[str, float]
    steps: int  # epochs (mlp) or trees (gbm)
    train_rows: int
    history: list[float] = field(default_factory=list)


def _known(y: np.ndarray) -> np.ndarray:
    return np.array([v is not None and isinstance(v, str) and v in CLASS_ORDER for v in y], dtype=bool)


def score(proba: np.ndarray, classes, X_ok: np.ndarray, y_val: np.ndarray, r_val: np.ndarray) -> dict[str, float]:
    """Validation metrics of class probabilities (rows of finite features only, see ``X_ok``)."""
    from thunderline.evaluation.metrics import spearman

    classes = [str(c) for c in classes]
    full = np.full((X_ok.size, len(classes)), np.nan)
    full[X_ok] = proba
    col = {c: i for i, c in enumerate(classes)}
    p_buy = full[:, col["buy"]] if "buy" in col else np.zeros(X_ok.size)
    p_sell = full[:, col["sell"]] if "sell" in col else np.zeros(X_ok.size)
    s = p_buy - p_sell
    r = np.asarray(r_val, dtype=np.float64)
    ok_r = X_ok & np.isfinite(r)
    ic = spearman(s[ok_r], r[ok_r]) if ok_r.sum() > 2 else float("nan")
    known = X_ok & _known(y_val)
    if known.any():
        pred = np.asarray(classes, dtype=object)[np.nanargmax(full[known], axis=1)]
        acc = float(np.mean(pred == y_val[known]))
        idx = np.array([col.get(v, -1) for v in y_val[known]])
        p_true = np.where(idx >= 0, full[known][np.arange(idx.size), np.clip(idx, 0, None)], 0.0)
        ll = float(-np.mean(np.log(np.clip(p_true, 1e-15, 1.0))))
    else:
        acc, ll = float("nan"), float("nan")
    return {"val_ic": ic, "val_accuracy": acc, "val_log_loss": ll, "val_rows": float(known.sum())}


def fit_architecture(arch: Mapping[str, Any], X_train: np.ndarray, y_train: np.ndarray, X_val: np.ndarray,
                     y_val: np.ndarray, r_val: np.ndarray, *, seed: int,
                     report: Callable[[int, float], None] | None = None) -> FitResult:
    """Fit ``arch`` on the training rows (finite features, known label) and score it on validation.

    ``report(step, val_ic)`` is called after every epoch / round of trees (step 1, 2, …) with the
    intermediate objective (a pruner may raise from it to stop the fit).
    """
    a = validate_architecture(arch)
    X_train = np.asarray(X_train, dtype=np.float64)
    X_val = np.asarray(X_val, dtype=np.float64)
    y_train = np.asarray(y_train, dtype=object)
    y_val = np.asarray(y_val, dtype=object)
    use = np.isfinite(X_train).all(axis=1) & _known(y_train)
    if use.sum() < MIN_ROWS or len(set(y_train[use])) < 2:
        raise ArchitectureError(f"only {int(use.sum())} usable training rows with "
                                f"{len(set(y_train[use]))} classes (need >= {MIN_ROWS} rows and 2 classes)")
    Xt, yt = X_train[use], y_train[use].astype(str)
    v_ok = np.isfinite(X_val).all(axis=1)
    t0 = time.perf_counter()
    with _one_thread():
        if a["kind"] == "mlp":
            est, steps, hist = _fit_mlp(a, Xt, yt, X_val, y_val, r_val, v_ok, seed, report)
        else:
            est, steps, hist = _fit_gbm(a, Xt, yt, X_val, y_val, r_val, v_ok, seed, report)
        proba = est.predict_proba(X_val[v_ok]) if v_ok.any() else np.empty((0, len(est.classes_)))
    metrics = score(proba, est.classes_, v_ok, y_val, r_val)
    metrics["fit_seconds"] = time.perf_counter() - t0
    metrics["train_rows"] = float(use.sum())
    return FitResult(est, a, metrics, steps, int(use.sum()), hist)


def _fit_mlp(a, Xt, yt, X_val, y_val, r_val, v_ok, seed, report):
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from thunderline.nas.mlp import forward, to_sklearn, train_mlp

    classes = np.unique(yt)
    scaler = StandardScaler().fit(Xt)
    Zt = scaler.transform(Xt)
    Zv = scaler.transform(X_val[v_ok]) if v_ok.any() else np.empty((0, Xt.shape[1]))
    y_idx = np.searchsorted(classes, yt)
    kv = _known(y_val[v_ok]) & np.isin(y_val[v_ok].astype(str), classes)
    yv_idx = np.searchsorted(classes, y_val[v_ok][kv].astype(str))

    def on_epoch(epoch, coefs, intercepts):
        if report is not None:
            p = forward(coefs, intercepts, a["activation"], Zv)
            report(epoch, score(p, classes, v_ok, y_val, r_val)["val_ic"])

    fit = train_mlp(Zt, y_idx, len(classes), hidden=tuple(a["hidden"]), activation=a["activation"],
                    dropout=a["dropout"], learning_rate=a["learning_rate"], l2=a["l2"], batch_size=a["batch_size"],
                    max_epochs=a["max_epochs"], patience=a["patience"], seed=seed, X_val=Zv[kv], y_val=yv_idx,
                    on_epoch=on_epoch)
    first = [int(np.flatnonzero(yt == c)[0]) for c in classes]  # one row per class builds the sklearn structure
    clf = to_sklearn(fit, classes, a["activation"], Zt[first], yt[first], hidden=tuple(a["hidden"]), seed=seed)
    return Pipeline([("scale", scaler), ("mlp", clf)]), fit.epochs, fit.val_loss


def _fit_gbm(a, Xt, yt, X_val, y_val, r_val, v_ok, seed, report):
    from sklearn.ensemble import HistGradientBoostingClassifier

    est = HistGradientBoostingClassifier(max_iter=0, max_depth=a["max_depth"], learning_rate=a["learning_rate"],
                                         l2_regularization=a["l2_regularization"],
                                         min_samples_leaf=a["min_samples_leaf"], early_stopping=False,
                                         warm_start=True, random_state=seed)
    best, since, hist, trees = np.inf, 0, [], 0
    while trees < a["max_iter"]:
        trees = min(a["max_iter"], trees + GBM_ROUND)
        est.set_params(max_iter=trees)
        est.fit(Xt, yt)
        m = score(est.predict_proba(X_val[v_ok]), est.classes_, v_ok, y_val, r_val) if v_ok.any() else {}
        ll = m.get("val_log_loss", float("nan"))
        hist.append(ll)
        if report is not None:  # step = round number, so a pruner compares trees and MLP epochs on one scale
            report(len(hist), m.get("val_ic", float("nan")))
        if ll < best - 1e-9:
            best, since = ll, 0
        else:
            since += 1
            if since >= 2:
                break
    return est, trees, hist
