"""Input rules of the router (ROUTER_SPEC.md, Inputs and step 2).

Why separate: the same rules guard the single-layer ``route`` and the layer
configs, and a bad value must fail before any kernel runs, with a message that
names the argument and the rule it broke.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

#: Relative slack absorbing float error in n·c/e before the ceiling (700·1.1/7 → 110).
CAPACITY_TOLERANCE = 1e-9


def as_matrix(name: str, value, *, check_finite: bool = True) -> np.ndarray:
    """``value`` as a C-contiguous float64 2-D array, with every entry finite unless told not to check.

    ``check_finite=False`` is for embeddings: any inf or NaN in X makes the
    gate kernel report a non-finite logit, and :func:`require_finite` then
    names the entry - which saves a full pass over the largest input.
    """
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: not a numeric array ({exc})") from None
    if arr.ndim != 2:
        raise ValueError(f"{name}: must be 2-D, got {arr.ndim}-D with shape {arr.shape}")
    if check_finite:
        require_finite(name, arr)
    return np.ascontiguousarray(arr)


def require_finite(name: str, arr: np.ndarray) -> None:
    if not np.isfinite(arr).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise ValueError(f"{name}: every entry must be finite; {name}{list(bad)} = {arr[bad]}")


def check_shapes(X: np.ndarray, W_g: np.ndarray) -> tuple[int, int, int]:
    """(n, d, e) of embeddings X (n×d) and gate W_g (d×e)."""
    n, d = X.shape
    d_gate, e = W_g.shape
    if n < 1:
        raise ValueError(f"X: needs at least one token (n >= 1), got shape {X.shape}")
    if d < 1:
        raise ValueError(f"X: needs at least one embedding dimension (d >= 1), got shape {X.shape}")
    if e < 1:
        raise ValueError(f"W_g: needs at least one expert (e >= 1), got shape {W_g.shape}")
    if d_gate != d:
        raise ValueError(f"inner dimensions differ: X is {X.shape} but W_g is {W_g.shape}")
    return n, d, e


def check_capacity_factor(c) -> float:
    value = _real("capacity_factor", c)
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(f"capacity_factor: must be finite and > 0, got {c!r}")
    return value


def check_p(p) -> float:
    value = _real("p", p)
    if not (0.0 < value <= 1.0):
        raise ValueError(f"p: must lie in (0, 1], got {p!r}")
    return value


def check_max_experts(m) -> int | None:
    """None (no cap) or an int >= 1; booleans are rejected although Python counts them as ints."""
    if m is None:
        return None
    if isinstance(m, (bool, np.bool_)) or not isinstance(m, numbers.Integral):
        raise ValueError(f"max_experts: must be an integer >= 1 or None, got {m!r}")
    if int(m) < 1:
        raise ValueError(f"max_experts: must be >= 1, got {m!r}")
    return int(m)


def expert_capacity(n: int, c: float, e: int) -> int:
    """K = ⌈x − 1e-9·max(1, x)⌉ with x = n·c/e, clamped to [1, n]: at least n·c slots in all."""
    x = (n * c) / e
    if not math.isfinite(x) or x >= n:
        return n
    return min(n, max(1, math.ceil(x - CAPACITY_TOLERANCE * max(1.0, x))))


def _real(name: str, value) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name}: must be a real number, got {value!r}")
    return float(value)
