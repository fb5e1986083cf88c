"""Regime gates: each layer's W_g fitted so the blend predicts the move, conditioning only on regime features.

Why not the classification gates of :mod:`thunderline.decisions.gates` alone: "which expert was most
right on this window" is mostly about which one happened to have the largest score, a noisy target
with many near-equal experts, and a gate on the whole 32-d embedding can learn order-flow noise. A
regime gate asks a narrower question — in this volatility / spread / activity regime, which mix of
experts predicts the move best — and fits exactly what the blend computes:

* the router's logits are ``X · W_g`` with ``X = clip(Z) · P`` (:mod:`~thunderline.decisions.embedding`:
  ``Z`` the standardised features, ``P`` the seeded k × d projection, k < d). ``P`` has full row rank, so
  with ``Q = P⁺ E_r`` (``E_r`` picks the regime columns) ``X · Q`` gives back the standardised regime
  features and ``W_g = Q · B`` makes the logits ``Z_r · B``: a gate that reads regime features only
  (``B``: r × e per layer);
* with soft routing (p = 1, full capacity) the blend is ``z = Σ_l (1/L) Σ_e softmax(Z_r B_l)_e · α_e s_e``
  (every expert live); ``B`` maximises the correlation of ``z`` with the realised direction minus
  ``ridge · Σ‖B‖²`` (L-BFGS, analytic gradient, from ``B = 0``: the plain α-weighted blend);
* no intercept: at the average regime every expert keeps its α weight, so a gate that learns nothing
  is the ungated blend.

Deterministic: the same rows give the same ``W_g`` (L-BFGS on fixed data, no random start).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

#: Features a regime gate reads: how volatile, how wide, how busy the book is.
REGIME_FEATURES = ("realized_vol", "spread_bps", "tick_rate", "trade_count")
#: Penalty on the regime gate's coefficients (per squared logit unit per standardised feature).
REGIME_RIDGE = 1e-3


def regime_basis(embedding, features: Sequence[str] = REGIME_FEATURES) -> np.ndarray:
    """``Q`` (d × r): ``X · Q`` are the standardised (clipped) ``features`` of embeddings ``X``; the
    features the embedding lacks are left out (r may be < len(features))."""
    names = list(embedding.feature_names)
    cols = [names.index(f) for f in features if f in names]
    P = np.asarray(embedding.projection, dtype=np.float64)  # k × d
    if not cols or P.shape[0] > P.shape[1]:
        return np.zeros((P.shape[1] if P.ndim == 2 else 0, 0))
    return np.linalg.pinv(P)[:, cols]


def _blend(R: np.ndarray, Bs: Sequence[np.ndarray], V: Sequence[np.ndarray]) -> tuple[np.ndarray, list]:
    """z per row and, per layer, (softmax weights, layer blend) for the gradient."""
    L = len(V)
    z = np.zeros(R.shape[0])
    parts = []
    for B, v in zip(Bs, V):
        logit = R @ B
        logit -= logit.max(axis=1, keepdims=True)
        p = np.exp(logit)
        p /= p.sum(axis=1, keepdims=True)
        zl = (p * v).sum(axis=1)
        z += zl / L
        parts.append((p, zl))
    return z, parts


def fit_regime_gates(R: np.ndarray, V: Sequence[np.ndarray], y: np.ndarray, *, ridge: float = REGIME_RIDGE,
                     max_iter: int = 200) -> tuple[list[np.ndarray], dict]:
    """Per layer ``B`` (r × e) from regime features ``R`` (n × r), the layer's α-scaled expert scores ``V``
    (one n × e matrix per layer) and the realised direction ``y`` (see the module docstring).
    Returns (B per layer, {"corr_before", "corr_after", "iterations"})."""
    from scipy.optimize import minimize

    R = np.asarray(R, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(y) & np.isfinite(R).all(axis=1)
    R, y, V = R[ok], y[ok], [np.asarray(v, dtype=np.float64)[ok] for v in V]
    r, L = R.shape[1], len(V)
    shapes = [(r, v.shape[1]) for v in V]
    sizes = [a * b for a, b in shapes]
    ny = float(np.linalg.norm(y)) or 1.0

    def unpack(theta):
        out, i = [], 0
        for (a, b), s in zip(shapes, sizes):
            out.append(theta[i:i + s].reshape(a, b))
            i += s
        return out

    def objective(theta):
        Bs = unpack(theta)
        z, parts = _blend(R, Bs, V)
        nz = float(np.linalg.norm(z)) or 1e-12
        zy = float(z @ y)
        f = zy / (nz * ny)
        g = (y / nz - zy * z / nz ** 3) / ny  # d corr / d z
        grads = [R.T @ (g[:, None] * p * (v - zl[:, None]) / L) for (p, zl), v in zip(parts, V)]
        loss = -f + ridge * float(theta @ theta)
        return loss, -np.concatenate([gr.ravel() for gr in grads]) + 2 * ridge * theta

    theta0 = np.zeros(sum(sizes))
    before = -objective(theta0)[0]
    if r == 0 or R.shape[0] < 3 or not np.any([np.ptp(v) for v in V]):
        return unpack(theta0), {"corr_before": before, "corr_after": before, "iterations": 0}
    res = minimize(objective, theta0, jac=True, method="L-BFGS-B", options={"maxiter": max_iter})
    Bs = unpack(res.x)
    z, _ = _blend(R, Bs, V)
    after = float(z @ y) / ((float(np.linalg.norm(z)) or 1e-12) * ny)
    return Bs, {"corr_before": float(before), "corr_after": after, "iterations": int(res.nit)}


def regime_gates(state, names: Sequence[str], S: np.ndarray, alpha: dict, X: np.ndarray, y: np.ndarray, *,
                 ridge: float = REGIME_RIDGE) -> tuple[list[np.ndarray], dict]:
    """``W_g`` per layer of ``state`` (d × pool) reading regime features only, fitted on the out-of-fold
    scores ``S`` (rows × ``names``) scaled by ``alpha`` and the router embeddings ``X`` of the same rows."""
    Q = regime_basis(state.embedding)
    R = np.asarray(X, dtype=np.float64) @ Q
    V = [S[:, [names.index(e) for e in pool]] * np.array([alpha.get(e, 0.0) for e in pool]) for pool in state.pools]
    Bs, info = fit_regime_gates(R, V, y, ridge=ridge)
    info["features"] = [f for f in REGIME_FEATURES if f in state.embedding.feature_names]
    return [Q @ B for B in Bs], info
