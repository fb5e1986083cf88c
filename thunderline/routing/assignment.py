"""The result of routing one batch through one layer.

Why the CSR arrays: a decision pipeline handling millions of tokens needs the
kept experts as arrays, while an audit trace wants Python lists. The arrays
are the record; ``token_experts`` and ``expert_tokens`` are built from them on
first access and cached, so routing never pays for list building nobody reads.
All arrays are read-only: an Assignment is a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class Assignment:
    """Routing of n tokens over e experts (ROUTER_SPEC.md, Outputs).

    ``kept_experts[kept_offsets[t]:kept_offsets[t + 1]]`` are token t's kept
    experts in kept order (score descending, ties to the lower expert);
    ``bucket_kept[j, i]`` says whether bucket entry ``buckets[j, i]`` kept j.
    """

    scores: np.ndarray  # S, n×e float64 (a transposed view: the kernels work expert-major)
    weights: np.ndarray  # n×e float64; rows of covered tokens sum to 1
    buckets: np.ndarray  # e×K int64, each expert's ranking before pruning
    stats: dict[str, Any]
    kept_experts: np.ndarray  # N int64
    kept_offsets: np.ndarray  # n+1 int64
    kept_mask: np.ndarray  # n×e bool
    bucket_kept: np.ndarray  # e×K bool

    @property
    def kept_counts(self) -> np.ndarray:
        """k_t for every token."""
        return np.diff(self.kept_offsets)

    @cached_property
    def token_experts(self) -> list[list[tuple[int, float]]]:
        """For every token, (expert, S[t, expert]) of kept(t) in kept order; [] if undercovered."""
        n = self.scores.shape[0]
        rows = np.repeat(np.arange(n), self.kept_counts)
        pairs = list(zip(self.kept_experts.tolist(), self.scores[rows, self.kept_experts].tolist()))
        bounds = self.kept_offsets.tolist()
        return [pairs[bounds[t]:bounds[t + 1]] for t in range(n)]

    @cached_property
    def expert_tokens(self) -> list[list[int]]:
        """For every expert j, the tokens of B_j, in bucket order, that kept j."""
        return [row[keep].tolist() for row, keep in zip(self.buckets, self.bucket_kept)]


def routing_stats(
    *,
    n: int,
    e: int,
    K: int,
    capacity_factor: float,
    p: float,
    max_experts: int | None,
    assigned: np.ndarray,
    kept_counts: np.ndarray,
    kept_mass: np.ndarray,
    expert_counts: np.ndarray,
    entropy_sum: float,
) -> dict[str, Any]:
    """The Stats section of ROUTER_SPEC.md, as plain Python values (hashable, JSON-ready)."""
    kept_pairs = int(kept_counts.sum())
    mean_load = kept_pairs / e
    load_balance = float(np.sqrt(np.mean((expert_counts - mean_load) ** 2)))
    uncovered = assigned == 0
    reached = ~uncovered & (kept_mass >= p)
    short = ~uncovered & ~reached
    capped = short & (kept_counts < assigned)
    undercovered = np.flatnonzero(uncovered).tolist()
    return {
        "n_tokens": n,
        "n_experts": e,
        "capacity": K,
        "capacity_factor": capacity_factor,
        "p": p,
        "max_experts": max_experts,
        "total_slots": e * K,
        "assigned_pairs": int(assigned.sum()),
        "kept_pairs": kept_pairs,
        "avg_experts_per_token": kept_pairs / n,
        "expert_counts": tuple(expert_counts.tolist()),
        "load_balance": load_balance,
        "capacity_utilization": kept_pairs / (e * K),
        "p_saturation": {
            "uncovered": len(undercovered),
            "reached": int(reached.sum()),
            "capped": int(capped.sum()),
            "exhausted": int((short & ~capped).sum()),
        },
        "experts_per_token_hist": np.bincount(kept_counts, minlength=e + 1).tolist(),
        "entropy": entropy_sum / n,
        "undercovered": undercovered,
        "n_undercovered": len(undercovered),
        "undercovered_fraction": len(undercovered) / n,
    }
