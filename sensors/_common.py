"""What every Thunderline sensor shares: JSON cursors, schema set-up once per process, the interval."""

from __future__ import annotations

import json
from typing import Any

import dagster as dg

from resources import WarehouseResource

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


def ready_warehouse(warehouse: WarehouseResource):
    """The resource's Warehouse with its schema created (once per process and URL)."""
    wh = warehouse.get()
    if wh.url not in _READY:
        wh.init_schema()
        _READY.add(wh.url)
    return wh
