"""Gate scores as the warehouse stores them: dense per layer up to a width, top-n sparse above it.

Why: a trace stores, per router layer, the gate's score for every expert of the layer. At
today's widths (3-16 experts) that is a few hundred bytes; at 64 experts per layer it would
be most of the row, while what anyone reads back is the kept experts and the few next in line.
Above ``sparse_above`` experts a layer is stored as
``{"n": width, "i": [expert indices, ascending], "s": [their scores]}``: the ``top_n`` highest
scores plus every kept (selected) expert, each exact (the same float64, shortest round-trip
text), the rest dropped. At or below it the layer stays the dense list it always was, so traces
of today's routers are stored byte for byte as before.

The canonical hash is unchanged: it is defined over the dense scores the router computed
(:meth:`DecisionTrace.hashed_content`) and computed before storage, so replay hashes do not
depend on this setting. :func:`dense_scores` reads either form back (dropped scores as None).
Top-n ties go to the lower expert index (a stable sort), in the bulk and the per-row path alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

#: Layers with more experts than this are stored sparse.
SPARSE_ABOVE = 32
#: Scores kept per sparse layer besides the kept experts' own.
TOP_N = 8


@dataclass(frozen=True)
class GateStorage:
    """How gate scores are stored: dense up to ``sparse_above`` experts per layer, else ``top_n`` + kept."""

    sparse_above: int = SPARSE_ABOVE
    top_n: int = TOP_N

    def __post_init__(self) -> None:
        if self.sparse_above < 0 or self.top_n < 0:
            raise ValueError(f"GateStorage: sparse_above and top_n must be >= 0, got {self}")

    def is_sparse(self, width: int) -> bool:
        return width > self.sparse_above


DEFAULT = GateStorage()


def of_settings(settings) -> GateStorage:
    """The storage THUNDERLINE_GATE_SPARSE_ABOVE / THUNDERLINE_GATE_TOP_N configure (thunderline.config)."""
    return GateStorage(sparse_above=settings.gate_sparse_above, top_n=settings.gate_top_n)


def stored_mask(scores: np.ndarray, kept: np.ndarray, top_n: int) -> np.ndarray:
    """n×w bool: which scores a sparse layer keeps (the ``top_n`` highest of each row, and every kept expert)."""
    S = np.asarray(scores, dtype=np.float64)
    mask = np.asarray(kept, dtype=bool).copy()
    if top_n and S.size:
        order = np.argsort(-S, axis=1, kind="stable")[:, :top_n]
        np.put_along_axis(mask, order, True, axis=1)
    return mask


def sparse_layer(scores: Sequence[float], kept: Sequence[int], top_n: int) -> dict[str, Any]:
    """One trace's sparse document of one layer (the per-row definition the bulk path reproduces)."""
    S = np.asarray(scores, dtype=np.float64)[None, :]
    keep = np.zeros(S.shape, dtype=bool)
    keep[0, list(kept)] = True
    idx = np.flatnonzero(stored_mask(S, keep, top_n)[0])
    return {"n": int(S.shape[1]), "i": idx.tolist(), "s": S[0, idx].tolist()}


def dense_scores(layer: Any) -> list[float | None]:
    """A stored layer (dense list or sparse document) as a dense list; scores not stored are None."""
    if isinstance(layer, dict):
        out: list[float | None] = [None] * int(layer["n"])
        for i, s in zip(layer["i"], layer["s"]):
            out[int(i)] = s
        return out
    return list(layer)
