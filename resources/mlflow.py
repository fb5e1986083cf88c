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

    ui_url: str | None = None  # the MLflow UI links in asset metadata point here (default: see ui_base)

    _client = PrivateAttr(default=None)

    def ui_base(self) -> str:
        """The MLflow UI: ``ui_url``, else an http(s) tracking server itself, else ``make mlflow-ui``'s address."""
        if self.ui_url:
            return self.ui_url
        if self.tracking_uri.startswith(("http://", "https://")):
            return self.tracking_uri
        return "http://127.0.0.1:5000"

    def client(self):
        if self._client is None:
            from mlflow import MlflowClient

            self._client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.registry_uri or self.tracking_uri)
        return self._client

    def registry(self, warehouse: WarehouseResource):
        """The expert registry on ``warehouse``'s tenant, opened as every command opens it (use it as a context)."""
        return registry_for(warehouse.get(), warehouse.tenant_id, self.tracking_uri, self.artifact_location,
                            registry_uri=self.registry_uri)
