"""``thunderline deploy celery`` and ``thunderline worker start``: the scale-out profile on Dagster's own stack.

``deploy celery`` writes two files into the Dagster home: the instance's ``dagster.yaml`` (PostgreSQL
run/event/schedule storage, the queued run coordinator with its run and tag limits, pools for the
warehouse writers and MLflow, run monitoring with a runtime ceiling, run retries) and the profile
``celery.yaml`` (:mod:`thunderline.deploy_profile`), whose presence switches the code location to the
Celery executor. ``worker start`` starts one Celery worker (``dagster-celery worker start``) with that
profile; run it on as many hosts as you like, each with the same code, environment and shared mounts.

Never the Celery *run launcher*: combined with the Celery executor a step reserved by a busy worker
never runs and the run hangs (dagster issues 32915, 29660). Runs start through the default launcher.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import yaml

from thunderline.config import ConfigError, _check_sqlalchemy_url, load_settings
from thunderline.deploy_profile import PROFILE_FILE, CeleryProfile, write_profile

DEFAULT_BROKER = "amqp://guest:guest@127.0.0.1:5672//"
MONITOR_POLL_S = 30


def instance_document(pg_url: str, *, max_concurrent_runs: int, max_runtime_s: int, run_retries: int,
                      warehouse_slots: int, monitor_poll_s: int = MONITOR_POLL_S) -> dict:
    """The Dagster instance configuration of the profile (see the module docstring)."""
    from jobs.keys import MONTHLY_TAG, PARTITION_TAG

    return {
        "storage": {"postgres": {"postgres_url": pg_url}},
        "run_coordinator": {"module": "dagster._core.run_coordinator", "class": "QueuedRunCoordinator"},
        "concurrency": {
            "runs": {"max_concurrent_runs": max_concurrent_runs, "tag_concurrency_limits": [
                # a partition's runs (sensor micro-batches, backfills) never overlap: each replaces the partition
                {"key": PARTITION_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1},
                # a monthly backfill leaves room for sensor-driven runs
                {"key": MONTHLY_TAG, "limit": max(1, max_concurrent_runs - 1)},
            ]},
            # steps wait for a slot of their pool (jobs.keys WAREHOUSE_POOL / MLFLOW_POOL; `deploy` sets the
            # limits); an unnamed pool gets the warehouse's
            "pools": {"granularity": "op", "default_limit": warehouse_slots},
        },
        "run_monitoring": {"enabled": True, "start_timeout_seconds": 180, "cancel_timeout_seconds": 180,
                           "max_runtime_seconds": max_runtime_s, "poll_interval_seconds": monitor_poll_s},
        "run_retries": {"enabled": run_retries > 0, "max_retries": run_retries,
                        "retry_on_asset_or_op_failure": False},  # a code error fails again: retry lost runs only
        "telemetry": {"enabled": False},
    }


def write_instance(home: Path, doc: dict) -> Path:
    path = home / "dagster.yaml"
    header = ("# written by `thunderline deploy celery` (the scale-out profile; README \"Scaling out\").\n"
              "# Steps run on Celery workers (celery.yaml beside this file); runs start through the queue.\n")
    tmp = path.with_name("dagster.yaml.tmp")
    tmp.write_text(header + yaml.safe_dump(doc, sort_keys=False))
    tmp.chmod(0o600)  # the PostgreSQL URL may hold a password
    tmp.replace(path)
    return path


def set_pool_limits(home: Path, limits: dict[str, int]) -> None:
    """Pool slots live in the instance's storage, not in dagster.yaml: set them once the storage is reachable."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        for pool, slots in limits.items():
            instance.event_log_storage.set_concurrency_slots(pool, slots)


def cmd_deploy_celery(args) -> int:
    from jobs.keys import MLFLOW_POOL, WAREHOUSE_POOL

    home = Path(args.home).expanduser().resolve()
    _check_sqlalchemy_url("--pg-url", args.pg_url)
    if not args.pg_url.startswith("postgresql"):
        raise ConfigError(f"--pg-url={args.pg_url!r}: the Dagster instance of the celery profile needs PostgreSQL")
    io_dir = Path(args.io_dir).expanduser().resolve() if args.io_dir else home / "storage"
    try:
        profile = CeleryProfile(path=home / PROFILE_FILE, broker=args.broker, io_dir=io_dir,
                                worker_concurrency=args.worker_concurrency)
    except ValueError as exc:
        raise ConfigError(f"--broker/--io-dir: {exc.errors()[0]['msg']}") from None  # type: ignore[attr-defined]
    home.mkdir(parents=True, exist_ok=True)
    io_dir.mkdir(parents=True, exist_ok=True)
    doc = instance_document(args.pg_url, max_concurrent_runs=args.max_concurrent_runs,
                            max_runtime_s=args.max_runtime_s, run_retries=args.run_retries,
                            warehouse_slots=args.warehouse_slots, monitor_poll_s=args.monitor_poll_s)
    print(f"wrote {write_instance(home, doc)}")
    print(f"wrote {write_profile(profile)}")
    if not args.no_pools:
        set_pool_limits(home, {WAREHOUSE_POOL: args.warehouse_slots, MLFLOW_POOL: args.mlflow_slots})
        print(f"pools: {WAREHOUSE_POOL}={args.warehouse_slots}, {MLFLOW_POOL}={args.mlflow_slots}")
    print(f"profile on for every process with DAGSTER_HOME={home}: start the daemon (`dagster-daemon run -w "
          "workspace.yaml`) and workers (`thunderline worker start -n NAME`) on any host")
    return 0


