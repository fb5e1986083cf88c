"""Hybrid Expert-Choice + Dynamic Top-P routing of one layer (ROUTER_SPEC.md).

Experts choose tokens (Zhou et al. 2022), so no expert exceeds its capacity K;
each token then keeps only as many of the experts that chose it as it needs to
reach gate mass p (Huang et al. 2024), so confident tokens use fewer experts.
Same inputs give a bitwise-identical Assignment.
"""

from __future__ import annotations

from thunderline.routing.assignment import Assignment, routing_stats
from thunderline.routing.inputs import (
    as_matrix,
    check_capacity_factor,
    check_max_experts,
    check_p,
    check_shapes,
    expert_capacity,
    require_finite,
)
from thunderline.routing.kernels.assign import assign_tokens
from thunderline.routing.kernels.choice import bucket_bounds, score_bins
from thunderline.routing.kernels.gate import gate_scores


def route(X, W_g, capacity_factor: float, p: float, max_experts: int | None = None) -> Assignment:
    """Route embeddings X (n×d) through gate W_g (d×e); see ROUTER_SPEC.md for every rule.

    Raises ValueError for inputs the spec rejects, and when X·W_g overflows
    float64 (the scores would be undefined). Undercovered tokens are reported
    in ``stats``, never raised.
    """
    X = as_matrix("X", X, check_finite=False)  # the gate kernel catches inf/NaN in X
    W_g = as_matrix("W_g", W_g)
    n, _, e = check_shapes(X, W_g)
    c = check_capacity_factor(capacity_factor)
    p = check_p(p)
    m = check_max_experts(max_experts)
    K = expert_capacity(n, c, e)

    St, entropy_sum, first_bad = gate_scores(X, W_g)
    if first_bad >= 0:
        require_finite("X", X)  # inf/NaN in X always makes some logit non-finite
        raise ValueError(f"X·W_g overflows float64 at token {first_bad}: gate logits must be finite")
    last_token, last_score = bucket_bounds(St, n, K, score_bins(n))
    cap = e if m is None else min(m, e)
    kept_experts, kept_offsets, kept_mass, expert_counts, hist, saturation, assigned_pairs, undercovered = (
        assign_tokens(St, n, K, last_token, last_score, p, cap)
    )
    stats = routing_stats(
        n=n,
        e=e,
        K=K,
        capacity_factor=c,
        p=p,
        max_experts=m,
        assigned_pairs=assigned_pairs,
        expert_counts=expert_counts,
        hist=hist,
        saturation=saturation,
        undercovered=undercovered,
        entropy_sum=entropy_sum,
    )
    arrays = dict(
        scores=St[:, :n].T,
        kept_experts=kept_experts,
        kept_offsets=kept_offsets,
        kept_mass=kept_mass,
        bucket_last_token=last_token,
        bucket_last_score=last_score,
    )
    for arr in arrays.values():
        arr.flags.writeable = False
    return Assignment(stats=stats, **arrays)
