"""Neural architecture search over expert models (seed name: Cerebros NAS), feeding MLflow.

    data = open_slice(slice_path)
    target = NasTarget.from_spec(DEFAULT_SPECS_BY_NAME["momentum_gbm_h1"])
    result = OptunaNasRunner(n_trials=20, seed=0).search(data, target, tracker=NasTracker(client))
    register_candidates(registry, result, data, top_k=1, warehouse=wh)   # best → alias shadow

Runners (:class:`NasRunner`): :class:`OptunaNasRunner` (default; TPE + median
pruning over MLPs and boosted trees) and :class:`ExternalNasRunner` (a
subprocess speaking the JSON handshake of :mod:`thunderline.nas.external`).
Optuna is imported only inside :mod:`thunderline.nas.optuna_runner`.
"""

from thunderline.nas.external import PROTOCOL, ExternalNasError, ExternalNasRunner
from thunderline.nas.optuna_runner import OptunaNasRunner, suggest_architecture
from thunderline.nas.protocol import Candidate, NasError, NasResult, NasRunner, NasTarget, split_arrays
from thunderline.nas.register import RegisteredCandidate, fitted_expert, register_candidates
from thunderline.nas.space import ArchitectureError, FitResult, fit_architecture, validate_architecture
from thunderline.nas.tracking import NAS_EXPERIMENT, NasTracker

__all__ = ["ArchitectureError", "Candidate", "ExternalNasError", "ExternalNasRunner", "FitResult", "NAS_EXPERIMENT",
           "NasError", "NasResult", "NasRunner", "NasTarget", "NasTracker", "OptunaNasRunner", "PROTOCOL",
           "RegisteredCandidate", "fit_architecture", "fitted_expert", "register_candidates", "split_arrays",
           "suggest_architecture", "validate_architecture"]
