"""Blending several experts' actions on the same windows into one action per window.

Rule, per window, over the *live* experts — not shadow, not abstaining,
router weight > 0:

* ``Z`` = sum of their weights; with no live expert (``Z = 0``) the window
  gets ``abstain`` with confidence 0;
* each live expert puts ``weight × confidence`` on its action; the masses are
  normalised by ``Z``: ``b`` (buy), ``s`` (sell), ``h`` (hold), each in [0, 1];
* the directional score is ``d = b − s``; if ``|d| > h`` the action is ``buy``
  (d > 0) or ``sell`` with confidence ``|d|``, otherwise ``hold`` with
  confidence ``h``. Opposing experts cancel, so a contested buy is a weak buy,
  and exact ties resolve to ``hold``.

Guarantees: confidences are in [0, 1]; a shadow expert's action, confidence
and weight never change the result (its terms are replaced by exact zeros
before any sum, not subtracted afterwards); the result does not depend on the
absolute scale of the weights of a window (up to floating-point rounding).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from thunderline.contracts import ACTIONS


def _as_2d(name: str, x: Any, shape: tuple[int, int] | None = None, dtype=None) -> np.ndarray:
    a = np.asarray(x, dtype=dtype)
    if a.ndim == 1 and shape is not None and shape[1] == 1:
        a = a.reshape(-1, 1)
    if a.ndim != 2:
        raise ValueError(f"{name}: expected an n×k array (windows × experts), got shape {a.shape}")
    if shape is not None and a.shape != shape:
        raise ValueError(f"{name}: shape {a.shape} differs from actions {shape}")
    return a


#: Integer code of every action (its index in ACTIONS); -1 marks anything else.
BUY, SELL, HOLD, ABSTAIN = (ACTIONS.index(a) for a in ("buy", "sell", "hold", "abstain"))
_ACTION_OBJECTS = np.array(ACTIONS, dtype=object)
_ACTION_INDEX = pd.Index(list(ACTIONS), dtype=object)


def action_codes(actions: Any) -> np.ndarray:
    """int8 code of every action string (index in ACTIONS, -1 for anything else), found by hashing in C.

    Why codes: comparing object arrays of strings element by element ran a Python
    comparison per (window, expert) several times per batch.
    """
    a = np.asarray(actions, dtype=object)
    if a.size == 0:
        return np.zeros(a.shape, dtype=np.int8)
    try:
        codes = _ACTION_INDEX.get_indexer(a.ravel())
    except TypeError:  # an unhashable value: not an action, say so by position
        codes = np.array([_ACTION_INDEX.get_indexer([v])[0] if isinstance(v, str) else -1 for v in a.ravel()])
    return codes.astype(np.int8).reshape(a.shape)


def action_strings(codes: np.ndarray) -> np.ndarray:
    """The object array of action strings for valid codes (the inverse of :func:`action_codes`)."""
    return _ACTION_OBJECTS[np.asarray(codes, dtype=np.intp)]


def blend(actions: Any, confidences: Any, weights: Any, shadow_mask: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Blend n windows × k experts → (actions: object array of n strings, confidences: float64 n).

    ``actions``: strings from ``buy``/``sell``/``hold``/``abstain``;
    ``confidences``: in [0, 1] wherever the action is not ``abstain``;
    ``weights``: finite, ≥ 0 (router blend weights, 0 for experts not kept);
    ``shadow_mask``: k booleans (or n×k), True for shadow experts; None = no shadows.
    Raises ValueError naming the window and expert of any invalid entry.
    """
    acts = _as_2d("actions", actions, dtype=object)
    codes, conf = blend_codes(action_codes(acts), confidences, weights, shadow_mask, names=acts)
    return action_strings(codes), conf


