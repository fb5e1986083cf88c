"""The scale-out deployment profile: the file ``thunderline deploy celery`` writes and every process reads back.

Why a file beside the Dagster instance (``$DAGSTER_HOME/celery.yaml``): the CLI, the daemon's code
location and every Celery worker on every host must agree on the broker, the queue and the shared
directory step outputs go through. One file, read by all of them at start-up, cannot drift the way
per-host environment variables do. The same file is the ``-y`` config of ``dagster-celery worker
start``: its ``execution.config`` block is the Celery executor's config, verbatim; the ``thunderline``
block holds what Dagster does not know about.

Its presence turns the profile on (:func:`thunderline.config.load_settings`); without it the embedded
default (multiprocess executor, SQLite instance) is unchanged.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

PROFILE_FILE = "celery.yaml"
QUEUE = "dagster"  # dagster-celery declares exactly this queue (make_app); other names are not routed

_BROKER_RE = re.compile(r"^(amqp|pyamqp|amqps|redis|rediss)://[^\s/]+(/\S*)?$")
_BACKEND_RE = re.compile(r"^(rpc://|(redis|rediss)://\S+)$")

#: Celery settings every worker and every run's executor share. Late acks + reject on a lost worker: a task is
#: acknowledged when its step has finished, so a worker killed mid-step leaves the message on the broker, which
#: hands it to another worker (the step runs again from its start; every step commits in one transaction).
#: Prefetch 1: a busy worker never holds a second step another idle worker could run.
CELERY_SETTINGS = {
    "task_acks_late": True,
    "task_reject_on_worker_lost": True,
    "worker_prefetch_multiplier": 1,
    "broker_connection_retry_on_startup": True,
}


class ProfileError(ValueError):
    """The profile file is unreadable or a field breaks its rule; the message names the file and the field."""


class CeleryProfile(BaseModel):
    """What the scale-out profile adds to the settings (validated when any process starts)."""

    model_config = ConfigDict(frozen=True)

    path: Path  # the profile file itself (workers get it as ``-y``)
    broker: str  # amqp://user:password@host:5672// (RabbitMQ)
    backend: str = "rpc://"  # results travel back to the run on the broker: no second service
    io_dir: Path  # step outputs (FilesystemIOManager): a directory every host mounts at this same path
    worker_concurrency: int = 1  # steps one worker runs at a time (one process each)

    @field_validator("broker")
    @classmethod
    def _broker(cls, v: str) -> str:
        if not _BROKER_RE.match(v):
            raise ValueError("expected a broker URL such as amqp://guest:guest@127.0.0.1:5672//")
        return v

    @field_validator("backend")
    @classmethod
    def _backend(cls, v: str) -> str:
        if not _BACKEND_RE.match(v):
            raise ValueError("expected rpc:// or a redis:// URL")
        return v

    @field_validator("io_dir")
    @classmethod
    def _io_dir(cls, v: Path) -> Path:
        if not v.is_absolute():
            raise ValueError("must be an absolute path (the same on every host)")
        return v

    @field_validator("worker_concurrency")
    @classmethod
    def _concurrency(cls, v: int) -> int:
        if not 1 <= v <= 64:
            raise ValueError("expected 1..64")
        return v

    def executor_config(self) -> dict:
        """The Celery executor's config: the same block workers read from this file."""
        return {"broker": self.broker, "backend": self.backend, "config_source": dict(CELERY_SETTINGS)}

    def document(self) -> dict:
        """The file's content (see the module docstring)."""
        return {"execution": {"config": self.executor_config()},
                "thunderline": {"io_dir": str(self.io_dir), "worker_concurrency": self.worker_concurrency}}


def write_profile(profile: CeleryProfile) -> Path:
    """Write ``profile`` to ``profile.path`` (mode 0600: the broker URL may hold a password)."""
    header = ("# written by `thunderline deploy celery`: the Celery executor's config (execution.config, also the\n"
              "# -y file of `dagster-celery worker start`) and Thunderline's scale-out settings. Same file on every host.\n")
    profile.path.parent.mkdir(parents=True, exist_ok=True)
    tmp = profile.path.with_name(profile.path.name + ".tmp")
    tmp.write_text(header + yaml.safe_dump(profile.document(), sort_keys=False))
    tmp.chmod(0o600)
    tmp.replace(profile.path)
    return profile.path


def read_profile(path: Path) -> CeleryProfile:
    """The profile at ``path``; :class:`ProfileError` naming the file and field on any problem."""
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ProfileError(f"{path}: cannot read the scale-out profile ({exc})") from None
    if not isinstance(doc, dict):
        raise ProfileError(f"{path}: expected a mapping with execution.config and thunderline")
    execution = ((doc.get("execution") or {}).get("config") or {})
    extra = doc.get("thunderline") or {}
    fields = {"path": path, "broker": execution.get("broker"), "backend": execution.get("backend", "rpc://"),
              "io_dir": extra.get("io_dir"), "worker_concurrency": extra.get("worker_concurrency", 1)}
    try:
        return CeleryProfile(**fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = {"broker": "execution.config.broker", "backend": "execution.config.backend"}.get(
            str(err["loc"][0]), f"thunderline.{err['loc'][0]}")
        raise ProfileError(f"{path}: {where}: {err['msg']}") from None
