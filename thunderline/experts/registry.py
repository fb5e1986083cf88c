"""Experts in the MLflow model registry: register, alias, load by alias, hot swap, retire.

Why a registry object instead of ``mlflow.*`` module calls: the fluent MLflow
API reads a process-global tracking URI, and Thunderline runs several stores
side by side (tests on SQLite and PostgreSQL, tenants, a NAS loop). Everything
here goes through one ``MlflowClient`` and explicit URIs; nothing sets
``mlflow.set_tracking_uri``.

Contract:

* an expert ``<name>`` is the registered model ``thunderline.expert.<name>``;
  its versions carry tags ``thunderline.family``, ``.horizon``, ``.features``
  (JSON list), ``.feature_schema_version``, ``.latency_budget_ms`` and
  ``.status`` (``active`` | ``retired``); aliases are ``champion``,
  ``challenger`` and ``shadow``;
* :meth:`ExpertRegistry.load` resolves an alias to a version *once* and then
  loads exactly that version (``models:/thunderline.expert.<name>/<version>``),
  so an alias moving mid-load can never produce a model that does not match the
  version recorded in the decision trace; loaded models are cached per
  (name, version);
* when :meth:`~ExpertRegistry.load` or :meth:`~ExpertRegistry.refresh` finds
  that an alias now points elsewhere, the new version is loaded first and only
  then swapped in (the old one keeps serving until the new one is ready); the
  old version is evicted once no alias binds it;
* :meth:`~ExpertRegistry.retire` drops every alias of a version and tags it
  retired; a retired version cannot get an alias again;
* with a warehouse, every load / swap / retire / failed load is upserted into
  the tenant's ``experts`` table (one row per (tenant, model, version);
  ``status``: ``loaded``, ``unloaded`` — swapped out, ``retired`` or ``failed``).
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import threading
import time
import uuid
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from thunderline.contracts import DEFAULT_TENANT
from thunderline.experts import _mlflow_env  # noqa: F401  (env before mlflow)
from thunderline.experts._mlflow_env import quiet_mlflow_internals

# isort: split
import mlflow.pyfunc  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import LoggedModelOutput, Metric, Param, RunTag  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402

from thunderline.experts.catalog import (
    DEFAULT_LATENCY_BUDGET_MS,
    EXPERT_MODEL_PREFIX,
    check_expert_name,
    registered_model_name,
)
from thunderline.experts.model import ExpertPyfunc, save_expert_model
from thunderline.experts.predict import check_feature_frame
from thunderline.experts.tracking import TrainingData, ensure_experiment, unique_run_name
from thunderline.hashing import content_id

log = logging.getLogger(__name__)

ALIASES: tuple[str, ...] = ("champion", "challenger", "shadow")
DEFAULT_EXPERIMENT = "thunderline.experts"
TAG = "thunderline."
STATUS_ACTIVE, STATUS_RETIRED = "active", "retired"


class ExpertRegistryError(RuntimeError):
    """A registry operation failed; the message names the model, version or alias."""


class ExpertNotFound(ExpertRegistryError, LookupError):
    """No such expert, version or alias."""


class ExpertLoadError(ExpertRegistryError):
    """A version exists but could not be downloaded or loaded."""


def check_alias(alias: str) -> str:
    if alias not in ALIASES:
        raise ValueError(f"alias {alias!r} is not one of {', '.join(ALIASES)}")
    return alias


@dataclass(frozen=True)
class ExpertVersion:
    """One registered version of an expert."""

    name: str
    registered_model: str
    version: str
    run_id: str | None
    source: str
    aliases: tuple[str, ...]
    tags: Mapping[str, str]

    @property
    def status(self) -> str:
        return self.tags.get(TAG + "status", STATUS_ACTIVE)


@dataclass(frozen=True)
class ExpertInfo:
    """One registered expert: its aliases (alias → version) and latest version."""

    name: str
    registered_model: str
    aliases: Mapping[str, str]
    latest_version: str | None
    tags: Mapping[str, str]


def _own_pyfunc(model: Any):
    """The ExpertPyfunc inside an MLflow PyFuncModel, or None for any other model."""
    try:
        inner = model.unwrap_python_model()
    except Exception:  # noqa: BLE001 - not a python_function model of ours (or not a PyFuncModel at all)
        return None
    return inner if isinstance(inner, ExpertPyfunc) else None


@dataclass(frozen=True, eq=False)
class LoadedExpert:
    """An expert loaded from the registry, bound to the alias it was loaded under."""

    name: str
    version: str
    alias: str
    registered_model: str
    model: Any  # mlflow.pyfunc.PyFuncModel
    features: tuple[str, ...]
    family: str
    horizon: int
    feature_schema_version: str
    latency_budget_ms: float
    run_id: str | None
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_shadow(self) -> bool:
        return self.alias == "shadow"

    @property
    def horizon_ms(self) -> int:
        """The clock horizon the expert was trained for (ms); older models: from ``horizon`` in windows."""
        from thunderline.experts.catalog import clock_horizon_ms

        return clock_horizon_ms(self.horizon, self.meta.get("horizon_ms"))

    def predict(self, df: pd.DataFrame) -> pd.DataFrame:
        """Check the frame (missing / non-numeric feature → error naming the column), then predict.

        Only the expert's own columns are handed to the pyfunc, in its order.
        """
        check_feature_frame(df, self.features, self.name)
        own = _own_pyfunc(self.model)
        if own is not None and tuple(own.features) == self.features:
            # Our own pyfunc reads its columns by name and checks them itself (predict_frame), so
            # MLflow's per-call schema enforcement, which rebuilt the frame column by column and cost
            # as much as a logistic model, is skipped for it; any other pyfunc goes through MLflow.
            out = own.predict(None, df)
        else:
            out = self.model.predict(df.loc[:, list(self.features)])
        out.index = df.index
        return out


@dataclass(frozen=True)
class SwapEvent:
    """An alias that moved: ``old_version`` → ``new_version`` (None when the alias disappeared)."""

    name: str
    alias: str
    old_version: str | None
    new_version: str | None


@dataclass
class _Entry:
    model: Any
    version: ExpertVersion
    meta: dict[str, Any]
    path: Path


def _default_artifact_location(tracking_uri: str) -> str | None:
    """Beside a SQLite tracking DB: ``<dir>/mlartifacts`` (MLflow's own default is ``./mlruns`` of the cwd)."""
    from sqlalchemy.engine import make_url

    if not tracking_uri.startswith("sqlite:"):
        return None
    db = make_url(tracking_uri).database
    if not db or db == ":memory:":
        return None
    return str(Path(db).resolve().parent / "mlartifacts")


class ExpertRegistry:
    """Register, alias, list, load (cached, hot-swapped) and retire experts.

    Give either an ``MlflowClient`` or a ``tracking_uri`` (and optionally a
    separate ``registry_uri``). ``artifact_location`` is where a newly created
    experiment stores model files; it defaults to ``mlartifacts/`` beside a
    SQLite tracking database and is required for other backends (otherwise
    MLflow would write under ``./mlruns`` of whatever directory the process
    runs in). With ``warehouse`` (a :class:`thunderline.store.Warehouse`),
    loads, swaps and retirements are recorded for ``tenant_id``.
    """

    def __init__(
        self,
        client: MlflowClient | None = None,
        *,
        tracking_uri: str | None = None,
        registry_uri: str | None = None,
        artifact_location: str | None = None,
        experiment_name: str = DEFAULT_EXPERIMENT,
        cache_dir: str | Path | None = None,
        warehouse=None,
        tenant_id: str = DEFAULT_TENANT,
    ) -> None:
        if client is None:
            if not tracking_uri:
                raise ValueError("ExpertRegistry: give an MlflowClient or a tracking_uri")
            with quiet_mlflow_internals():
                client = MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri or tracking_uri)
        self.client = client
        self.tracking_uri = client.tracking_uri
        self.registry_uri = registry_uri or getattr(client, "_registry_uri", None) or self.tracking_uri
        self.artifact_location = artifact_location or _default_artifact_location(self.tracking_uri)
        self.experiment_name = experiment_name
        self.warehouse = warehouse
        self.tenant_id = tenant_id
        self._own_cache = cache_dir is None
        self.cache_dir = Path(cache_dir) if cache_dir else Path(tempfile.mkdtemp(prefix="thunderline-experts-"))
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        # a registry nobody closes still removes the download directory it created
        self._cleanup = weakref.finalize(self, shutil.rmtree, str(self.cache_dir), True) if self._own_cache else None
        self._lock = threading.RLock()
        self._cache: dict[tuple[str, str], _Entry] = {}
        self._bindings: dict[tuple[str, str], str] = {}
        self._experiment_id: str | None = None

    # ------------------------------------------------------------------ housekeeping
    def close(self) -> None:
        """Drop cached models and, if the registry created it, the download directory."""
        with self._lock:
            self._cache.clear()
            self._bindings.clear()
        if self._cleanup is not None:
            self._cleanup()

    def __enter__(self) -> "ExpertRegistry":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @staticmethod
    def model_uri(name: str, alias: str) -> str:
        """``models:/thunderline.expert.<name>@<alias>``: the URI MLflow tools understand."""
        return f"models:/{registered_model_name(name)}@{check_alias(alias)}"

    def _experiment(self) -> str:
        if self._experiment_id is None:
            exp = self.client.get_experiment_by_name(self.experiment_name)
            if exp is None:
                if not self.artifact_location:
                    raise ExpertRegistryError(
                        f"experiment {self.experiment_name!r} does not exist on {_redact(self.tracking_uri)} "
                        "and no artifact_location was given: MLflow would write model files under ./mlruns "
                        "of the current directory"
                    )
                self._experiment_id = ensure_experiment(self.client, self.experiment_name, self.artifact_location)
            else:
                self._experiment_id = ensure_experiment(self.client, self.experiment_name, None)
        return self._experiment_id

    # ------------------------------------------------------------------ registration
    def register(
        self,
        fitted,
        *,
        alias: str | None = None,
        metrics: Mapping[str, float] | None = None,
        tags: Mapping[str, str] | None = None,
        training_data: TrainingData | None = None,
    ) -> ExpertVersion:
        """Log ``fitted`` (a :class:`~thunderline.experts.training.FittedExpert`) as a new version.

        ``training_data`` (an ``mlflow.data`` dataset: name, digest, source, columns) is linked to the
        run and its metrics, so the MLflow UI shows which slice or months trained the model.

        The pyfunc (with signature and input example) is logged to a run of the
        experts experiment together with its parameters and ``metrics``
        (e.g. held-out accuracy / IC), then registered; ``alias`` is set if given.
        """
        if alias is not None:
            check_alias(alias)
        name = check_expert_name(fitted.name)
        rm = registered_model_name(name)
        meta = fitted.metadata()
        version_tags = {
            TAG + "family": fitted.family,
            TAG + "horizon": str(int(fitted.horizon)),
            TAG + "features": json.dumps(list(fitted.features)),
            TAG + "feature_schema_version": fitted.feature_schema_version,
            TAG + "latency_budget_ms": repr(float(fitted.latency_budget_ms)),
            TAG + "estimator": fitted.estimator_kind,
            TAG + "status": STATUS_ACTIVE,
            **dict(tags or {}),
        }
        experiment_id = self._experiment()  # fails fast, before any work, when there is nowhere to log
        with tempfile.TemporaryDirectory(prefix="thunderline-register-") as tmp:
            model_dir = save_expert_model(fitted, Path(tmp) / "model")
            run = self.client.create_run(
                experiment_id, tags={TAG + "expert": name, TAG + "family": fitted.family}
            )
            run_id = run.info.run_id
            unique_run_name(self.client, run_id, f"{name}-train")
            try:
                model = self._log_training_run(experiment_id, run_id, name, fitted, model_dir, meta, metrics,
                                               training_data)
                self.client.set_terminated(run_id, "FINISHED")
            except BaseException:
                self.client.set_terminated(run_id, "FAILED")
                raise
        self._ensure_registered_model(rm, fitted)
        mv = self.client.create_model_version(
            # source = the LoggedModel's files, not models:/<id>: MLflow 3.17's SQL registry resolves that URI
            # with a fresh MlflowClient() on the process-global tracking URI, not ours; model_id keeps the link
            rm, source=self.client.get_logged_model(model.model_id).artifact_location, run_id=run_id,
            tags=version_tags, model_id=model.model_id,
            description=fitted.description or None,
        )
        if alias is not None:
            self.client.set_registered_model_alias(rm, alias, mv.version)
        log.info("registered %s version %s%s", rm, mv.version, f" as {alias}" if alias else "")
        return self.version(name, mv.version)

    def _log_training_run(self, experiment_id: str, run_id: str, name: str, fitted, model_dir: Path, meta: dict,
                          metrics: Mapping[str, float] | None, training_data: TrainingData | None):
        """Fills the training run: the LoggedModel and its files, parameters, metrics (linked to the model
        and the training dataset), inputs and outputs. Returns the LoggedModel."""
        now = int(time.time() * 1000)
        params = {"family": fitted.family, "horizon": fitted.horizon, "estimator": fitted.estimator_kind,
                  "seed": fitted.seed, "features": ",".join(fitted.features),
                  "feature_schema_version": fitted.feature_schema_version,
                  **{f"param.{k}": v for k, v in fitted.params.items()}}
        # an MLflow 3 LoggedModel: the Models tab, the run's Models column and the model page (signature,
        # input example, metrics, the training dataset) show it; the registered version points at it
        model = self.client.create_logged_model(
            experiment_id, name=name, source_run_id=run_id, model_type="thunderline-expert",
            params={k: str(v)[:500] for k, v in params.items()},
            tags={TAG + "expert": name, TAG + "family": fitted.family})
        self.client.log_model_artifacts(model.model_id, str(model_dir))
        self.client.finalize_logged_model(model.model_id, "READY")
        all_metrics = {k: v for k, v in meta["train_info"].items() if isinstance(v, (int, float))}
        all_metrics.update(metrics or {})
        data = training_data.dataset_input() if training_data is not None else None
        self.client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), now, 0, model_id=model.model_id,
                            dataset_name=training_data.name if training_data else None,
                            dataset_digest=data.dataset.digest if data else None)
                     for k, v in sorted(all_metrics.items()) if v is not None and float(v) == float(v)],
            params=[Param(k, str(v)) for k, v in sorted(params.items())],
            tags=[RunTag(TAG + "class_counts", json.dumps(meta["train_info"].get("class_counts", {})))],
        )
        self.client.log_inputs(run_id, datasets=[data] if data else None)
        self.client.log_outputs(run_id, models=[LoggedModelOutput(model.model_id, 0)])
        return model

    def _ensure_registered_model(self, rm: str, fitted) -> None:
        try:
            self.client.create_registered_model(
                rm, tags={TAG + "family": fitted.family}, description=f"Thunderline expert ({fitted.family})"
            )
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise

    # ------------------------------------------------------------------ queries
    def _as_version(self, name: str, mv) -> ExpertVersion:
        return ExpertVersion(
            name=name,
            registered_model=mv.name,
            version=str(mv.version),
            run_id=mv.run_id,
            source=mv.source,
            aliases=tuple(sorted(mv.aliases or ())),
            tags=dict(mv.tags or {}),
        )

    def version(self, name: str, version: str | int) -> ExpertVersion:
        rm = registered_model_name(name)
        try:
            return self._as_version(name, self.client.get_model_version(rm, str(version)))
        except MlflowException as exc:
            raise ExpertNotFound(f"{rm}: no version {version} ({exc.error_code})") from None

    def resolve(self, name: str, alias: str) -> ExpertVersion:
        """The version ``alias`` points at now; :class:`ExpertNotFound` naming model and alias if none."""
        rm = registered_model_name(name)
        check_alias(alias)
        try:
            mv = self.client.get_model_version_by_alias(rm, alias)
        except MlflowException as exc:
            raise ExpertNotFound(f"{rm}@{alias}: no such alias ({exc.error_code})") from None
        return self._as_version(name, mv)

    def aliases(self, name: str) -> dict[str, str]:
        """alias → version of one expert."""
        rm = registered_model_name(name)
        try:
            return {a: str(v) for a, v in (self.client.get_registered_model(rm).aliases or {}).items()}
        except MlflowException as exc:
            raise ExpertNotFound(f"{rm}: not registered ({exc.error_code})") from None

    def versions(self, name: str) -> list[ExpertVersion]:
        rm = registered_model_name(name)
        found = self.client.search_model_versions(f"name = '{rm}'")
        return sorted((self._as_version(name, mv) for mv in found), key=lambda v: int(v.version))

    def list_experts(self) -> list[ExpertInfo]:
        """Every registered ``thunderline.expert.*`` model, by name."""
        out: list[ExpertInfo] = []
        token = None
        while True:
            page = self.client.search_registered_models(
                filter_string=f"name LIKE '{EXPERT_MODEL_PREFIX}%'", max_results=200, page_token=token
            )
            for rm in page:
                latest = max((int(v.version) for v in (rm.latest_versions or [])), default=None)
                out.append(ExpertInfo(
                    name=rm.name[len(EXPERT_MODEL_PREFIX):],
                    registered_model=rm.name,
                    aliases={a: str(v) for a, v in (rm.aliases or {}).items()},
                    latest_version=None if latest is None else str(latest),
                    tags=dict(rm.tags or {}),
                ))
            token = page.token
            if not token:
                break
        return sorted(out, key=lambda e: e.name)

    # ------------------------------------------------------------------ aliases
    def set_alias(self, name: str, alias: str, version: str | int) -> None:
        """Point ``alias`` at ``version`` (refused for a retired version). Loaded pools swap on refresh/load."""
        check_alias(alias)
        v = self.version(name, version)
        if v.status == STATUS_RETIRED:
            raise ExpertRegistryError(f"{v.registered_model} version {v.version} is retired; register a new version")
        self.client.set_registered_model_alias(v.registered_model, alias, v.version)
        log.info("alias %s@%s -> version %s", v.registered_model, alias, v.version)

    def retire(self, name: str, *, alias: str | None = None, version: str | int | None = None) -> ExpertVersion:
        """Take a version out of service: drop all its aliases, tag it retired, unload it, record it."""
        if (alias is None) == (version is None):
            raise ValueError("retire: give exactly one of alias= or version=")
        v = self.resolve(name, alias) if alias is not None else self.version(name, version)  # type: ignore[arg-type]
        for a in v.aliases:
            self.client.delete_registered_model_alias(v.registered_model, a)
        self.client.set_model_version_tag(v.registered_model, v.version, TAG + "status", STATUS_RETIRED)
        with self._lock:
            for key in [k for k, ver in self._bindings.items() if k[0] == name and ver == v.version]:
                del self._bindings[key]
            entry = self._cache.pop((name, v.version), None)
            if entry is not None:
                shutil.rmtree(entry.path, ignore_errors=True)
        self._record(name, v, alias=None, status="retired", meta={"retired_aliases": list(v.aliases)})
        log.info("retired %s version %s (aliases dropped: %s)", v.registered_model, v.version, list(v.aliases) or "none")
        return self.version(name, v.version)

    # ------------------------------------------------------------------ loading
    def load(self, name: str, alias: str = "champion") -> LoadedExpert:
        """Resolve ``alias`` now and return that version, loading it if not cached (hot swap if it moved)."""
        v = self.resolve(name, alias)
        return self._bind(name, alias, v)

    def load_version(self, name: str, version: str | int) -> LoadedExpert:
        """One version by number (the version a router version records, or the champion a promotion replaced,
        to judge both on the same windows); bound under the pseudo-alias ``v<version>``, which no registry
        alias can be, so it never moves: :meth:`refresh` leaves it alone and :meth:`unpin` releases it."""
        v = self.version(name, version)
        return self._bind(name, _pin(v.version), v)

    def unpin(self, name: str, version: str | int) -> None:
        """Release a :meth:`load_version` binding; the version is evicted unless an alias still binds it."""
        with self._lock:
            if self._bindings.pop((name, _pin(version)), None) is not None:
                self._evict_unbound(name, str(version))

    def get(self, name: str, alias: str = "champion") -> LoadedExpert:
        """The version currently bound to ``alias`` without asking the registry (hot path; see :meth:`refresh`)."""
        with self._lock:
            ver = self._bindings.get((name, alias))
            if ver is None:
                raise ExpertNotFound(f"{registered_model_name(name)}@{alias} is not loaded; call load() first")
            return self._view(name, alias, self._cache[(name, ver)])

    def loaded(self) -> dict[tuple[str, str], str]:
        """(name, alias) → version of every current binding."""
        with self._lock:
            return dict(self._bindings)

    def cached_versions(self) -> list[tuple[str, str]]:
        with self._lock:
            return sorted(self._cache)

    def refresh(self) -> list[SwapEvent]:
        """Re-resolve every bound alias; hot-swap the ones that moved, unbind the ones that vanished
        (versions loaded by number are not aliases and stay as they are)."""
        events: list[SwapEvent] = []
        for (name, alias), old in sorted(self.loaded().items()):
            if alias not in ALIASES:  # a version pinned by number (load_version) does not move
                continue
            try:
                v = self.resolve(name, alias)
            except ExpertNotFound:
                with self._lock:
                    self._bindings.pop((name, alias), None)
                    self._evict_unbound(name, old)
                events.append(SwapEvent(name, alias, old, None))
                log.warning("alias %s@%s disappeared; unloaded version %s", name, alias, old)
                continue
            if v.version != old:
                self._bind(name, alias, v)
                events.append(SwapEvent(name, alias, old, v.version))
        return events

    def _bind(self, name: str, alias: str, v: ExpertVersion) -> LoadedExpert:
        key = (name, v.version)
        with self._lock:
            entry = self._cache.get(key)
        if entry is None:
            entry = self._load_version(name, v)  # outside the lock: slow, and the old version keeps serving
        with self._lock:
            entry = self._cache.setdefault(key, entry)
            old = self._bindings.get((name, alias))
            self._bindings[(name, alias)] = v.version
            if old is not None and old != v.version:
                log.info("hot swap %s@%s: version %s -> %s", v.registered_model, alias, old, v.version)
                self._evict_unbound(name, old)
            aliases = sorted(a for (n, a), ver in self._bindings.items() if n == name and ver == v.version)
        if old != v.version:
            self._record(name, v, alias=alias, status="loaded",
                         meta={"bound_aliases": aliases, "swapped_from": old, **_summary(entry.meta)})
        return self._view(name, alias, entry)

    def _evict_unbound(self, name: str, version: str) -> None:
        """Drop ``version`` from the cache if no alias binds it any more (caller holds the lock)."""
        if any(n == name and ver == version for (n, _), ver in self._bindings.items()):
            return
        entry = self._cache.pop((name, version), None)
        if entry is not None:
            shutil.rmtree(entry.path, ignore_errors=True)
            self._record(name, entry.version, alias=None, status="unloaded", meta=_summary(entry.meta))

    def _load_version(self, name: str, v: ExpertVersion) -> _Entry:
        if v.status == STATUS_RETIRED:
            raise ExpertLoadError(f"{v.registered_model} version {v.version} is retired")
        dst = self.cache_dir / name / f"{v.version}-{uuid.uuid4().hex[:8]}"
        dst.mkdir(parents=True, exist_ok=True)
        uri = f"models:/{v.registered_model}/{v.version}"
        try:
            with quiet_mlflow_internals():
                local = mlflow.artifacts.download_artifacts(
                    artifact_uri=self._download_uri(v), dst_path=str(dst),
                    tracking_uri=self.tracking_uri, registry_uri=self.registry_uri,
                )
                model = mlflow.pyfunc.load_model(local)
            meta = dict((model.metadata.metadata or {}).get("thunderline") or {})
            if not meta.get("features"):
                raise ExpertLoadError(f"{uri}: not a Thunderline expert (no thunderline metadata in MLmodel)")
        except Exception as exc:
            shutil.rmtree(dst, ignore_errors=True)
            self._record(name, v, alias=None, status="failed", meta={"error": f"{type(exc).__name__}: {exc}"[:500]})
            if isinstance(exc, ExpertLoadError):
                raise
            raise ExpertLoadError(f"{uri}: cannot load ({type(exc).__name__}: {exc})") from exc
        log.info("loaded %s", uri)
        return _Entry(model=model, version=v, meta=meta, path=dst)

    def _download_uri(self, v: ExpertVersion) -> str:
        """Where the version's files are, resolved through *our* client.

        Not ``models:/…``: MLflow 3.17's models artifact repository ignores the
        ``registry_uri`` passed to ``download_artifacts`` and resolves the name
        against the process-global registry (by default ``sqlite:///mlflow.db``
        in the current directory, which it then creates).
        """
        uri = self.client.get_model_version_download_uri(v.registered_model, v.version)
        if uri.startswith("models:/"):  # a version backed by an MLflow 3 LoggedModel
            uri = self.client.get_logged_model(uri[len("models:/"):].strip("/")).artifact_location
        return uri

    def _view(self, name: str, alias: str, entry: _Entry) -> LoadedExpert:
        meta, v = entry.meta, entry.version
        budget = v.tags.get(TAG + "latency_budget_ms") or meta.get("latency_budget_ms") or DEFAULT_LATENCY_BUDGET_MS
        return LoadedExpert(
            name=name,
            version=v.version,
            alias=alias,
            registered_model=v.registered_model,
            model=entry.model,
            features=tuple(meta["features"]),
            family=str(meta.get("family", "")),
            horizon=int(meta.get("horizon", 1)),
            feature_schema_version=str(meta.get("feature_schema_version", "")),
            latency_budget_ms=float(budget),
            run_id=v.run_id,
            meta=meta,
        )

    # ------------------------------------------------------------------ warehouse
    def _record(self, name: str, v: ExpertVersion, *, alias: str | None, status: str, meta: Mapping[str, Any]) -> None:
        if self.warehouse is None:
            return
        from thunderline.store.schema import utcnow

        budget = v.tags.get(TAG + "latency_budget_ms") or DEFAULT_LATENCY_BUDGET_MS
        row = {
            "id": content_id("expert", [self.tenant_id, v.registered_model, v.version]),
            "name": name,
            "registered_model": v.registered_model,
            "version": v.version,
            "alias": alias,
            "status": status,
            "latency_budget_ms": float(budget),
            "meta": {"run_id": v.run_id, "tracking_uri": _redact(self.tracking_uri), **dict(meta)},
            "updated_at": utcnow(),
        }
        try:
            with self.warehouse.session(self.tenant_id) as s:
                s.upsert("experts", [row])
        except Exception:  # the registry keeps serving if the bookkeeping write fails; say so loudly
            log.exception("could not record expert %s version %s (%s) in the warehouse", name, v.version, status)


def _pin(version: str | int) -> str:
    """The pseudo-alias a version loaded by number is bound under."""
    return f"v{version}"


def _summary(meta: Mapping[str, Any]) -> dict[str, Any]:
    return {k: meta[k] for k in ("family", "horizon", "features", "feature_schema_version") if k in meta}


def _redact(uri: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(uri).render_as_string(hide_password=True)
    except Exception:
        return uri.split("@")[-1]
