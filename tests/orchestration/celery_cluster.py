"""A real scale-out deployment for tests: PostgreSQL instance, RabbitMQ, the daemon, Celery worker processes.

Everything is started the way an operator would (``thunderline deploy celery``, ``dagster-daemon run``,
``thunderline worker start``, ``thunderline ingest``) in process groups this module owns and stops. The
``dagster`` queue is purged before and after: a killed worker's unacknowledged task would otherwise be
handed to the next test's workers (dagster-celery declares that one queue; other names are not routed).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

REPO = Path(__file__).resolve().parents[2]
BROKER = "amqp://guest:guest@127.0.0.1:5672//"
QUEUE = "dagster"


def broker_open() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5672), timeout=2):
            return True
    except OSError:
        return False


def purge_queue() -> int:
    """Drop every task waiting on the ``dagster`` queue; 0 when the queue does not exist yet."""
    from kombu import Connection

    with Connection(BROKER, connect_timeout=5) as conn:
        try:
            return conn.default_channel.queue_purge(QUEUE) or 0
        except Exception:  # noqa: BLE001 - amqp 404: never declared, nothing to purge
            return 0


def queue_consumers() -> int:
    """Workers consuming the ``dagster`` queue right now (0 when the queue does not exist)."""
    from kombu import Connection

    with Connection(BROKER, connect_timeout=5) as conn:
        try:
            return conn.default_channel.queue_declare(QUEUE, passive=True).consumer_count
        except Exception:  # noqa: BLE001 - amqp 404: never declared
            return 0


def stop_group(proc: subprocess.Popen, sig: int = signal.SIGTERM, wait_s: float = 60) -> None:
    """Stop ``proc``'s process group (started with start_new_session by this module)."""
    if proc.poll() is not None and sig != signal.SIGKILL:
        return
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(wait_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)


@dataclass
class Cluster:
    env: dict[str, str]
    logs: Path
    procs: list[subprocess.Popen] = field(default_factory=list)

    @property
    def dagster_home(self) -> Path:
        return Path(self.env["DAGSTER_HOME"])

    def spawn(self, argv: list[str], log_name: str, *, track: bool = True, **extra_env: str) -> subprocess.Popen:
        """Start ``argv`` in its own process group; ``track``: :meth:`stop_all` stops it (workers, CLI runs)."""
        log = open(self.logs / log_name, "w")
        proc = subprocess.Popen(argv, cwd=REPO, env={**self.env, **extra_env}, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        if track:
            self.procs.append(proc)
        return proc

    def cli(self, *args: str, log_name: str, **extra_env: str) -> subprocess.Popen:
        return self.spawn([sys.executable, "-m", "thunderline_cli.main", *args], log_name, **extra_env)

    def worker(self, name: str, *, wait: bool = True, **extra_env: str) -> subprocess.Popen:
        """``thunderline worker start -n NAME``, returned once Celery says it is ready (``wait``)."""
        proc = self.cli("worker", "start", "-n", name, log_name=f"worker-{name}.log", **extra_env)
        if wait:
            self.wait_ready(name, proc)
        return proc

    def wait_ready(self, name: str, proc: subprocess.Popen) -> None:
        self.wait_for(lambda: " ready." in self.log(f"worker-{name}.log"), f"worker {name} ready", proc=proc,
                      timeout_s=300)

    def log(self, name: str) -> str:
        path = self.logs / name
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_for(self, cond, what: str, *, proc: subprocess.Popen | None = None, timeout_s: float = 600,
                 poll_s: float = 1.0):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = cond()
            if value:
                return value
            if proc is not None and proc.poll() is not None:
                raise AssertionError(f"{what}: process exited with {proc.returncode}:\n{self._tails()}")
            time.sleep(poll_s)
        raise AssertionError(f"{what}: not within {timeout_s:.0f}s\n{self._tails()}")

    def _tails(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}" for p in sorted(self.logs.glob("*.log")))

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(self.dagster_home))

    def stop_all(self) -> None:
        """Stop the workers and CLI processes a test started (the daemon stays for the next test)."""
        for proc in reversed(self.procs):
            stop_group(proc)
        self.procs.clear()


# -- reading where steps ran from the event log ---------------------------------------------------------------

@dataclass
class StepRun:
    run_id: str
    step: str
    worker: str  # Celery worker hostname (name@host) from the "Executing steps … in celery worker" engine event
    pid: int  # the process that executed the step (STEP_START)
    run_pid: int  # the run's own process (it submitted the task)
    start: float
    end: float


def step_runs(instance: dg.DagsterInstance, run_id: str) -> list[StepRun]:
    """Every successful step of ``run_id`` with the worker and process it ran in (the last attempt)."""
    workers, starts, run_pid, out = {}, {}, None, []
    for entry in instance.all_logs(run_id):
        ev = entry.dagster_event
        if ev is None:
            continue
        if ev.event_type_value == "ENGINE_EVENT" and ev.step_key:
            meta = ev.engine_event_data.metadata or {}
            if "Celery worker" in meta:
                workers[ev.step_key] = meta["Celery worker"].value
            elif (entry.user_message or "").startswith("Submitting celery task"):
                run_pid = ev.pid
        elif ev.event_type_value == "STEP_START":
            starts[ev.step_key] = (entry.timestamp, ev.pid)
        elif ev.event_type_value == "STEP_SUCCESS":
            t0, pid = starts[ev.step_key]
            out.append(StepRun(run_id, ev.step_key, workers.get(ev.step_key, ""), pid, run_pid, t0, entry.timestamp))
    return out


def worker_names(instance: dg.DagsterInstance, run_id: str, step: str) -> list[str]:
    """The workers that began executing ``step`` of ``run_id``, in order (a redelivered step appears twice)."""
    names = []
    for entry in instance.all_logs(run_id):
        ev = entry.dagster_event
        if ev is not None and ev.event_type_value == "ENGINE_EVENT" and ev.step_key == step:
            meta = ev.engine_event_data.metadata or {}
            if "Celery worker" in meta:
                names.append(meta["Celery worker"].value)
    return names


def partition_hashes(instance: dg.DagsterInstance) -> dict[str, tuple]:
    """``YYYY-MM|SYM`` → (windows_hash, traces_hash) of the latest materializations."""
    out: dict[str, list] = {}
    for asset, meta_key, i in (("market_feature_windows", "windows_hash", 0), ("decision_traces", "traces_hash", 1)):
        for rec in instance.fetch_materializations(dg.AssetKey(asset), limit=1000, ascending=True).records:
            mat = rec.asset_materialization
            month, _, symbol = mat.partition.partition("|")
            slot = out.setdefault(f"{month[:7]}|{symbol}", [None, None])
            slot[i] = mat.metadata[meta_key].value if meta_key in mat.metadata else None
    return {k: tuple(v) for k, v in out.items()}
