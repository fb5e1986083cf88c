"""Hypothesis strategies for router inputs, plus helpers that read an Assignment.

Inputs are drawn from a numpy generator seeded by hypothesis (fast, and the
sizes still shrink). Exact ties are injected the only way that keeps them
exact in every implementation: duplicated token rows of X (tokens tie for
every expert) and duplicated gate columns (experts tie within every token).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st


@dataclass(frozen=True)
class Case:
    X: np.ndarray
    W: np.ndarray
    c: float
    p: float
    m: int | None

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def e(self) -> int:
        return self.W.shape[1]


@st.composite
def cases(draw, *, max_n: int = 40, max_e: int = 10, ties: bool = True, max_scale: float = 4.0) -> Case:
    n = draw(st.integers(1, max_n))
    d = draw(st.integers(1, 6))
    e = draw(st.integers(1, max_e))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    X = rng.standard_normal((n, d))
    W = rng.standard_normal((d, e)) * draw(st.floats(0.05, max_scale))
    if ties and n > 1 and draw(st.booleans()):
        src = rng.integers(0, n, size=n // 3 + 1)
        dst = rng.integers(0, n, size=src.size)
        X[dst] = X[src]
    if ties and e > 1 and draw(st.booleans()):
        W[:, rng.integers(0, e)] = W[:, rng.integers(0, e)]
    c = draw(st.one_of(st.floats(0.05, 3.0), st.floats(3.0, 2.0 * e + 1)))
    p = draw(st.one_of(st.floats(0.01, 1.0), st.just(1.0)))
    m = draw(st.one_of(st.none(), st.integers(1, e + 2)))
    return Case(X, W, c, p, m)


def kept_experts(a, t: int) -> list[int]:
    return [j for j, _ in a.token_experts[t]]


def assigned_experts(a, t: int) -> list[int]:
    """A(t) recomputed from the buckets and scores the Assignment reports."""
    S = a.scores
    members = [j for j in range(S.shape[1]) if t in set(a.buckets[j].tolist())]
    return sorted(members, key=lambda j: (-S[t, j], j))


def running_sums(a, t: int, experts: list[int]) -> list[float]:
    """R_0, R_1, ... summed in the given order, exactly as the spec adds them."""
    sums, total = [0.0], 0.0
    for j in experts:
        total = total + a.scores[t, j]
        sums.append(total)
    return sums


def rank_key(a, j: int, t: int) -> tuple[float, int]:
    return (-a.scores[t, j], t)
