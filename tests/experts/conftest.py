"""Shared expert fixtures: a planted-signal dataset split by time, the default pool trained on it once,
and real MLflow stores (SQLite here; PostgreSQL in test_registry_postgres.py)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

SEED = 1
N_SYMBOLS, N_WINDOWS = 6, 700
HORIZONS = (1, 4, 10)


@dataclass(frozen=True)
class Dataset:
    frame: pd.DataFrame
    labels: pd.DataFrame
    train: np.ndarray
    test: np.ndarray


@pytest.fixture(scope="session")
def planted() -> Dataset:
    """Planted-signal windows; train = first 70 % of each symbol's windows minus a purge of the
    longest horizon (its labels would read returns inside the test span), test = the last 30 %."""
    from thunderline.experts.synthetic import planted_feature_windows
    from thunderline.labels import balanced_forward_labels

    df = planted_feature_windows(N_SYMBOLS, N_WINDOWS, seed=SEED)
    pos = df.groupby("symbol").cumcount().to_numpy()
    cut = int(0.7 * N_WINDOWS)
    train = pos < cut - max(HORIZONS)
    test = pos >= cut
    labels = balanced_forward_labels(df, HORIZONS, fit_mask=train, scale_col="realized_vol", end_col="window_end_us")
    return Dataset(df, labels, train, test)


@pytest.fixture(scope="session")
def pool(planted):
    """The default expert pool, trained once per session on the planted training slice."""
    from thunderline.experts import train_default_experts

    return train_default_experts(planted.frame[planted.train], planted.labels[planted.train], seed=SEED)


@pytest.fixture(scope="session")
def mlflow_sqlite(tmp_path_factory):
    """A real MLflow tracking + registry store on SQLite with local artifacts (created once per session:
    MLflow's migrations take seconds; tests keep apart by expert name)."""
    root = tmp_path_factory.mktemp("mlflow")
    return f"sqlite:///{root / 'mlflow.db'}", str(root / "artifacts")


@pytest.fixture(scope="session")
def registry(mlflow_sqlite):
    from thunderline.experts import ExpertRegistry

    uri, artifacts = mlflow_sqlite
    reg = ExpertRegistry(tracking_uri=uri, artifact_location=artifacts)
    yield reg
    reg.close()


def renamed(fitted, name: str):
    """The same fitted expert under another name (tests share one store; names keep them apart)."""
    import dataclasses

    return dataclasses.replace(fitted, name=name)
