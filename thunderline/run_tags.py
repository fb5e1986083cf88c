"""Tags every Dagster run of Thunderline carries: who (tenant), why (source), with what (router, code).

Why: the Runs page otherwise says "Manually launched" for everything. With these
tags a run can be filtered by tenant, told apart by what launched it (``cli:ingest``,
``cli:learn``, ``sensor:tick_landing``, ``schedule:daily_labels``...), and tied to
the router version that was active and the code that ran. Plain strings, no
Dagster import: the CLI, sensors and schedules all build them here.
"""

from __future__ import annotations

import functools
import subprocess
from importlib import metadata
from pathlib import Path

TENANT_TAG = "thunderline/tenant"
SOURCE_TAG = "thunderline/source"
ROUTER_VERSION_TAG = "thunderline/router_version"
CODE_VERSION_TAG = "thunderline/code_version"
ALL_TAGS = (TENANT_TAG, SOURCE_TAG, ROUTER_VERSION_TAG, CODE_VERSION_TAG)

_REPO = Path(__file__).resolve().parents[1]


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """``<package version>+g<commit>`` (``.dirty`` with uncommitted changes) in a git checkout, else the version."""
    try:
        version = metadata.version("thunderline")
    except metadata.PackageNotFoundError:  # pragma: no cover - the package is installed in every entry point
        version = "0"
    if not (_REPO / ".git").exists():
        return version
    try:
        sha = subprocess.run(["git", "-C", str(_REPO), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(_REPO), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return version
    return f"{version}+g{sha}{'.dirty' if dirty else ''}"


def run_tags(tenant_id: str, source: str, router_version: str | None = None) -> dict[str, str]:
    """The four tags; ``router_version`` ``none`` when no router is active yet."""
    return {TENANT_TAG: tenant_id, SOURCE_TAG: source, ROUTER_VERSION_TAG: router_version or "none",
            CODE_VERSION_TAG: code_version()}


def active_router_version(session) -> str | None:
    """The active router version of the session's tenant (None before the first bootstrap)."""
    from thunderline.decisions.router_state import active_router

    state = active_router(session)
    return state.version if state is not None else None


def tags_for_settings(settings, source: str) -> dict[str, str]:
    """The tags for a run launched under ``settings`` (schedules, sensors): router version read best effort."""
    from sqlalchemy.engine import make_url

    from thunderline.stores import open_stores

    router = None
    url = make_url(settings.warehouse_url)
    if url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).exists()):
        return run_tags(settings.tenant_id, source, None)  # no warehouse yet: nothing routed, and none created
    try:
        with open_stores(settings) as stores, stores.session() as s:
            router = active_router_version(s)
    except Exception:  # noqa: BLE001 - a tag is informative; the run itself reports a broken warehouse
        router = None
    return run_tags(settings.tenant_id, source, router)


def launch_tags(source: str) -> dict[str, str]:
    """:func:`tags_for_settings` with the settings of this process's environment (what the code location uses)."""
    from thunderline.config import load_settings

    return tags_for_settings(load_settings(create_dirs=False), source)


def tags_for_warehouse(warehouse, tenant_id: str, source: str) -> dict[str, str]:
    """The tags for a run of ``tenant_id`` whose router version is read from ``warehouse`` (a sensor's resource)."""
    router = None
    try:
        with warehouse.session(tenant_id) as s:
            router = active_router_version(s)
    except Exception:  # noqa: BLE001 - a tag is informative; the run itself reports a broken warehouse
        router = None
    return run_tags(tenant_id, source, router)
