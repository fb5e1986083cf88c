"""Baseline profiles and drift reports.

Why a stored profile: the baseline defines the bins, so it must be computed once
and reused — re-binning every run on a moving baseline would hide slow drift and
make reports incomparable. A :class:`DriftProfile` holds, per feature, the
interior quantile cut points, the baseline proportions per bin, the baseline
count and a bounded sorted sample for KS; it round-trips through JSON exactly
(floats are written with Python's shortest round-trip repr).

A profile belongs to one ``feature_schema_version``: comparing windows of
another version is refused, because a feature's meaning may have changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np

from thunderline.drift import stats
from thunderline.hashing import content_hash

DEFAULT_KS_POINTS = 1000


class DriftError(ValueError):
    """A profile or report cannot be built; the message names the profile and feature."""


@dataclass(frozen=True)
class FeatureProfile:
    """The baseline of one feature: ``len(cuts) + 1`` bins and their proportions."""

    cuts: tuple[float, ...]
    proportions: tuple[float, ...]
    n: int
    ks_sample: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.proportions) != len(self.cuts) + 1:
            raise DriftError(f"{len(self.cuts)} cuts need {len(self.cuts) + 1} proportions, got {len(self.proportions)}")


@dataclass(frozen=True)
class DriftProfile:
    """Baseline bins for a set of features, under one name and feature schema version."""

    name: str
    feature_schema_version: str
    n_bins: int
    epsilon: float
    features: dict[str, FeatureProfile]
    baseline_scope: str = ""  # what the baseline was taken from, e.g. "2024-01"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "feature_schema_version": self.feature_schema_version,
            "n_bins": self.n_bins,
            "epsilon": self.epsilon,
            "baseline_scope": self.baseline_scope,
            "features": {
                k: {"cuts": list(f.cuts), "proportions": list(f.proportions), "n": f.n, "ks_sample": list(f.ks_sample)}
                for k, f in sorted(self.features.items())
            },
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "DriftProfile":
        return cls(
            name=d["name"],
            feature_schema_version=d["feature_schema_version"],
            n_bins=int(d["n_bins"]),
            epsilon=float(d["epsilon"]),
            baseline_scope=d.get("baseline_scope", ""),
            features={
                k: FeatureProfile(
                    cuts=tuple(float(x) for x in f["cuts"]),
                    proportions=tuple(float(x) for x in f["proportions"]),
                    n=int(f["n"]),
                    ks_sample=tuple(float(x) for x in f["ks_sample"]),
                )
                for k, f in d["features"].items()
            },
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> "DriftProfile":
        return cls.from_dict(json.loads(text))

    @property
    def content_hash(self) -> str:
        return content_hash(self.to_dict())


def columns_from_records(records: Iterable[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """Feature dicts (e.g. ``feature_windows.features``) → one float64 column per feature.

    A feature missing from a record, or not a number, becomes NaN (dropped later).
    """
    records = list(records)
    names = sorted({k for r in records for k in r})
    out = {}
    for k in names:
        col = np.full(len(records), np.nan)
        for i, r in enumerate(records):
            v = r.get(k)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                col[i] = v
        out[k] = col
    return out


def build_profile(
    name: str,
    columns: Mapping[str, Any],
    *,
    feature_schema_version: str,
    n_bins: int = stats.DEFAULT_BINS,
    epsilon: float = stats.DEFAULT_EPSILON,
    ks_points: int = DEFAULT_KS_POINTS,
    baseline_scope: str = "",
) -> DriftProfile:
    """Profile every column of ``columns`` (feature → values). Features without a finite value are refused."""
    if epsilon <= 0:
        raise DriftError(f"profile {name!r}: epsilon must be > 0, got {epsilon}")
    feats: dict[str, FeatureProfile] = {}
    for feature, values in sorted(columns.items()):
        base = stats.finite(values)
        if base.size == 0:
            raise DriftError(f"profile {name!r}: feature {feature!r} has no finite baseline value")
        try:
            cuts = stats.quantile_cuts(base, n_bins)
        except ValueError as exc:
            raise DriftError(f"profile {name!r}: feature {feature!r}: {exc}") from None
        props = stats.proportions(stats.bin_counts(base, cuts))
        feats[feature] = FeatureProfile(
            cuts=tuple(cuts.tolist()),
            proportions=tuple(props.tolist()),
            n=int(base.size),
            ks_sample=tuple(stats.ks_sample(base, ks_points).tolist()),
        )
    if not feats:
        raise DriftError(f"profile {name!r}: no features given")
    return DriftProfile(name, feature_schema_version, n_bins, float(epsilon), feats, baseline_scope)


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    psi: float | None
    ks_statistic: float | None
    ks_pvalue: float | None
    status: str
    n_baseline: int
    n_current: int
    cuts: tuple[float, ...]
    expected: tuple[float, ...]
    actual: tuple[float, ...]
    note: str = ""


@dataclass(frozen=True)
class DriftReport:
    """Per-feature drift of one scope (e.g. a month) against one profile, worst first."""

    profile_name: str
    profile_hash: str
    feature_schema_version: str
    scope: str
    features: list[FeatureDrift]
    unprofiled: list[str] = field(default_factory=list)  # features seen now but absent from the baseline
    warn_at: float = stats.WARN_PSI
    fail_at: float = stats.FAIL_PSI

    @property
    def status(self) -> str:
        ranks = {"ok": 0, "warn": 1, "fail": 2}
        return max((f.status for f in self.features), key=ranks.__getitem__, default="ok")

    def counts(self) -> dict[str, int]:
        out = {"ok": 0, "warn": 0, "fail": 0}
        for f in self.features:
            out[f.status] += 1
        return out

    def by_feature(self) -> dict[str, FeatureDrift]:
        return {f.feature: f for f in self.features}


def _none_if_nan(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def compare(
    profile: DriftProfile,
    columns: Mapping[str, Any],
    *,
    scope: str = "",
    feature_schema_version: str | None = None,
    epsilon: float | None = None,
    warn_at: float = stats.WARN_PSI,
    fail_at: float = stats.FAIL_PSI,
) -> DriftReport:
    """Measure ``columns`` against ``profile``: PSI on the profile's bins, KS against its sample.

    ``epsilon`` defaults to the profile's. A profiled feature with no finite
    current value fails (with a note) rather than passing silently.
    """
    if feature_schema_version is not None and feature_schema_version != profile.feature_schema_version:
        raise DriftError(
            f"profile {profile.name!r} is for feature schema {profile.feature_schema_version!r}; "
            f"refusing to compare windows of {feature_schema_version!r}"
        )
    if not warn_at <= fail_at:
        raise DriftError(f"warn_at ({warn_at}) must not exceed fail_at ({fail_at})")
    eps = profile.epsilon if epsilon is None else float(epsilon)
    results = []
    for feature, base in profile.features.items():
        cur = stats.finite(columns.get(feature, ()))
        cuts = np.asarray(base.cuts)
        expected = np.asarray(base.proportions)
        if cur.size == 0:
            results.append(FeatureDrift(feature, None, None, None, "fail", base.n, 0, base.cuts, base.proportions,
                                        tuple(np.zeros_like(expected).tolist()), "no finite value in the current sample"))
            continue
        actual = stats.proportions(stats.bin_counts(cur, cuts))
        p = stats.psi(expected, actual, eps)
        ks = stats.ks_statistic(np.asarray(base.ks_sample), cur)
        results.append(FeatureDrift(
            feature, p, _none_if_nan(ks), _none_if_nan(stats.ks_pvalue(ks, base.n, int(cur.size))),
            stats.status_of(p, warn_at, fail_at), base.n, int(cur.size), base.cuts, base.proportions,
            tuple(actual.tolist()),
        ))
    results.sort(key=lambda f: (-(f.psi if f.psi is not None else np.inf), f.feature))
    unprofiled = sorted(set(columns) - set(profile.features))
    return DriftReport(profile.name, profile.content_hash, profile.feature_schema_version, scope, results,
                       unprofiled, warn_at, fail_at)


def report_rows(report: DriftReport) -> list[dict[str, Any]]:
    """Rows for ``drift_reports`` (without ids and tenant; see :mod:`thunderline.drift.store`)."""
    return [
        {
            "profile_name": report.profile_name,
            "profile_hash": report.profile_hash,
            "feature_schema_version": report.feature_schema_version,
            "scope": report.scope,
            "feature": f.feature,
            "psi": f.psi,
            "ks_statistic": f.ks_statistic,
            "ks_pvalue": f.ks_pvalue,
            "status": f.status,
            "n_baseline": f.n_baseline,
            "n_current": f.n_current,
            "detail": {"cuts": list(f.cuts), "expected": list(f.expected), "actual": list(f.actual), "note": f.note},
        }
        for f in report.features
    ]
