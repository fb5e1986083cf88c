"""The MLflow pyfunc form of an expert, and how it is written to disk.

Why models-from-code plus a skops artifact, not a cloudpickled Python object:
MLflow 3 warns (rightly) that unpickling a logged ``PythonModel`` object runs
arbitrary code. Here the model directory holds a two-line entry script that
builds :class:`ExpertPyfunc` from this module, the fitted estimator as a
``skops`` file loaded with an explicit allow-list (scikit-learn / numpy /
scipy types only), and the expert's metadata as the pyfunc ``model_config``
(also copied into the MLmodel ``metadata`` so a person can read it without
loading anything). Loading therefore needs this package importable, as any
Thunderline process has it.

The signature lists the expert's features as required ``double`` columns, in
order, and the output columns of :mod:`thunderline.experts.predict`.
"""

from __future__ import annotations

import json
import tempfile
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import pandas as pd

from thunderline.experts import _mlflow_env  # noqa: F401  (env before mlflow)
from thunderline.experts._mlflow_env import quiet_mlflow_internals

# isort: split
import mlflow.pyfunc  # noqa: E402
from mlflow.models import ModelSignature  # noqa: E402
from mlflow.types import ColSpec, Schema  # noqa: E402

from thunderline.experts.predict import OUTPUT_COLUMNS, predict_frame

ENTRY_SCRIPT = Path(__file__).with_name("_pyfunc_entry.py")
ESTIMATOR_ARTIFACT = "estimator"
#: Module prefixes whose types a stored estimator may contain.
TRUSTED_TYPE_PREFIXES = ("sklearn.", "numpy.", "scipy.")
_PINNED = ("mlflow", "scikit-learn", "skops", "pandas", "numpy", "scipy", "threadpoolctl")


class UntrustedModelError(RuntimeError):
    """A stored estimator contains types outside the allow-list; it is not loaded."""


def save_estimator(estimator: Any, path: Path) -> Path:
    import skops.io as sio

    sio.dump(estimator, path)
    return path


def load_estimator(path: str | Path) -> Any:
    """Load a skops estimator, refusing any type outside :data:`TRUSTED_TYPE_PREFIXES`."""
    import skops.io as sio

    untrusted = sio.get_untrusted_types(file=path)
    bad = [t for t in untrusted if not t.startswith(TRUSTED_TYPE_PREFIXES)]
    if bad:
        raise UntrustedModelError(f"{path}: refusing to load types outside scikit-learn/numpy/scipy: {bad}")
    return sio.load(path, trusted=untrusted)


class ExpertPyfunc(mlflow.pyfunc.PythonModel):
    """Pyfunc wrapper: a fitted scikit-learn classifier, its ordered features and metadata.

    Built empty by the entry script and filled by :meth:`load_context`, or
    directly from a :class:`~thunderline.experts.training.FittedExpert` in memory.
    """

    def __init__(self, fitted=None) -> None:
        self.estimator = None
        self.features: tuple[str, ...] = ()
        self.meta: dict[str, Any] = {}
        if fitted is not None:
            self.estimator = fitted.estimator
            self.features = tuple(fitted.features)
            self.meta = fitted.metadata()

    @property
    def name(self) -> str:
        return str(self.meta.get("name", "expert"))

    def load_context(self, context) -> None:
        self.meta = dict(context.model_config or {})
        self.features = tuple(self.meta["features"])
        self.estimator = load_estimator(context.artifacts[ESTIMATOR_ARTIFACT])

    def predict(self, context, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        return predict_frame(self.estimator, self.features, model_input, expert=self.name)


def expert_signature(features: tuple[str, ...] | list[str]) -> ModelSignature:
    inputs = Schema([ColSpec("double", f) for f in features])
    outputs = Schema([ColSpec("string", "action")] + [ColSpec("double", c) for c in OUTPUT_COLUMNS[1:]])
    return ModelSignature(inputs=inputs, outputs=outputs)


def _pip_requirements() -> list[str]:
    reqs = []
    for dist in _PINNED:
        try:
            reqs.append(f"{dist}=={importlib_metadata.version(dist)}")
        except importlib_metadata.PackageNotFoundError:  # pragma: no cover - all are installed with mlflow
            reqs.append(dist)
    return reqs


def save_expert_model(fitted, path: str | Path, *, input_example: pd.DataFrame | None = None) -> Path:
    """Write ``fitted`` as an MLflow pyfunc model directory at ``path`` (which must not exist)."""
    path = Path(path)
    example = input_example if input_example is not None else fitted.example
    if example is not None:
        example = example.loc[:, list(fitted.features)].astype("float64")
    meta = fitted.metadata()
    with tempfile.TemporaryDirectory(prefix="thunderline-expert-") as tmp:
        est_path = save_estimator(fitted.estimator, Path(tmp) / f"{fitted.name}.skops")
        with quiet_mlflow_internals():
            mlflow.pyfunc.save_model(
                path=str(path),
                python_model=str(ENTRY_SCRIPT),
                artifacts={ESTIMATOR_ARTIFACT: str(est_path)},
                model_config=meta,
                signature=expert_signature(fitted.features),
                input_example=example,
                pip_requirements=_pip_requirements(),
                metadata={"thunderline": json.loads(json.dumps(meta))},
            )
    return path
