"""Dagster resources: thin ConfigurableResource wrappers around thunderline's adapters.

Why wrappers: Dagster validates the configuration at start-up (pydantic) and
shows it in the UI; the objects they hand out are plain thunderline classes
usable in a notebook or the live loop.
"""

from resources.environment import build_resources
from resources.lake import LakeResource
from resources.mlflow import MlflowResource
from resources.ticker_map import TickerMapResource
from resources.warehouse import WarehouseResource

__all__ = ["WarehouseResource", "LakeResource", "MlflowResource", "TickerMapResource", "build_resources"]
