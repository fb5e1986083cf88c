"""In-process metrics in the Prometheus text exposition format (version 0.0.4).

Why hand-written: the format is a few lines of text and the live process must not
need another dependency. Every event name becomes one *summary* family
``thunderline_<name with '.' → '_'>`` (quantiles 0.5 / 0.95 / 0.99 over the last
``window`` observations of each label set, plus ``_sum`` and ``_count`` since
start), and a gauge ``…_last`` with the latest value. Tags become labels.

Cardinality is bounded: at most ``max_series`` label sets per name; observations
of further label sets are counted in ``thunderline_telemetry_dropped_total``
instead of silently growing memory.
"""

from __future__ import annotations

import math
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np

from thunderline.telemetry.events import EVENTS
from thunderline.telemetry.record import Event, make_event

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
QUANTILES = (0.5, 0.95, 0.99)
_LABEL_RE = re.compile(r"[^a-zA-Z0-9_]")


def metric_name(event_name: str) -> str:
    return "thunderline_" + event_name.replace(".", "_")


def _label_name(k: str) -> str:
    k = _LABEL_RE.sub("_", k)
    return f"_{k}" if k[:1].isdigit() else k


def _escape(v: Any) -> str:
    s = str(v).lower() if isinstance(v, bool) else str(v)
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _fmt(x: float) -> str:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    return repr(float(x))


def _labels(pairs: tuple[tuple[str, str], ...], extra: tuple[tuple[str, str], ...] = ()) -> str:
    items = pairs + extra
    if not items:
        return ""
    return "{" + ",".join(f'{k}="{v}"' for k, v in items) + "}"


@dataclass
class _Series:
    recent: deque
    count: int = 0
    total: float = 0.0
    last: float = float("nan")


@dataclass
class _Family:
    series: dict[tuple[tuple[str, str], ...], _Series] = field(default_factory=dict)


class MetricsRegistry:
    """Thread-safe in-memory aggregates of telemetry events, rendered as Prometheus text."""

    def __init__(self, *, window: int = 1024, max_series: int = 200) -> None:
        self.window = window
        self.max_series = max_series
        self._families: dict[str, _Family] = {}
        self._dropped = 0
        self._lock = threading.Lock()

    def observe(self, name: str, value: float, tags: Mapping[str, Any] | None = None) -> None:
        self.observe_event(make_event(name, value, tags, ts=0))

    def observe_event(self, ev: Event) -> None:
        key = tuple((_label_name(k), _escape(v)) for k, v in sorted(ev.tags.items()))
        with self._lock:
            fam = self._families.setdefault(ev.name, _Family())
            s = fam.series.get(key)
            if s is None:
                if len(fam.series) >= self.max_series:
                    self._dropped += 1
                    return
                s = fam.series[key] = _Series(deque(maxlen=self.window))
            s.recent.append(ev.value)
            s.count += 1
            s.total += ev.value
            s.last = ev.value

    def observe_all(self, events: Iterable[Event]) -> None:
        for ev in events:
            self.observe_event(ev)

    def render(self) -> str:
        """The exposition text: families sorted by name, series by labels, ending with a newline."""
        lines: list[str] = []
        with self._lock:
            for name in sorted(self._families):
                fam = self._families[name]
                m = metric_name(name)
                spec = EVENTS.get(name)
                help_ = f"{spec.help} [{spec.unit}]" if spec else name
                lines += [f"# HELP {m} {help_}", f"# TYPE {m} summary"]
                for key in sorted(fam.series):
                    s = fam.series[key]
                    qs = np.quantile(np.fromiter(s.recent, float), QUANTILES)
                    for q, v in zip(QUANTILES, qs):
                        lines.append(f"{m}{_labels(key, (('quantile', repr(q)),))} {_fmt(v)}")
                    lines.append(f"{m}_sum{_labels(key)} {_fmt(s.total)}")
                    lines.append(f"{m}_count{_labels(key)} {s.count}")
                lines += [f"# HELP {m}_last latest {help_}", f"# TYPE {m}_last gauge"]
                for key in sorted(fam.series):
                    lines.append(f"{m}_last{_labels(key)} {_fmt(fam.series[key].last)}")
            lines += ["# HELP thunderline_telemetry_dropped_total observations of label sets beyond max_series",
                      "# TYPE thunderline_telemetry_dropped_total counter",
                      f"thunderline_telemetry_dropped_total {self._dropped}"]
        return "\n".join(lines) + "\n"
