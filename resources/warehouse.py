from __future__ import annotations

import dagster as dg
from pydantic import PrivateAttr

from thunderline.store import Warehouse
from thunderline.stores import open_warehouse


class WarehouseResource(dg.ConfigurableResource):
    """The SQLAlchemy warehouse (SQLite file or PostgreSQL). One engine per process."""

    url: str
    tenant_id: str = "default"

    _warehouse: Warehouse | None = PrivateAttr(default=None)

    def get(self) -> Warehouse:
        if self._warehouse is None:
            self._warehouse = open_warehouse(self.url)
        return self._warehouse

    def session(self):
        """A transaction scoped to this resource's tenant."""
        return self.get().session(self.tenant_id)
