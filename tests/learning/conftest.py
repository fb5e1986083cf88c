"""Learning-loop fixtures shared across modules: one SQLite MLflow store per session (its migrations take
seconds; tests keep apart by expert name and experiment), and one planted-signal training slice."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def mlflow_store(tmp_path_factory):
    """(tracking URI, artifact root) of a real MLflow tracking + registry store on SQLite."""
    root = tmp_path_factory.mktemp("learning_mlflow")
    return f"sqlite:///{root / 'mlflow.db'}", str(root / "artifacts")


@pytest.fixture(scope="session")
def planted_slice(tmp_path_factory):
    """A training slice (horizons 1 and 4) of 3 symbols × 400 planted-signal windows, built once."""
    from thunderline.export import SliceSpec, build_slice, open_slice
    from thunderline.store import Warehouse

    from .learning_data import TENANT, planted_windows, store_planted

    root = tmp_path_factory.mktemp("planted_slice")
    wh = Warehouse(f"sqlite:///{root / 'w.db'}")
    wh.init_schema()
    months = store_planted(wh, planted_windows(n_symbols=3, n_windows=400, seed=5))
    with wh.session(TENANT) as s:
        res = build_slice(s, SliceSpec("planted", tuple(months), horizons=(1, 4, 10)), root)
    wh.dispose()
    return open_slice(res.path)
