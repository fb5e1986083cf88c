"""Hybrid Expert-Choice + Dynamic Top-P router (ROUTER_SPEC.md): in-memory, no I/O, no Dagster."""

from thunderline.routing.assignment import Assignment
from thunderline.routing.layers import RouterConfig, RouterLayerConfig, init_gates, route_layers
from thunderline.routing.router import route

__all__ = ["Assignment", "RouterConfig", "RouterLayerConfig", "init_gates", "route", "route_layers"]
