"""Telemetry: events in the warehouse, summaries for Dagster metadata, Prometheus text for scrapers.

No Dagster here: the assets, sensors and the live loop call these and attach the
results where they belong.
"""

from thunderline.telemetry.events import EVENTS, FLOW_EVENTS, SEED_EVENTS, EventSpec, check_name
from thunderline.telemetry.prometheus import CONTENT_TYPE, MetricsRegistry, metric_name
from thunderline.telemetry.record import (
    Event,
    EventBatch,
    Summary,
    emit,
    make_event,
    now_us,
    prune,
    read_events,
    summarize,
)

__all__ = [
    "CONTENT_TYPE",
    "EVENTS",
    "FLOW_EVENTS",
    "SEED_EVENTS",
    "Event",
    "EventBatch",
    "EventSpec",
    "MetricsRegistry",
    "Summary",
    "check_name",
    "emit",
    "make_event",
    "metric_name",
    "now_us",
    "prune",
    "read_events",
    "summarize",
]
