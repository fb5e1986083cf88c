from __future__ import annotations

import dagster as dg
from pydantic import PrivateAttr


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

    def set_alias(self, model_name: str, alias: str, version: str | int) -> None:
        self.client().set_registered_model_alias(model_name, alias, str(version))

    def version_by_alias(self, model_name: str, alias: str):
        return self.client().get_model_version_by_alias(model_name, alias)
