"""Token embeddings for the router: standardised features projected to d dimensions.

Why versioned statistics: the router's gates were learned on embeddings made
with one mean/std and one projection; replaying a decision must rebuild exactly
that embedding. An :class:`EmbeddingSpec` is therefore data (stored with each
router version) and its ``version`` is the hash of all of it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from thunderline.hashing import content_hash

CLIP = 8.0  # standardised values beyond ±8σ are clipped: one outlier must not own the gate


@dataclass(frozen=True)
class EmbeddingSpec:
    feature_names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    projection: tuple[tuple[float, ...], ...]  # k × d
    seed: int

    @property
    def d(self) -> int:
        return len(self.projection[0]) if self.projection else 0

    @cached_property
    def version(self) -> str:
        return content_hash({"feature_names": list(self.feature_names), "mean": list(self.mean),
                             "std": list(self.std), "projection": [list(r) for r in self.projection],
                             "seed": self.seed})[:16]

    def to_json(self) -> dict:
        return {"feature_names": list(self.feature_names), "mean": list(self.mean), "std": list(self.std),
                "projection": [list(r) for r in self.projection], "seed": self.seed}

    @classmethod
    def from_json(cls, d: dict) -> "EmbeddingSpec":
        return cls(tuple(d["feature_names"]), tuple(d["mean"]), tuple(d["std"]),
                   tuple(tuple(r) for r in d["projection"]), int(d["seed"]))

    def embed(self, features: np.ndarray) -> np.ndarray:
        """n × k features (NaN = missing) → n × d embeddings; missing values sit at the mean."""
        F = np.asarray(features, dtype=np.float64)
        if F.ndim != 2 or F.shape[1] != len(self.feature_names):
            raise ValueError(f"embed: expected n × {len(self.feature_names)} features, got {F.shape}")
        Z = (F - np.asarray(self.mean)) / np.asarray(self.std)
        Z = np.clip(np.nan_to_num(Z, nan=0.0, posinf=CLIP, neginf=-CLIP), -CLIP, CLIP)
        return Z @ np.asarray(self.projection, dtype=np.float64)


def fit_embedding(features: np.ndarray, feature_names, d: int = 32, seed: int = 0) -> EmbeddingSpec:
    """Statistics from ``features`` (NaN-aware) and a seeded Gaussian projection scaled by 1/√k."""
    F = np.asarray(features, dtype=np.float64)
    k = F.shape[1]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        # an all-NaN column (e.g. no filings yet) is expected: it gets mean 0, std 1 below
        warnings.filterwarnings("ignore", "Mean of empty slice", RuntimeWarning)
        warnings.filterwarnings("ignore", "Degrees of freedom", RuntimeWarning)
        mean = np.nanmean(F, axis=0) if len(F) else np.zeros(k)
        std = np.nanstd(F, axis=0) if len(F) else np.ones(k)
    mean = np.where(np.isfinite(mean), mean, 0.0)
    std = np.where(np.isfinite(std) & (std > 1e-12), std, 1.0)
    rng = np.random.default_rng([seed, 0xE3BE])
    proj = rng.standard_normal((k, d)) / np.sqrt(k)
    return EmbeddingSpec(tuple(feature_names), tuple(float(x) for x in mean), tuple(float(x) for x in std),
                         tuple(tuple(float(x) for x in row) for row in proj), int(seed))
