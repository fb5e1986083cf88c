"""The scale-out profile without a broker: what `thunderline deploy celery` writes, what the settings make of it,
and the PostgreSQL month-partition DDL that parallel workers need (the workers themselves: test_celery_workers.py).
"""

from __future__ import annotations

import threading

import dagster as dg
import pytest

from thunderline.config import ConfigError, load_settings
from thunderline.deploy_profile import CELERY_SETTINGS, PROFILE_FILE
from thunderline_assets.definitions import build_definitions
from thunderline_cli.deploy import worker_argv
from thunderline_cli.main import main


def _env(tmp_path, warehouse_url: str, **extra) -> dict[str, str]:
    home = tmp_path / "home"
    return {"THUNDERLINE_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"),
            "THUNDERLINE_WAREHOUSE_URL": warehouse_url, "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}",
            "THUNDERLINE_FIRST_MONTH": "2024-01", **extra}


def _executor_config(job) -> dict:
    return job.executor_def.config_schema.resolve_config({}).value["config"]


def _deploy(env: dict, pg_url: str, *extra: str) -> int:
    return main(["deploy", "celery", "--pg-url", pg_url, "--home", env["DAGSTER_HOME"],
                 "--max-concurrent-runs", "3", "--max-runtime-s", "900", "--warehouse-slots", "3",
                 "--mlflow-slots", "1", *extra])


def test_deploy_writes_an_instance_and_a_profile_every_process_reads(pg_database, tmp_path, monkeypatch, capsys):
    from jobs.keys import MLFLOW_POOL, WAREHOUSE_POOL

    app_url = pg_database[0]
    env = _env(tmp_path, app_url)
    assert _deploy(env, app_url) == 0
    settings = load_settings(env)
    assert settings.profile == "celery" and settings.celery.path.name == PROFILE_FILE
    assert oct(settings.celery.path.stat().st_mode & 0o777) == "0o600"  # the URLs may hold passwords
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert type(instance.run_launcher).__name__ == "DefaultRunLauncher"  # never the Celery run launcher
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 3
        assert instance.run_monitoring_enabled and instance.run_monitoring_max_runtime_seconds == 900
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
        assert instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL).slot_count == 3
        assert instance.event_log_storage.get_concurrency_info(MLFLOW_POOL).slot_count == 1
    defs = build_definitions(settings)
    job = defs.resolve_job_def("market_partition_job")
    assert job.executor_def.name == "celery"
    assert _executor_config(job)["config_source"] == CELERY_SETTINGS  # late acks: a lost worker's step is redelivered
    assert isinstance(defs.resources["io_manager"], dg.FilesystemIOManager)  # outputs via shared storage
    argv = worker_argv(settings.celery, "w1", None, [])
    assert argv[1:3] == ["worker", "start"] and argv[argv.index("-y") + 1] == str(settings.celery.path)
    assert argv[argv.index("-n") + 1] == "w1" and "thunderline_assets.definitions" in argv


def test_embedded_default_is_unchanged(tmp_path):
    settings = load_settings(_env(tmp_path, f"sqlite:///{tmp_path / 'wh.db'}"))
    assert settings.profile == "embedded" and settings.celery is None
    defs = build_definitions(settings)
    job = defs.resolve_job_def("market_partition_job")
    assert job.executor_def.name == "multiprocess"
    assert _executor_config(job)["max_concurrent"] == 2
    assert "io_manager" not in defs.resources


def test_a_broken_profile_fails_at_start_up_naming_file_and_field(tmp_path):
    pg = "postgresql+psycopg2://u@127.0.0.1:5432/db"
    env = _env(tmp_path, pg)
    assert _deploy(env, pg, "--no-pools") == 0
    path = tmp_path / "home" / "dagster" / PROFILE_FILE
    path.write_text(path.read_text().replace("amqp://", "http://"))
    with pytest.raises(ConfigError, match=r"celery.yaml: execution.config.broker: .*broker URL"):
        load_settings(env)
    assert load_settings({**env, "THUNDERLINE_PROFILE": "embedded"}).celery is None  # explicit opt-out
    with pytest.raises(ConfigError, match="needs a PostgreSQL warehouse"):
        _deploy(env, pg, "--no-pools")
        load_settings({**env, "THUNDERLINE_WAREHOUSE_URL": f"sqlite:///{tmp_path / 'wh.db'}"})
    with pytest.raises(ConfigError, match="THUNDERLINE_PROFILE=celery: .* does not exist"):
        load_settings({**_env(tmp_path / "other", pg), "THUNDERLINE_PROFILE": "celery"})
    assert main(["deploy", "celery", "--pg-url", f"sqlite:///{tmp_path / 'x.db'}", "--home", str(tmp_path)]) == 2


def test_parallel_writers_of_a_new_month_do_not_deadlock(pg_database):
    """Two workers writing the same, not yet partitioned month at once (the scale-out case). Creating the month's
    partition inside both writing transactions deadlocks (each holds a lock on the parent the other's DDL needs);
    ``ensure_months`` creates it before, so the write path inside the transactions finds it and takes no DDL lock."""
    from thunderline.store import Warehouse

    app_url = pg_database[0]
    Warehouse(app_url).init_schema()
    start, inside, errors = threading.Barrier(2), threading.Barrier(2), []

    def writer(symbol: str) -> None:
        wh = Warehouse(app_url)
        try:
            start.wait(timeout=60)
            wh.ensure_months(["2031-05"])  # what market_feature_windows / decision_traces do first
            with wh.session("default") as s:
                s.select("feature_windows", s.table("feature_windows").c.key == symbol)  # a lock on the parent
                inside.wait(timeout=60)  # both transactions open, both holding it
                for table in ("feature_windows", "decision_traces"):
                    wh.ensure_partitions(s.conn, table, ["2031-05"])  # what every upsert does
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            wh.dispose()

    threads = [threading.Thread(target=writer, args=(s,)) for s in ("AAA", "BBB")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors
    wh = Warehouse(app_url)
    with wh.engine.connect() as c:
        assert c.exec_driver_sql("SELECT to_regclass('feature_windows_2031_05')").scalar() is not None
    wh.dispose()
