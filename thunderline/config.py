"""All of Thunderline's configuration, read from the environment in one place.

Why one place: a wrong setting must fail at start-up with one message naming the
variable and the rule it breaks, not as a traceback deep inside a run. Every
entry point (CLI, Dagster definitions, tests) builds its settings with
:func:`load_settings` and passes the object on; nothing else reads ``os.environ``
for these names.

| variable                    | default                                   |
|-----------------------------|-------------------------------------------|
| THUNDERLINE_HOME            | ./.thunderline                            |
| THUNDERLINE_WAREHOUSE_URL   | sqlite:///$THUNDERLINE_HOME/warehouse.db  |
| THUNDERLINE_LAKE_DIR        | $THUNDERLINE_HOME/lake                    |
| THUNDERLINE_LANDING_DIR     | $THUNDERLINE_HOME/landing (ticks/, edgar/)|
| THUNDERLINE_TENANT          | default                                   |
| MLFLOW_TRACKING_URI         | sqlite:///$THUNDERLINE_HOME/mlflow.db     |
| DAGSTER_HOME                | $THUNDERLINE_HOME/dagster                 |
| THUNDERLINE_TICKER_MAP      | $THUNDERLINE_HOME/ticker_map.json         |
| THUNDERLINE_SENSOR_INTERVAL_S | 10 (seconds between sensor evaluations) |
| THUNDERLINE_FIRST_MONTH     | first month with data (YYYY-MM)           |
| THUNDERLINE_LAST_MONTH      | last month with data, or the current month when the data is recent (YYYY-MM or `current`) |
| THUNDERLINE_LABELS          | clock (or chained: the next windows)      |
| THUNDERLINE_LABEL_HORIZONS_MS | 250,1000,5000 (clock label horizons)    |
| THUNDERLINE_PROFILE         | celery if $DAGSTER_HOME/celery.yaml exists, else embedded |
| THUNDERLINE_RETENTION       | nothing tiered, nothing deleted; e.g. `*.raw_ticks.hot=90,*.raw_ticks.keep=2555` (thunderline.retention_policy) |
| THUNDERLINE_COLD_URL        | $THUNDERLINE_HOME/cold (directory or s3://, gs://, … URL) |
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Mapping

from pydantic import BaseModel, ConfigDict, field_validator

from thunderline.deploy_profile import PROFILE_FILE, CeleryProfile, ProfileError, read_profile
from thunderline.retention_policy import PolicyError, RetentionPolicy, parse_policy

_TENANT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_MONTH_RE = re.compile(r"^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])$")


class ConfigError(ValueError):
    """A setting is wrong; the message names the variable and why."""


def _check_sqlalchemy_url(name: str, url: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"{name}={url!r} is not a SQLAlchemy URL ({exc})") from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(f"{name}={url!r}: backend {backend!r} is not supported (use sqlite or postgresql)")
    if backend == "postgresql" and parsed.get_driver_name() != "psycopg2":
        raise ConfigError(
            f"{name}={url!r}: write 'postgresql+psycopg2://…' (a bare 'postgresql://' means psycopg 3 "
            "in SQLAlchemy 2.1, which Thunderline does not install)"
        )
    if backend == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise ConfigError(f"{name}={url!r}: an in-memory SQLite warehouse would lose data; give a file path")
    return url


class Settings(BaseModel):
    """Validated settings. Paths are absolute; directories exist after :meth:`ensure_dirs`."""

    model_config = ConfigDict(frozen=True)

    home: Path
    warehouse_url: str
    lake_dir: Path
    landing_dir: Path
    mlflow_tracking_uri: str
    dagster_home: Path
    ticker_map: Path | None = None
    mlflow_artifacts: str | None = None  # where new MLflow experiments keep model files
    sensor_interval_s: int = 10
    tenant_id: str = "default"
    # sources (thunderline/sources): SEC EDGAR poller and the Binance WebSocket adapter
    sec_user_agent: str | None = None  # "Name contact@example.com": SEC fair access; fetch refuses without it
    sec_data_url: str = "https://data.sec.gov"
    sec_archives_url: str = "https://www.sec.gov"
    sec_max_rps: float = 9.0  # one budget for every process on this home; SEC's ceiling is 10
    sec_watch: tuple[int, ...] = ()  # CIKs the edgar_poll_sensor polls
    sec_forms: tuple[str, ...] = ("10-K", "10-Q", "8-K", "20-F")
    sec_since: str | None = None  # filing date on or after (ISO); None = everything listed
    binance_rest_url: str = "https://fapi.binance.com"
    binance_ws_url: str = "wss://fstream.binance.com"
    first_month: str | None = None  # YYYY-MM: monthly partitions start here (None: the first month with data)
    last_month: str | None = None  # YYYY-MM or "current": they end here (None: see data_months.partitions_end)
    # labels the learning loop realises (labels asset, PnL, gate retraining): on a clock from the lake's quotes,
    # or chained to the next non-overlapping windows (thunderline.labels.clock_realise)
    label_definition: str = "clock"
    label_horizons_ms: tuple[int, ...] = (250, 1000, 5000)
    celery: CeleryProfile | None = None  # the scale-out profile (thunderline deploy celery); None: embedded
    # retention (thunderline.retention): hot/keep horizons per tenant × data class, and where tiered lake files go
    retention: RetentionPolicy = RetentionPolicy()
    gate_sparse_above: int = 32  # gate scores stored top-n sparse above this many experts per layer (dense below)
    gate_top_n: int = 8  # ... keeping the selected experts and the n highest scores (thunderline.decisions.gate_storage)
    cold_url: str = ""

    @property
    def profile(self) -> str:
        """``celery`` (steps on Celery workers, PostgreSQL instance, run queue) or ``embedded`` (one process tree)."""
        return "embedded" if self.celery is None else "celery"

    @field_validator("tenant_id")
    @classmethod
    def _tenant(cls, v: str) -> str:
        if not _TENANT_RE.match(v):
            raise ValueError("tenant ids are 1-63 chars of a-z, 0-9, '_' or '-', starting with a letter or digit")
        return v

    @property
    def ticks_landing(self) -> Path:
        return self.landing_dir / "ticks"

    @property
    def edgar_landing(self) -> Path:
        return self.landing_dir / "edgar"

    @property
    def landed_dir(self) -> Path:
        """Content-addressed copies of ingested landing files (``$THUNDERLINE_HOME/landed``)."""
        return self.home / "landed"

    @property
    def is_postgres(self) -> bool:
        return self.warehouse_url.startswith("postgresql")

    def ensure_dirs(self) -> "Settings":
        """Create the home, lake, landing (ticks/, edgar/) and Dagster home; fail naming the variable."""
        for var, path in (
            ("THUNDERLINE_HOME", self.home),
            ("THUNDERLINE_LAKE_DIR", self.lake_dir),
            ("THUNDERLINE_LANDING_DIR", self.ticks_landing),
            ("THUNDERLINE_LANDING_DIR", self.edgar_landing),
            ("DAGSTER_HOME", self.dagster_home),
        ):
            try:
                path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(f"{var}={path}: cannot create directory ({exc.strerror})") from None
            if not os.access(path, os.W_OK):
                raise ConfigError(f"{var}={path}: directory is not writable")
        return self


def load_settings(env: Mapping[str, str] | None = None, *, create_dirs: bool = True) -> Settings:
    """Read and validate settings from ``env`` (default ``os.environ``).

    Raises :class:`ConfigError` with one line naming the variable on any problem.
    """
    env = os.environ if env is None else env

    def path_of(name: str, default: Path) -> Path:
        raw = env.get(name, "").strip()
        if not raw:
            return default
        p = Path(raw).expanduser()
        if "\x00" in raw:
            raise ConfigError(f"{name}: contains a NUL byte")
        return p.resolve()

    home = path_of("THUNDERLINE_HOME", Path("./.thunderline").resolve())
    lake = path_of("THUNDERLINE_LAKE_DIR", home / "lake")
    landing = path_of("THUNDERLINE_LANDING_DIR", home / "landing")
    if create_dirs and env.get("THUNDERLINE_LANDING_DIR", "").strip() and not landing.is_dir():
        # a mistyped path must not become a new, empty landing area that every command then reads as "no data"
        raise ConfigError(f"THUNDERLINE_LANDING_DIR={landing}: no such directory (create it, or unset the variable "
                          f"to use {home / 'landing'})")
    dagster_home = path_of("DAGSTER_HOME", home / "dagster")
    warehouse = env.get("THUNDERLINE_WAREHOUSE_URL", "").strip() or f"sqlite:///{home / 'warehouse.db'}"
    _check_sqlalchemy_url("THUNDERLINE_WAREHOUSE_URL", warehouse)
    mlflow_uri = env.get("MLFLOW_TRACKING_URI", "").strip() or f"sqlite:///{home / 'mlflow.db'}"
    if not re.match(r"^(sqlite|postgresql(\+psycopg2)?|file|https?)://", mlflow_uri):
        raise ConfigError(
            f"MLFLOW_TRACKING_URI={mlflow_uri!r}: expected sqlite:///…, postgresql+psycopg2://…, file:///… or http(s)://…"
        )
    ticker_map = path_of("THUNDERLINE_TICKER_MAP", home / "ticker_map.json")
    artifacts = env.get("MLFLOW_ARTIFACTS_DESTINATION", "").strip() or (home / "mlartifacts").as_uri()
    interval_raw = env.get("THUNDERLINE_SENSOR_INTERVAL_S", "").strip() or "10"
    if not interval_raw.isdigit() or not 1 <= int(interval_raw) <= 86_400:
        raise ConfigError(f"THUNDERLINE_SENSOR_INTERVAL_S={interval_raw!r}: expected whole seconds in 1..86400")
    tenant = env.get("THUNDERLINE_TENANT", "").strip() or "default"
    sources = _source_settings(env)
    first_month = env.get("THUNDERLINE_FIRST_MONTH", "").strip() or None
    if first_month is not None and not _MONTH_RE.match(first_month):
        raise ConfigError(f"THUNDERLINE_FIRST_MONTH={first_month!r}: expected a month as YYYY-MM (e.g. 2025-03)")
    last_month = env.get("THUNDERLINE_LAST_MONTH", "").strip() or None
    if last_month is not None and last_month != "current" and not _MONTH_RE.match(last_month):
        raise ConfigError(f"THUNDERLINE_LAST_MONTH={last_month!r}: expected a month as YYYY-MM (e.g. 2025-04) or "
                          "'current'")
    labels = _label_settings(env)
    celery = _celery_profile(env, dagster_home, warehouse)
    retention = _retention_settings(env, home)
    gates = _gate_settings(env)
    try:
        settings = Settings(
            home=home,
            warehouse_url=warehouse,
            lake_dir=lake,
            landing_dir=landing,
            mlflow_tracking_uri=mlflow_uri,
            dagster_home=dagster_home,
            ticker_map=ticker_map,
            mlflow_artifacts=artifacts,
            sensor_interval_s=int(interval_raw),
            tenant_id=tenant,
            **sources,
            first_month=first_month,
            last_month=last_month,
            **labels,
            celery=celery,
            **retention,
            **gates,
        )
    except ValueError as exc:  # pydantic.ValidationError is a ValueError
        raise ConfigError(f"THUNDERLINE_TENANT={tenant!r}: {exc.errors()[0]['msg']}") from None  # type: ignore[attr-defined]
    return settings.ensure_dirs() if create_dirs else settings


def _gate_settings(env: Mapping[str, str]) -> dict:
    """How decisions store gate scores; one setting for the batch and the live path alike."""
    out = {}
    for name, key, default in (("THUNDERLINE_GATE_SPARSE_ABOVE", "gate_sparse_above", 32),
                               ("THUNDERLINE_GATE_TOP_N", "gate_top_n", 8)):
        raw = env.get(name, "").strip() or str(default)
        if not raw.isdigit() or not 0 <= int(raw) <= 4096:
            raise ConfigError(f"{name}={raw!r}: expected a whole number of experts in 0..4096")
        out[key] = int(raw)
    return out


def _retention_settings(env: Mapping[str, str], home: Path) -> dict:
    raw = env.get("THUNDERLINE_RETENTION", "").strip()
    try:
        policy = parse_policy(raw)
    except PolicyError as exc:
        raise ConfigError(f"THUNDERLINE_RETENTION: {exc}") from None
    cold = env.get("THUNDERLINE_COLD_URL", "").strip() or str(home / "cold")
    if "://" not in cold:
        cold = str(Path(cold).expanduser().resolve())
    elif not re.match(r"^[a-z][a-z0-9+.-]*://\S+$", cold):
        raise ConfigError(f"THUNDERLINE_COLD_URL={cold!r}: expected a directory or a URL such as s3://bucket/prefix")
    return {"retention": policy, "cold_url": cold}


def _label_settings(env: Mapping[str, str]) -> dict:
    definition = env.get("THUNDERLINE_LABELS", "").strip() or "clock"
    if definition not in ("clock", "chained"):
        raise ConfigError(f"THUNDERLINE_LABELS={definition!r}: expected 'clock' or 'chained'")
    raw = env.get("THUNDERLINE_LABEL_HORIZONS_MS", "").strip() or "250,1000,5000"
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if not parts or not all(p.isdigit() and 0 < int(p) <= 3_600_000 and (int(p) % 250 == 0) for p in parts):
        raise ConfigError(f"THUNDERLINE_LABEL_HORIZONS_MS={raw!r}: expected comma-separated milliseconds, each a "
                          "multiple of 250 in 250..3600000 (e.g. 250,1000,5000)")
    return {"label_definition": definition, "label_horizons_ms": tuple(sorted({int(p) for p in parts}))}


def _celery_profile(env: Mapping[str, str], dagster_home: Path, warehouse: str) -> CeleryProfile | None:
    """The scale-out profile when it is on: THUNDERLINE_PROFILE=celery, or unset with $DAGSTER_HOME/celery.yaml present."""
    wanted = env.get("THUNDERLINE_PROFILE", "").strip()
    if wanted not in ("", "embedded", "celery"):
        raise ConfigError(f"THUNDERLINE_PROFILE={wanted!r}: expected embedded or celery")
    path = dagster_home / PROFILE_FILE
    if wanted == "embedded" or (not wanted and not path.exists()):
        return None
    if not path.exists():
        raise ConfigError(f"THUNDERLINE_PROFILE=celery: {path} does not exist (write it with "
                          "`thunderline deploy celery --home $DAGSTER_HOME ...`)")
    try:
        profile = read_profile(path)
    except ProfileError as exc:
        raise ConfigError(str(exc)) from None
    if not warehouse.startswith("postgresql"):
        raise ConfigError(f"THUNDERLINE_WAREHOUSE_URL={warehouse!r}: the celery profile ({path}) needs a PostgreSQL "
                          "warehouse (workers on other hosts cannot share a SQLite file)")
    return profile


_CONTACT_RE = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")


def _base_url(env: Mapping[str, str], name: str, default: str, schemes: tuple[str, ...]) -> str:
    raw = env.get(name, "").strip() or default
    if not re.match(rf"^({'|'.join(schemes)})://[^/\s]+", raw):
        raise ConfigError(f"{name}={raw!r}: expected {' or '.join(s + '://host[:port]' for s in schemes)}")
    return raw.rstrip("/")


def _source_settings(env: Mapping[str, str]) -> dict:
    """The sources' settings: SEC (User-Agent with a contact, base URLs, request rate) and Binance URLs."""
    ua = env.get("THUNDERLINE_SEC_USER_AGENT", "").strip() or None
    if ua is not None and not _CONTACT_RE.search(ua):
        raise ConfigError(f"THUNDERLINE_SEC_USER_AGENT={ua!r}: SEC fair access needs a contact e-mail, "
                          "e.g. 'Example Research ops@example.com'")
    rps_raw = env.get("THUNDERLINE_SEC_MAX_RPS", "").strip() or "9"
    try:
        rps = float(rps_raw)
    except ValueError:
        rps = -1.0
    if not 0 < rps <= 10:
        raise ConfigError(f"THUNDERLINE_SEC_MAX_RPS={rps_raw!r}: expected requests per second in (0, 10] (SEC fair access)")
    watch_raw = env.get("THUNDERLINE_SEC_WATCH", "").strip()
    watch = tuple(int(c) for c in re.split(r"[,\s]+", watch_raw) if c) if re.fullmatch(r"[\d,\s]*", watch_raw) else None
    if watch is None or any(not 0 < c < 10**10 for c in watch):
        raise ConfigError(f"THUNDERLINE_SEC_WATCH={watch_raw!r}: expected comma-separated CIKs (1-10 digits)")
    forms_raw = env.get("THUNDERLINE_SEC_FORMS", "").strip() or "10-K,10-Q,8-K,20-F"
    forms = tuple(f.strip().upper() for f in forms_raw.split(",") if f.strip())
    since = env.get("THUNDERLINE_SEC_SINCE", "").strip() or None
    if since is not None and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", since):
        raise ConfigError(f"THUNDERLINE_SEC_SINCE={since!r}: expected YYYY-MM-DD")
    return dict(
        sec_watch=watch, sec_forms=forms, sec_since=since,
        sec_user_agent=ua,
        sec_data_url=_base_url(env, "THUNDERLINE_SEC_DATA_URL", "https://data.sec.gov", ("https", "http")),
        sec_archives_url=_base_url(env, "THUNDERLINE_SEC_ARCHIVES_URL", "https://www.sec.gov", ("https", "http")),
        sec_max_rps=rps,
        binance_rest_url=_base_url(env, "THUNDERLINE_BINANCE_REST_URL", "https://fapi.binance.com", ("https", "http")),
        binance_ws_url=_base_url(env, "THUNDERLINE_BINANCE_WS_URL", "wss://fstream.binance.com", ("wss", "ws")),
    )