def worker_argv(profile: CeleryProfile, name: str, concurrency: int | None, extra: list[str]) -> list[str]:
    """``dagster-celery worker start`` for this profile (the executable beside this interpreter)."""
    exe = str(Path(sys.executable).with_name("dagster-celery"))
    # -i: the worker imports the code location once at start; its pool processes fork with it loaded, so the
    # first step does not pay for importing Dagster definitions, numba kernels and MLflow
    return [exe, "worker", "start", "-A", "dagster_celery.app", "-y", str(profile.path), "-n", name,
            "-i", "thunderline_assets.definitions", "--", "-c", str(concurrency or profile.worker_concurrency), "--without-gossip", "--without-mingle",
            *extra]


def cmd_worker_start(args) -> int:
    settings = load_settings()
    if settings.celery is None:
        raise ConfigError(f"DAGSTER_HOME={settings.dagster_home}: no {PROFILE_FILE} there, so the celery profile is "
                          "off (write it with `thunderline deploy celery`)")
    argv = worker_argv(settings.celery, args.name, args.concurrency, list(args.celery_args or []))
    # the celery executable dagster-celery runs sits beside this interpreter; the worker loads the code location
    # (thunderline_assets.definitions) by module name, with this process's settings
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "DAGSTER_HOME": str(settings.dagster_home)}
    os.execve(argv[0], argv, env)
    return 0  # not reached


def register(sub) -> None:
    deploy = sub.add_parser("deploy", help="write a deployment profile").add_subparsers(dest="deploy", required=True)
    p = deploy.add_parser("celery", help="Dagster instance on PostgreSQL + steps on Celery workers (RabbitMQ)")
    p.add_argument("--pg-url", required=True, help="PostgreSQL for Dagster's runs, events and schedules "
                   "(postgresql+psycopg2://user:password@host:5432/dagster)")
    p.add_argument("--broker", default=DEFAULT_BROKER, help=f"Celery broker URL (default {DEFAULT_BROKER})")
    p.add_argument("--home", required=True, help="the Dagster home to write (DAGSTER_HOME of every process)")
    p.add_argument("--io-dir", default=None, help="step outputs: a directory every host mounts at the same path "
                   "(default HOME/storage)")
    p.add_argument("--max-concurrent-runs", type=int, default=8, help="runs in progress at once (default 8)")
    p.add_argument("--max-runtime-s", type=int, default=6 * 3600,
                   help="run monitoring fails a run that runs longer (default 21600)")
    p.add_argument("--run-retries", type=int, default=2, help="retries of a run lost to a crash (default 2)")
    p.add_argument("--warehouse-slots", type=int, default=4, help="steps writing the warehouse at once (default 4)")
    p.add_argument("--mlflow-slots", type=int, default=2, help="steps loading experts from MLflow at once (default 2)")
    p.add_argument("--worker-concurrency", type=int, default=1, help="steps per worker at once (default 1)")
    p.add_argument("--monitor-poll-s", type=int, default=MONITOR_POLL_S, help=argparse.SUPPRESS)  # tests poll faster
    p.add_argument("--no-pools", action="store_true", help="do not connect to PostgreSQL to set the pool limits")
    p.set_defaults(func=cmd_deploy_celery)
    worker = sub.add_parser("worker", help="Celery workers of the scale-out profile").add_subparsers(
        dest="worker", required=True)
    w = worker.add_parser("start", help="start a worker (dagster-celery worker start) in the foreground")
    w.add_argument("-n", "--name", required=True, help="worker name; Celery appends @hostname")
    w.add_argument("-c", "--concurrency", type=int, default=None,
                   help="steps at once (default: the profile's worker_concurrency)")
    w.add_argument("celery_args", nargs="*", help="after --: passed to `celery worker` as is")
    w.set_defaults(func=cmd_worker_start)

