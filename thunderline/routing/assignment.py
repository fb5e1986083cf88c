"""The result of routing one batch through one layer.

Why a compact record with lazy views: a decision pipeline handling millions of
tokens needs the kept experts as arrays, while an audit trace wants Python
lists, and the n×e weights and the sorted e×K buckets are needed only by some
readers. Routing computes the scores, the kept experts as CSR arrays, each
token's kept mass and each bucket's last entry - which determine everything
else. ``weights``, ``kept_mask``, ``buckets``, ``bucket_kept``,
``token_experts`` and ``expert_tokens`` are built from them on first access
and cached, so routing never pays for arrays or lists nobody reads (and never
allocates ~10 MB per call that the next call must page-fault in again). All
arrays are read-only: an Assignment is a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from thunderline.routing.kernels.assign import CAPPED, EXHAUSTED, REACHED, UNCOVERED, blend_weights, bucket_kept
from thunderline.routing.kernels.assign import kept_mask as _kept_mask
from thunderline.routing.kernels.choice import rank_buckets, score_bins


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr.flags.writeable = False
    return arr


@dataclass(frozen=True, eq=False)
class Assignment:
    """Routing of n tokens over e experts (ROUTER_SPEC.md, Outputs).

    Computed by routing (the record):

    - ``scores``: S, n×e float64 (a transposed view: the kernels work expert-major).
    - ``stats``: the spec's Stats, plain Python values.
    - ``kept_experts`` (N int64) and ``kept_offsets`` (n+1 int64), CSR:
      ``kept_experts[kept_offsets[t]:kept_offsets[t + 1]]`` are token t's kept
      experts in kept order (score descending, ties to the lower expert).
    - ``kept_mass``: n float64, Z_t = R_r, the running sum at the cut (0 if undercovered).
    - ``bucket_last_token``, ``bucket_last_score``: e each, the last (K-th
      ranked) entry of every bucket B_j; t is in B_j exactly when
      (S[t, j], −t) ≥ (bucket_last_score[j], −bucket_last_token[j]).

    Built on first access and cached: ``weights`` (n×e float64; rows of covered
    tokens sum to 1), ``kept_mask`` (n×e bool), ``buckets`` (e×K int64, each
    expert's ranking before pruning), ``bucket_kept`` (e×K bool: whether
    ``buckets[j, i]`` kept j), ``token_experts``, ``expert_tokens``.
    """

    scores: np.ndarray
    stats: dict[str, Any]
    kept_experts: np.ndarray
    kept_offsets: np.ndarray
    kept_mass: np.ndarray
    bucket_last_token: np.ndarray
    bucket_last_score: np.ndarray

    @property
    def kept_counts(self) -> np.ndarray:
        """k_t for every token."""
        return np.diff(self.kept_offsets)

    @cached_property
    def weights(self) -> np.ndarray:
        """n×e blend weights: S[t, j]/Z_t on kept(t), else 0 (equal split if every kept score is 0)."""
        return _frozen(blend_weights(self.scores.T, self.kept_experts, self.kept_offsets, self.kept_mass))

    @cached_property
    def kept_mask(self) -> np.ndarray:
        """n×e bool: whether token t kept expert j."""
        return _frozen(_kept_mask(self.scores.shape[1], self.kept_experts, self.kept_offsets))

    @cached_property
    def buckets(self) -> np.ndarray:
        """e×K int64: B_j, each expert's K best tokens by (score desc, index asc), before pruning."""
        St = self.scores.T
        K = self.stats["capacity"]
        bins = score_bins(St.shape[1])
        return _frozen(rank_buckets(St, K, self.bucket_last_token, self.bucket_last_score, bins))

    @cached_property
    def bucket_kept(self) -> np.ndarray:
        """e×K bool: whether bucket entry ``buckets[j, i]`` kept j."""
        return _frozen(bucket_kept(self.buckets, self.kept_mask))

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
    assigned_pairs: int,
    expert_counts: np.ndarray,
    hist: np.ndarray,
    saturation: np.ndarray,
    undercovered: np.ndarray,
    entropy_sum: float,
) -> dict[str, Any]:
    """The Stats section of ROUTER_SPEC.md, as plain Python values (hashable, JSON-ready).

    Takes the per-token pass's tallies (``kernels/assign.py``), so nothing here
    is O(n) except listing the undercovered tokens.
    """
    kept_pairs = int(expert_counts.sum())
    mean_load = kept_pairs / e
    load_balance = float(np.sqrt(np.mean((expert_counts - mean_load) ** 2)))
    undercovered_list = undercovered.tolist()
    return {
        "n_tokens": n,
        "n_experts": e,
        "capacity": K,
        "capacity_factor": capacity_factor,
        "p": p,
        "max_experts": max_experts,
        "total_slots": e * K,
        "assigned_pairs": int(assigned_pairs),
        "kept_pairs": kept_pairs,
        "avg_experts_per_token": kept_pairs / n,
        "expert_counts": tuple(expert_counts.tolist()),
        "load_balance": load_balance,
        "capacity_utilization": kept_pairs / (e * K),
        "p_saturation": {
            "uncovered": int(saturation[UNCOVERED]),
            "reached": int(saturation[REACHED]),
            "capped": int(saturation[CAPPED]),
            "exhausted": int(saturation[EXHAUSTED]),
        },
        "experts_per_token_hist": hist.tolist(),
        "entropy": entropy_sum / n,
        "undercovered": undercovered_list,
        "n_undercovered": len(undercovered_list),
        "undercovered_fraction": len(undercovered_list) / n,
    }