def blend_codes(codes: Any, confidences: Any, weights: Any, shadow_mask: Any = None, *,
                names: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`blend` over action codes (see :func:`action_codes`); returns (codes, confidences).

    ``names``: the original action values, only to name an invalid one in the error.
    """
    acts = _as_2d("actions", codes, dtype=np.int8)
    shape = acts.shape
    conf = _as_2d("confidences", confidences, shape, dtype=np.float64)
    w = _as_2d("weights", weights, shape, dtype=np.float64)
    if shadow_mask is None:
        shadow = np.zeros(shape, dtype=bool)
    else:
        sm = np.asarray(shadow_mask, dtype=bool)
        if sm.shape == (shape[1],):
            shadow = np.broadcast_to(sm, shape)
        elif sm.shape == shape:
            shadow = sm
        else:
            raise ValueError(f"shadow_mask: shape {sm.shape} is neither ({shape[1]},) nor {shape}")

    # Shadow entries are not validated either: nothing about a shadow expert may change the outcome.
    known = (acts >= 0) | shadow
    if not known.all():
        i, j = map(int, np.argwhere(~known)[0])
        value = names[i, j] if names is not None else int(acts[i, j])
        raise ValueError(f"actions[{i}, {j}] = {value!r} is not one of {ACTIONS}")
    good_w = (np.isfinite(w) & (w >= 0)) | shadow
    if not good_w.all():
        i, j = map(int, np.argwhere(~good_w)[0])
        raise ValueError(f"weights[{i}, {j}] = {float(w[i, j])!r} must be finite and >= 0")

    with np.errstate(invalid="ignore"):  # NaN weights can only sit on shadow entries here
        live = ~shadow & (acts != ABSTAIN) & (w > 0)
    bad_conf = live & ~(np.isfinite(conf) & (conf >= 0) & (conf <= 1))
    if bad_conf.any():
        i, j = map(int, np.argwhere(bad_conf)[0])
        raise ValueError(f"confidences[{i}, {j}] = {float(conf[i, j])!r} must be in [0, 1]")

    w_live = np.where(live, w, 0.0)
    mass = w_live * np.where(live, conf, 0.0)
    Z = w_live.sum(axis=1)
    safe_Z = np.where(Z > 0, Z, 1.0)
    b = np.where(acts == BUY, mass, 0.0).sum(axis=1) / safe_Z
    s = np.where(acts == SELL, mass, 0.0).sum(axis=1) / safe_Z
    h = np.where(acts == HOLD, mass, 0.0).sum(axis=1) / safe_Z
    d = b - s
    directional = np.abs(d) > h

    n = shape[0]
    out_action = np.full(n, HOLD, dtype=np.int8)
    out_action[directional & (d > 0)] = BUY
    out_action[directional & (d < 0)] = SELL
    out_conf = np.where(directional, np.abs(d), h)
    none_live = Z <= 0
    out_action[none_live] = ABSTAIN
    out_conf = np.where(none_live, 0.0, np.clip(out_conf, 0.0, 1.0))
    return out_action, out_conf


# --------------------------------------------------------------------------- continuous decision
#: Action thresholds used when a router version carries none fitted (versions from before fitted
#: thresholds existed): |score| above this is directional. Bootstrap and gate retraining always fit them.
UNFITTED_THRESHOLD = 0.2


def blend_scores(codes: Any, scores: Any, weights: Any, scale: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """The blend's signed conviction per window: ``(score, Z)``.

    Over the *live* entries of each window (action not ``abstain``, weight > 0):
    ``score = Σ w·α·s / Σ w`` where ``s`` is the expert's signed score in [−1, 1] and
    ``α`` (``scale``, one per column, in [0, 1]; default 1) how much of its score the
    router trusts — fitted on training data from how well each expert's score predicted
    the realised move. ``score`` is therefore in [−1, 1]; it is 0 where ``Z = Σ w = 0``
    (no live expert). ``codes`` as in :func:`action_codes`.
    """
    acts = _as_2d("actions", codes, dtype=np.int8)
    shape = acts.shape
    s = _as_2d("scores", scores, shape, dtype=np.float64)
    w = _as_2d("weights", weights, shape, dtype=np.float64)
    a = np.ones(shape[1]) if scale is None else np.asarray(scale, dtype=np.float64)
    if a.shape != (shape[1],) or not (np.isfinite(a) & (a >= 0) & (a <= 1)).all():
        raise ValueError(f"scale: expected {shape[1]} finite values in [0, 1], got {a!r}")
    live = (acts != ABSTAIN) & (acts >= 0) & (w > 0)
    w_live = np.where(live, w, 0.0)
    Z = w_live.sum(axis=1)
    num = (w_live * np.where(live, np.clip(np.nan_to_num(s), -1.0, 1.0), 0.0) * a).sum(axis=1)
    out = np.where(Z > 0, num / np.where(Z > 0, Z, 1.0), 0.0)
    return np.clip(out, -1.0, 1.0), Z


def score_actions(score: Any, Z: Any, thresholds: tuple[float, float] = (UNFITTED_THRESHOLD, UNFITTED_THRESHOLD),
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Discrete actions from the blended score: ``buy`` when ``score > buy_threshold``, ``sell`` when
    ``score < −sell_threshold``, else ``hold``; ``abstain`` where no expert was live (``Z = 0``).

    Returns (codes, confidence): the confidence of a directional action is ``|score|``, of a hold
    ``1 − |score|``, of an abstention 0 — all in [0, 1].
    """
    z = np.asarray(score, dtype=np.float64)
    tb, ts = (float(thresholds[0]), float(thresholds[1]))
    if not (0.0 <= tb <= 1.0 and 0.0 <= ts <= 1.0):
        raise ValueError(f"thresholds {thresholds!r} must be in [0, 1]")
    codes = np.full(z.shape, HOLD, dtype=np.int8)
    codes[z > tb] = BUY
    codes[z < -ts] = SELL
    directional = codes != HOLD
    conf = np.where(directional, np.abs(z), 1.0 - np.abs(z))
    none_live = np.asarray(Z, dtype=np.float64) <= 0
    codes[none_live] = ABSTAIN
    conf = np.where(none_live, 0.0, np.clip(conf, 0.0, 1.0))
    return codes, conf
