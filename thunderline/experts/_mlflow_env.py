"""MLflow process settings Thunderline needs before ``import mlflow``, and its known noisy warnings.

Telemetry: MLflow 3.x starts a usage-telemetry client at import unless
``MLFLOW_DISABLE_TELEMETRY=true`` or ``DO_NOT_TRACK=true`` (it checks for the
string "true"; ``DO_NOT_TRACK=1`` and ``MLFLOW_ENABLE_TELEMETRY=false`` are
*not* read by MLflow 3.17). We set the real switches with ``setdefault`` — an
operator who explicitly opts in keeps their choice — and re-evaluate the client
in case MLflow was imported before us. Artifact progress bars (tqdm on stderr
for every download) are switched off the same way.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from typing import Iterator

_DEFAULTS = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_ENABLE_TELEMETRY": "false",  # what the project's docs and CI set; harmless, kept consistent
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    # an unreachable tracking server fails in well under a minute instead of 7 retries x 120 s
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
}


def apply() -> None:
    """Set the defaults above (without overriding explicit settings); idempotent."""
    for k, v in _DEFAULTS.items():
        os.environ.setdefault(k, v)
    # "Creating initial MLflow database tables..." / "Updating database tables" (INFO) on a new SQLite store:
    # two timestamped lines in the middle of the demo's output that say nothing a user acts on
    store_log = logging.getLogger("mlflow.store.db.utils")
    store_log.setLevel(max(store_log.level, logging.WARNING))
    if "mlflow" in sys.modules:  # imported before us: its telemetry client may already exist
        with contextlib.suppress(Exception):
            from mlflow.telemetry import set_telemetry_client

            set_telemetry_client()


apply()


@contextlib.contextmanager
def quiet_mlflow_internals() -> Iterator[None]:
    """Silence exactly the warnings MLflow 3.17 raises from its own code paths under our pinned stack.

    * SQLAlchemy 2.1 deprecates the ``noload`` loader strategy MLflow's tracking
      store configures when it first builds its ORM mappers;
    * pandas 3 deprecates comparing an Index with ``range`` in MLflow's
      input-example handling (``mlflow/models/utils.py``).

    Neither is actionable here; anything else still shows.
    """
    pyfunc_log = logging.getLogger("mlflow.pyfunc")
    level = pyfunc_log.level
    # "Validating input example against model signature" (INFO) once per saved model: the validation still runs
    # for every model (each has its own example); only the line is not printed
    pyfunc_log.setLevel(max(level, logging.WARNING))
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message=r"The ``noload`` loader strategy is deprecated", module=r"mlflow\..*"
            )
            warnings.filterwarnings("ignore", message=r"Operation with range is deprecated",
                                    module=r"mlflow\.models\..*")
            yield
    finally:
        pyfunc_log.setLevel(level)
