"""Experts (seed name: Thunderbolt): train, register in MLflow, load by alias, run under budgets, blend.

An expert is a scikit-learn classifier over one family's features
(:mod:`~thunderline.experts.catalog`) that answers buy / sell / hold with a
confidence for each feature window. It lives in the MLflow registry as the pyfunc
``thunderline.expert.<name>`` with aliases ``champion``, ``challenger`` and
``shadow`` (:mod:`~thunderline.experts.registry`), runs isolated under a latency
budget (:mod:`~thunderline.experts.runner`) and is blended with the others by
router weight and confidence, shadows excluded (:mod:`~thunderline.experts.blend`).

The MLflow-backed names (registry, pyfunc model) are imported on first use, so
code that only blends or runs experts does not pay for importing MLflow.
"""

from __future__ import annotations

import importlib
from typing import Any

from thunderline.experts.blend import blend
from thunderline.experts.catalog import (
    DEFAULT_EXPERT_SPECS,
    DEFAULT_LATENCY_BUDGET_MS,
    EXPERT_MODEL_PREFIX,
    FAMILY_FEATURES,
    FILING_FEATURES,
    MOMENTUM_FEATURES,
    ORDER_FLOW_FEATURES,
    ExpertSpec,
    registered_model_name,
)
from thunderline.experts.predict import (
    ExpertInputError,
    FeatureTypeError,
    MissingFeatureError,
    predict_frame,
)
from thunderline.experts.runner import ExpertResult, ExpertRunner, window_risk_flags
from thunderline.experts.training import (
    ExpertMetrics,
    FittedExpert,
    evaluate_expert,
    train_default_experts,
    train_expert,
)

_LAZY = {
    "ALIASES": "thunderline.experts.registry",
    "ExpertInfo": "thunderline.experts.registry",
    "ExpertLoadError": "thunderline.experts.registry",
    "ExpertNotFound": "thunderline.experts.registry",
    "ExpertRegistry": "thunderline.experts.registry",
    "ExpertRegistryError": "thunderline.experts.registry",
    "ExpertVersion": "thunderline.experts.registry",
    "LoadedExpert": "thunderline.experts.registry",
    "SwapEvent": "thunderline.experts.registry",
    "ExpertPyfunc": "thunderline.experts.model",
    "save_expert_model": "thunderline.experts.model",
    "planted_feature_windows": "thunderline.experts.synthetic",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'thunderline.experts' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "DEFAULT_EXPERT_SPECS",
    "DEFAULT_LATENCY_BUDGET_MS",
    "EXPERT_MODEL_PREFIX",
    "FAMILY_FEATURES",
    "FILING_FEATURES",
    "MOMENTUM_FEATURES",
    "ORDER_FLOW_FEATURES",
    "ExpertInputError",
    "ExpertMetrics",
    "ExpertResult",
    "ExpertRunner",
    "ExpertSpec",
    "FeatureTypeError",
    "FittedExpert",
    "MissingFeatureError",
    "blend",
    "evaluate_expert",
    "predict_frame",
    "registered_model_name",
    "train_default_experts",
    "train_expert",
    "window_risk_flags",
]
__all__ += sorted(_LAZY)  # the lazily imported names
