import re

import pytest

from thunderline.config import ConfigError, load_settings


def test_defaults_live_under_home(tmp_path):
    s = load_settings({"THUNDERLINE_HOME": str(tmp_path / "h")})
    assert s.warehouse_url == f"sqlite:///{tmp_path / 'h' / 'warehouse.db'}"
    assert s.lake_dir == tmp_path / "h" / "lake"
    assert (s.landing_dir / "ticks").is_dir() and (s.landing_dir / "edgar").is_dir()
    assert s.mlflow_tracking_uri.endswith("mlflow.db")
    assert s.dagster_home == tmp_path / "h" / "dagster"
    assert s.tenant_id == "default"


@pytest.mark.parametrize(
    "env,needle",
    [
        ({"THUNDERLINE_WAREHOUSE_URL": "not a url"}, "THUNDERLINE_WAREHOUSE_URL"),
        ({"THUNDERLINE_WAREHOUSE_URL": "postgresql://u@h/d"}, "postgresql+psycopg2"),
        ({"THUNDERLINE_WAREHOUSE_URL": "mysql+pymysql://u@h/d"}, "not supported"),
        ({"THUNDERLINE_WAREHOUSE_URL": "sqlite://"}, "in-memory"),
        ({"MLFLOW_TRACKING_URI": "ftp://x"}, "MLFLOW_TRACKING_URI"),
        ({"THUNDERLINE_TENANT": "Tenant A"}, "THUNDERLINE_TENANT"),
        ({"THUNDERLINE_LANDING_DIR": "/proc/definitely/not"}, "THUNDERLINE_LANDING_DIR"),
    ],
)
def test_bad_settings_name_the_variable(tmp_path, env, needle):
    with pytest.raises(ConfigError, match=re.escape(needle)):
        load_settings({"THUNDERLINE_HOME": str(tmp_path), **env})


def test_unreachable_database_is_one_clear_line(tmp_path, capsys, monkeypatch):
    from thunderline_cli.main import main

    monkeypatch.setenv("THUNDERLINE_HOME", str(tmp_path))
    monkeypatch.setenv("THUNDERLINE_WAREHOUSE_URL", "postgresql+psycopg2://nobody@127.0.0.1:1/none")
    assert main(["db", "init"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("thunderline: error: THUNDERLINE_WAREHOUSE_URL=")
    assert "cannot connect" in err and "Traceback" not in err


def test_mlflow_artifact_root_defaults_under_home_and_can_be_set(tmp_path):
    s = load_settings({"THUNDERLINE_HOME": str(tmp_path)})
    assert s.mlflow_artifacts == (tmp_path / "mlartifacts").as_uri()
    s = load_settings({"THUNDERLINE_HOME": str(tmp_path), "MLFLOW_ARTIFACTS_DESTINATION": "file:///srv/a"})
    assert s.mlflow_artifacts == "file:///srv/a"
