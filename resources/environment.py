"""Pick the resources for the environment when Definitions are built, not at import.

Why: tests build their own resources against their own stores; the CLI and the
Dagster code location build them from :func:`thunderline.config.load_settings`.
"""

from __future__ import annotations

from resources.lake import LakeResource
from resources.landing import LandingResource
from resources.mlflow import MlflowResource
from resources.ticker_map import TickerMapResource
from resources.warehouse import WarehouseResource
from thunderline.config import Settings, load_settings


def build_resources(settings: Settings | None = None) -> dict[str, object]:
    settings = settings or load_settings()
    return {
        "warehouse": WarehouseResource(url=settings.warehouse_url, tenant_id=settings.tenant_id,
                                       gate_sparse_above=settings.gate_sparse_above, gate_top_n=settings.gate_top_n),
        "lake": LakeResource(root=str(settings.lake_dir)),
        "mlflow": MlflowResource(tracking_uri=settings.mlflow_tracking_uri,
                                 artifact_location=settings.mlflow_artifacts),
        "ticker_map": TickerMapResource(path=str(settings.ticker_map)),
        "landing": LandingResource(root=str(settings.landing_dir), landed=str(settings.landed_dir)),
    }
