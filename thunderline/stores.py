"""The stores a process works with — warehouse, lake, expert registry — opened one way and closed in ``finally``.

Every command and every Dagster resource goes through :func:`open_stores` (or
:func:`registry_for`), so all of them get the same arguments (the artifact location
included) and none leaks an engine when a step fails. The registry is opened on first
use: MLflow is slow to import and most commands never touch it.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator

from thunderline.config import Settings
from thunderline.store.lake import Lake
from thunderline.store.warehouse import Warehouse

if TYPE_CHECKING:
    from thunderline.experts.registry import ExpertRegistry


def open_warehouse(url: str) -> Warehouse:
    """The warehouse at ``url`` (one engine; the caller disposes it)."""
    return Warehouse(url)


def registry_for(warehouse: Warehouse, tenant_id: str, tracking_uri: str, artifact_location: str | None = None, *,
                 registry_uri: str | None = None) -> "ExpertRegistry":
    """The MLflow expert registry bound to ``warehouse`` and ``tenant_id`` (close it, or use it as a context)."""
    from thunderline.experts.registry import ExpertRegistry

    return ExpertRegistry(tracking_uri=tracking_uri, registry_uri=registry_uri, artifact_location=artifact_location,
                          warehouse=warehouse, tenant_id=tenant_id)


@dataclass
class Stores:
    settings: Settings
    warehouse: Warehouse
    lake: Lake
    _registry: "ExpertRegistry | None" = field(default=None, repr=False)

    @property
    def tenant_id(self) -> str:
        return self.settings.tenant_id

    @property
    def registry(self) -> "ExpertRegistry":
        if self._registry is None:
            s = self.settings
            from thunderline.experts.tracking import check_reachable

            check_reachable(s.mlflow_tracking_uri)  # an unreachable server is one error line, not a silent hang
            self._registry = registry_for(self.warehouse, s.tenant_id, s.mlflow_tracking_uri, s.mlflow_artifacts)
        return self._registry

    def session(self):
        """A transaction scoped to the settings' tenant."""
        return self.warehouse.session(self.settings.tenant_id)

    def close(self) -> None:
        try:
            if self._registry is not None:
                self._registry.close()
        finally:
            self.warehouse.dispose()


@contextmanager
def open_stores(settings: Settings, *, init_schema: bool = False, check: bool = False) -> Iterator[Stores]:
    """Open the stores of ``settings``; ``init_schema`` creates tables (idempotent), ``check`` pings the warehouse."""
    stores = Stores(settings, open_warehouse(settings.warehouse_url), Lake(settings.lake_dir))
    try:
        if check:
            stores.warehouse.check()
        if init_schema:
            stores.warehouse.init_schema()
        yield stores
    finally:
        stores.close()
