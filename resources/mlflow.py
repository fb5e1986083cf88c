from __future__ import annotations

import dagster as dg
from pydantic import PrivateAttr

from resources.warehouse import WarehouseResource
from thunderline.stores import registry_for


class MlflowResource(dg.ConfigurableResource):
    """MLflow tracking + registry through ``MlflowClient`` (not dagster-mlflow, see DAGSTER_NOTES).

    Experts are registered models ``thunderline.expert.<name>`` with aliases
    champion / challenger / shadow.
    """

    tracking_uri: str
    registry_uri: str | None = None
    artifact_location: str | None = None  # required by non-SQLite tracking stores for new experiments

    _client = PrivateAttr(default=None)

    def client(self):
        if self._client is None:
            from mlflow import MlflowClient

            self._client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.registry_uri or self.tracking_uri)
        return self._client

    def registry(self, warehouse: WarehouseResource):
        """The expert registry on ``warehouse``'s tenant, opened as every command opens it (use it as a context)."""
        return registry_for(warehouse.get(), warehouse.tenant_id, self.tracking_uri, self.artifact_location,
                            registry_uri=self.registry_uri)
