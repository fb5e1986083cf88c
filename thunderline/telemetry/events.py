"""The telemetry events Thunderline emits: names, units and what each one measures.

Why a catalogue: dashboards, the Prometheus endpoint and the Dagster metadata all
key on these names, so they are written down once. Names are dotted lower-case
(``flow.market.lag_ms``); the unit is the suffix where there is one. Emitting a
name that is not here is allowed (new components add theirs), but it must still be
a well-formed dotted name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")


@dataclass(frozen=True)
class EventSpec:
    name: str
    unit: str
    help: str


SEED_EVENTS: tuple[EventSpec, ...] = (
    EventSpec("flow.market.lag_ms", "ms", "tick arrival to persisted window/decision (wall clock)"),
    EventSpec("flow.edgar.throughput", "docs/s", "EDGAR documents parsed per second by a run"),
    EventSpec("router.assignment.experts_per_token", "experts", "mean experts kept per routed window"),
    EventSpec("expert.latency_ms", "ms", "one expert's latency per window of a batch"),
    EventSpec("drift.feature.psi", "psi", "population stability index of one feature against its baseline"),
    EventSpec("risk.breach", "count", "decisions turned into abstain or halted by a risk hook"),
    EventSpec("router.entropy", "nats", "mean gate-score entropy per window"),
    EventSpec("router.capacity_utilization", "ratio", "kept (token, expert) pairs / expert slots"),
    EventSpec("feature.fill_latency_ms", "ms", "EDGAR window opened to filled"),
    EventSpec("label.realization_latency_ms", "ms", "window end to its realised label"),
    EventSpec("router.undercovered_token", "count", "windows no expert chose"),
)

#: Events of the flow controller itself.
FLOW_EVENTS: tuple[EventSpec, ...] = (
    EventSpec("flow.backpressure.level", "step", "backpressure ladder level after a step change (0 = normal)"),
    EventSpec("flow.market.backlog", "files", "landed tick files not yet processed"),
    EventSpec("flow.live.batch_ticks", "ticks", "ticks in one live micro-batch"),
)

EVENTS: dict[str, EventSpec] = {e.name: e for e in SEED_EVENTS + FLOW_EVENTS}


def check_name(name: str) -> str:
    """``name`` if it is a dotted lower-case event name, else ValueError saying the rule."""
    if not isinstance(name, str) or not NAME_RE.match(name) or len(name) > 128:
        raise ValueError(
            f"telemetry event name {name!r}: expected dotted lower-case words such as 'flow.market.lag_ms' "
            "(a-z, 0-9, '_', at least one '.', at most 128 characters)"
        )
    return name
