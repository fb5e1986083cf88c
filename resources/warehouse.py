from __future__ import annotations

import dagster as dg
from pydantic import PrivateAttr

from thunderline.store import Warehouse
from thunderline.stores import open_warehouse


class WarehouseResource(dg.ConfigurableResource):
    """The SQLAlchemy warehouse (SQLite file or PostgreSQL). One engine per process."""

    url: str
    tenant_id: str = "default"
    gate_sparse_above: int = 32  # Settings.gate_sparse_above: gate scores top-n sparse above this many experts
    gate_top_n: int = 8

    _warehouse: Warehouse | None = PrivateAttr(default=None)

    def get(self) -> Warehouse:
        if self._warehouse is None:
            self._warehouse = open_warehouse(self.url)
        return self._warehouse

    def gate_storage(self):
        """How decision traces written through this resource store gate scores."""
        from thunderline.decisions.gate_storage import GateStorage

        return GateStorage(sparse_above=self.gate_sparse_above, top_n=self.gate_top_n)

    def session(self):
        """A transaction scoped to this resource's tenant."""
        return self.get().session(self.tenant_id)
