"""What every Thunderline sensor shares: JSON cursors, schema set-up once per process, the interval."""

from __future__ import annotations

import json
from contextlib import contextmanager
from typing import Any, Iterator

import dagster as dg

from resources import WarehouseResource
from thunderline.store import Warehouse

DEFAULT_INTERVAL_S = 10

_READY: set[str] = set()


def load_cursor(context: dg.SensorEvaluationContext) -> dict[str, Any]:
    """The sensor's JSON cursor (an unreadable one starts afresh: the landing index still dedupes)."""
    if not context.cursor:
        return {}
    try:
        value = json.loads(context.cursor)
    except json.JSONDecodeError:
        context.log.warning("sensor cursor is not JSON: starting afresh (the landing index still dedupes)")
        return {}
    return value if isinstance(value, dict) else {}


def dump_cursor(value: dict[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@contextmanager
def ready_warehouse(warehouse: WarehouseResource) -> Iterator[Warehouse]:
    """The resource's Warehouse with its schema created (once per process and URL), disposed in ``finally``:
    a sensor tick that raises must not leave its engine's connections behind in the long-lived daemon."""
    wh = warehouse.get()
    try:
        if wh.url not in _READY:
            wh.init_schema()
            _READY.add(wh.url)
        yield wh
    finally:
        wh.dispose()
