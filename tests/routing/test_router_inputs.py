"""The Inputs section of ROUTER_SPEC.md (every ValueError) and step 2 (capacity)."""

from __future__ import annotations

import numpy as np
import pytest

from thunderline.routing import route
from thunderline.routing.inputs import expert_capacity

X = np.arange(12, dtype=float).reshape(4, 3) / 10
W = np.ones((3, 2))


@pytest.mark.parametrize(
    "x, w",
    [
        (X[0], W),  # 1-D embeddings
        (X, W[:, 0]),  # 1-D gate
        (X[None], W),  # 3-D embeddings
        (np.array(1.0), W),  # 0-D
        (np.where(X > 0.5, np.nan, X), W),
        (X, np.where(W > 0, np.inf, W)),
        (X, -np.inf * W),
        (np.empty((0, 3)), W),  # n < 1
        (np.empty((4, 0)), np.empty((0, 2))),  # d < 1
        (X, np.empty((3, 0))),  # e < 1
        (X, np.ones((2, 2))),  # inner dimensions differ
        ([["a", "b", "c"]], W),  # not numeric
    ],
)
def test_bad_arrays_raise(x, w):
    with pytest.raises(ValueError):
        route(x, w, 1.0, 0.5)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_embedding_is_named(bad):
    x = np.ones((300, 3))
    x[217, 2] = bad
    with pytest.raises(ValueError, match=r"^X: every entry must be finite; X\[217, 2\]"):
        route(x, W, 1.0, 0.5)
    with pytest.raises(ValueError, match=r"^W_g: every entry must be finite; W_g\[1, 0\]"):
        route(np.ones((4, 3)), np.where(np.arange(6).reshape(3, 2) == 2, bad, 1.0), 1.0, 0.5)


@pytest.mark.parametrize("c", [0, 0.0, -1.0, float("nan"), float("inf"), -float("inf"), "2", None])
def test_bad_capacity_factor_raises(c):
    with pytest.raises(ValueError, match="capacity_factor"):
        route(X, W, c, 0.5)


@pytest.mark.parametrize("p", [0, 0.0, -0.1, 1.0000001, 2, float("nan"), float("inf"), None])
def test_p_outside_unit_interval_raises(p):
    with pytest.raises(ValueError, match=r"^p: "):
        route(X, W, 1.0, p)


@pytest.mark.parametrize("m", [0, -1, 1.0, 2.5, True, False, np.bool_(True), "1", np.float64(1.0)])
def test_bad_max_experts_raises(m):
    with pytest.raises(ValueError, match="max_experts"):
        route(X, W, 1.0, 0.5, max_experts=m)


@pytest.mark.parametrize("m", [1, 2, 7, np.int64(1), np.int32(2), np.uint8(3)])
def test_integer_max_experts_accepted(m):
    a = route(X, W, 1.0, 0.5, max_experts=m)
    assert a.stats["max_experts"] == int(m)
    assert type(a.stats["max_experts"]) is int


def test_p_of_one_and_lists_are_accepted():
    a = route(X.tolist(), W.tolist(), 1.0, 1.0)
    assert a.stats["p"] == 1.0


@pytest.mark.parametrize(
    "x, w",
    [
        ([[1e200], [1.0]], [[1e200, 1.0]]),  # +inf logit
        ([[1.0], [-1e200]], [[1.0, 2.0, 1e200]]),  # -inf logit, not the first expert
        ([[1e200, 1e200]], [[0.0, 1e200], [0.0, -1e200]]),  # inf - inf = NaN in expert 1
    ],
)
def test_logit_overflow_raises_instead_of_returning_nan(x, w):
    with pytest.raises(ValueError, match="overflow"):
        route(x, w, 1.0, 0.5)


def test_capacity_absorbs_float_error():
    assert 700 * 1.1 / 7 > 110  # the float error the tolerance exists for
    assert expert_capacity(700, 1.1, 7) == 110
    assert route(np.ones((700, 1)), np.ones((1, 7)), 1.1, 0.5).stats["capacity"] == 110


@pytest.mark.parametrize(
    "n, c, e, K",
    [
        (4, 1.5, 2, 3),
        (4, 0.5, 2, 1),
        (10, 0.05, 4, 1),  # n·c/e < 1 gives 1
        (10, 5.0, 4, 10),  # c > e gives n
        (10, 4.0, 4, 10),
        (10, 1e300, 4, 10),  # n·c overflows nothing
        (65536, 2.0, 16, 8192),
        (100, 1.0, 3, 34),
        (99, 1.0, 3, 33),
    ],
)
def test_capacity(n, c, e, K):
    assert expert_capacity(n, c, e) == K
