"""The backpressure ladder: six degradations taken one at a time under load, reverted one at a time after.

Why a ladder: when the market path falls behind (tick → decision lag, files waiting,
too many experts per window) the cheapest quality losses must come first, and
every loss must be undone once load normalises, in reverse order, so the system
never sits degraded by accident. The steps, in the order they are taken:

=====  ==================  ====================================================================
level  step                effect on :class:`FlowSettings` (cumulative)
=====  ==================  ====================================================================
1      widen_window        window width × 1.5 (fewer windows per tick)
2      zero_overlap        window overlap 0 % (each tick in one window)
3      lower_p             router top-p threshold − 0.05 (fewer experts per window)
4      coarse_recipe       the coarse feature recipe (core price/volume features only)
5      drop_enrichment     no EDGAR as-of join on market windows
6      force_abstain       experts whose latency p95 exceeds their budget abstain
=====  ==================  ====================================================================

Each measured interval is a *breach* (lag p95, backlog or experts-per-token above its
high mark), *calm* (all at or below their low marks: hysteresis) or neither. A
breach interval takes the next step once ``step_after`` consecutive breach
intervals have passed since the last change; the last step, ``force_abstain``,
needs ``force_abstain_after`` (default 3) and at least one expert over budget.
``calm_intervals`` consecutive calm intervals revert the latest step. Any other
interval interrupts both streaks. So the level moves by at most one per interval,
up only on breach, down only on calm, in ladder order up and reverse order down.

:func:`advance` is pure; :class:`BackpressureLadder` persists the state (JSON in
``flow_state``) and records every step change as a ``flow.backpressure.level``
telemetry event.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Iterable, Mapping

import numpy as np

from thunderline.store.flow_tables import load_flow_state, save_flow_state
from thunderline.store.warehouse import TenantSession
from thunderline.telemetry import Event, make_event, read_events

STEPS: tuple[str, ...] = (
    "widen_window", "zero_overlap", "lower_p", "coarse_recipe", "drop_enrichment", "force_abstain",
)
MAX_LEVEL = len(STEPS)
LEVEL_EVENT = "flow.backpressure.level"


@dataclass(frozen=True)
class LadderPolicy:
    """Thresholds (high = breach, low = calm) and how many intervals each move needs."""

    lag_high_ms: float = 500.0
    lag_low_ms: float = 250.0
    backlog_high: float = 100.0
    backlog_low: float = 10.0
    experts_per_token_high: float = 4.0
    experts_per_token_low: float = 3.0
    step_after: int = 1
    force_abstain_after: int = 3
    calm_intervals: int = 2
    widen_factor: float = 1.5
    p_step: float = 0.05
    p_floor: float = 0.05

    def __post_init__(self) -> None:
        for lo, hi in (("lag_low_ms", "lag_high_ms"), ("backlog_low", "backlog_high"),
                       ("experts_per_token_low", "experts_per_token_high")):
            if not getattr(self, lo) <= getattr(self, hi):
                raise ValueError(f"LadderPolicy: {lo}={getattr(self, lo)} must be ≤ {hi}={getattr(self, hi)}")
        for n in ("step_after", "force_abstain_after", "calm_intervals"):
            if getattr(self, n) < 1:
                raise ValueError(f"LadderPolicy: {n} must be ≥ 1, got {getattr(self, n)}")
        if self.widen_factor < 1.0:
            raise ValueError(f"LadderPolicy: widen_factor must be ≥ 1, got {self.widen_factor}")

    def needed(self, level: int) -> int:
        """Consecutive breach intervals needed to go from ``level`` to ``level + 1``."""
        return self.force_abstain_after if STEPS[level] == "force_abstain" else self.step_after


@dataclass(frozen=True)
class Measurement:
    """One interval's load. ``None`` means "not measured" (e.g. nothing flowed) and counts as calm.

    ``expert_latency_ms`` / ``expert_budget_ms``: p95 latency and budget per expert name,
    used to choose who abstains at the last step.
    """

    ts_us: int
    lag_p95_ms: float | None = None
    backlog: float | None = None
    experts_per_token: float | None = None
    expert_latency_ms: Mapping[str, float] = field(default_factory=dict)
    expert_budget_ms: Mapping[str, float] = field(default_factory=dict)

    def slow_experts(self) -> tuple[str, ...]:
        return tuple(sorted(n for n, v in self.expert_latency_ms.items()
                            if n in self.expert_budget_ms and v > self.expert_budget_ms[n]))

    def as_tags(self) -> dict[str, float]:
        return {k: float(v) for k, v in (("lag_p95_ms", self.lag_p95_ms), ("backlog", self.backlog),
                                         ("experts_per_token", self.experts_per_token)) if v is not None}


@dataclass(frozen=True)
class LadderState:
    level: int = 0
    breach_streak: int = 0
    calm_streak: int = 0
    abstain_experts: tuple[str, ...] = ()
    intervals: int = 0
    changed_at_us: int | None = None
    measured_at_us: int | None = None  # end of the last measured interval: where the next one starts

    @property
    def steps(self) -> tuple[str, ...]:
        """The steps in force, in the order they were taken."""
        return STEPS[: self.level]

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["abstain_experts"] = list(self.abstain_experts)
        d["steps"] = list(self.steps)  # for a person reading the row; ignored on load
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any] | None) -> "LadderState":
        if not d:
            return cls()
        level = int(d.get("level", 0))
        if not 0 <= level <= MAX_LEVEL:
            raise ValueError(f"backpressure state: level {level} outside 0..{MAX_LEVEL}")
        return cls(level=level, breach_streak=int(d.get("breach_streak", 0)), calm_streak=int(d.get("calm_streak", 0)),
                   abstain_experts=tuple(d.get("abstain_experts") or ()), intervals=int(d.get("intervals", 0)),
                   changed_at_us=d.get("changed_at_us"), measured_at_us=d.get("measured_at_us"))


@dataclass(frozen=True)
class StepChange:
    """One move of the ladder: ``step`` was taken (up) or reverted (down)."""

    step: str
    direction: str  # up | down
    level_before: int
    level_after: int
    ts_us: int
    measurement: dict[str, float]
    abstain_experts: tuple[str, ...] = ()

    def event(self, ladder: str) -> Event:
        tags = {"ladder": ladder, "step": self.step, "direction": self.direction, **self.measurement}
        if self.abstain_experts:
            tags["abstain_experts"] = ",".join(self.abstain_experts)
        return make_event(LEVEL_EVENT, self.level_after, tags, ts=self.ts_us)


def classify(m: Measurement, policy: LadderPolicy) -> str:
    """``breach``, ``calm`` or ``hold`` for one interval."""
    pairs = ((m.lag_p95_ms, policy.lag_high_ms, policy.lag_low_ms),
             (m.backlog, policy.backlog_high, policy.backlog_low),
             (m.experts_per_token, policy.experts_per_token_high, policy.experts_per_token_low))
    seen = [(v, hi, lo) for v, hi, lo in pairs if v is not None and not math.isnan(v)]
    if any(v > hi for v, hi, _ in seen):
        return "breach"
    if all(v <= lo for v, _, lo in seen):
        return "calm"
    return "hold"


def advance(state: LadderState, m: Measurement, policy: LadderPolicy = LadderPolicy()) -> tuple[LadderState, StepChange | None]:
    """The state after one interval and the step change it caused, if any (pure)."""
    kind = classify(m, policy)
    s = replace(state, intervals=state.intervals + 1, measured_at_us=m.ts_us)
    if kind == "hold":
        return replace(s, breach_streak=0, calm_streak=0), None
    if kind == "calm":
        s = replace(s, breach_streak=0, calm_streak=s.calm_streak + 1)
        if s.level == 0 or s.calm_streak < policy.calm_intervals:
            return s, None
        step = STEPS[s.level - 1]
        new = replace(s, level=s.level - 1, calm_streak=0, changed_at_us=m.ts_us,
                      abstain_experts=() if step == "force_abstain" else s.abstain_experts)
        return new, StepChange(step, "down", s.level, new.level, m.ts_us, m.as_tags())
    s = replace(s, calm_streak=0, breach_streak=s.breach_streak + 1)
    if s.level == MAX_LEVEL or s.breach_streak < policy.needed(s.level):
        return s, None
    step = STEPS[s.level]
    abstain = s.abstain_experts
    if step == "force_abstain":
        abstain = m.slow_experts()
        if not abstain:  # nobody over budget: forcing abstains would only lose decisions
            return s, None
    new = replace(s, level=s.level + 1, breach_streak=0, changed_at_us=m.ts_us, abstain_experts=abstain)
    return new, StepChange(step, "up", s.level, new.level, m.ts_us, m.as_tags(), abstain)


@dataclass(frozen=True)
class FlowSettings:
    """What the ladder adjusts: window geometry and recipe, router p, enrichment, forced abstains."""

    width_ms: float = 250.0
    overlap: float = 0.5
    p: float = 0.65
    recipe: str = "full"
    enrichment: bool = True
    abstain_experts: tuple[str, ...] = ()


def effective_settings(base: FlowSettings, state: LadderState, policy: LadderPolicy = LadderPolicy()) -> FlowSettings:
    """``base`` with the steps in force applied (level 0 returns ``base`` unchanged)."""
    s = base
    on = set(state.steps)
    if "widen_window" in on:
        s = replace(s, width_ms=s.width_ms * policy.widen_factor)
    if "zero_overlap" in on:
        s = replace(s, overlap=0.0)
    if "lower_p" in on:
        s = replace(s, p=max(policy.p_floor, round(s.p - policy.p_step, 12)))
    if "coarse_recipe" in on:
        s = replace(s, recipe="coarse")
    if "drop_enrichment" in on:
        s = replace(s, enrichment=False)
    if "force_abstain" in on:
        s = replace(s, abstain_experts=tuple(sorted(set(s.abstain_experts) | set(state.abstain_experts))))
    return s


def measure(session: TenantSession, since_us: int, until_us: int, *, backlog: float | None = None,
            expert_budget_ms: Mapping[str, float] | None = None, lag_event: str = "flow.market.lag_ms") -> Measurement:
    """A :class:`Measurement` of ``[since_us, until_us)`` from the recorded telemetry events."""
    evs = read_events(session, [lag_event, "router.assignment.experts_per_token", "expert.latency_ms"],
                      since_us=since_us, until_us=until_us)
    return measurement_from_events(evs, until_us, backlog=backlog, expert_budget_ms=expert_budget_ms,
                                   lag_event=lag_event)


def measurement_from_events(events: Iterable[Event], ts_us: int, *, backlog: float | None = None,
                            expert_budget_ms: Mapping[str, float] | None = None,
                            lag_event: str = "flow.market.lag_ms") -> Measurement:
    """Lag p95, mean experts per token and per-expert latency p95 of ``events``."""
    lag, ept, lat = [], [], {}
    for e in events:
        if e.name == lag_event:
            lag.append(e.value)
        elif e.name == "router.assignment.experts_per_token":
            ept.append(e.value)
        elif e.name == "expert.latency_ms" and "expert" in e.tags:
            lat.setdefault(str(e.tags["expert"]), []).append(e.value)
    return Measurement(
        ts_us=ts_us,
        lag_p95_ms=float(np.quantile(lag, 0.95)) if lag else None,
        backlog=backlog,
        experts_per_token=float(np.mean(ept)) if ept else None,
        expert_latency_ms={k: float(np.quantile(v, 0.95)) for k, v in lat.items()},
        expert_budget_ms=dict(expert_budget_ms or {}),
    )


class BackpressureLadder:
    """A named ladder whose state lives in ``flow_state`` (one writer per name and tenant)."""

    def __init__(self, name: str = "market", policy: LadderPolicy = LadderPolicy()) -> None:
        self.name = name
        self.policy = policy

    @property
    def state_key(self) -> str:
        return f"backpressure:{self.name}"

    def load(self, session: TenantSession) -> LadderState:
        return LadderState.from_json(load_flow_state(session, self.state_key))

    def observe_interval(self, session: TenantSession, until_us: int, *, backlog: float | None = None,
                         expert_budget_ms: Mapping[str, float] | None = None,
                         first_interval_us: int = 60_000_000) -> tuple[LadderState, StepChange | None]:
        """Measure the telemetry since the previous interval ended (or ``first_interval_us`` back) and observe it."""
        since = self.load(session).measured_at_us or until_us - first_interval_us
        return self.observe(session, measure(session, since, until_us, backlog=backlog,
                                             expert_budget_ms=expert_budget_ms))

    def observe(self, session: TenantSession, m: Measurement) -> tuple[LadderState, StepChange | None]:
        """Advance by one interval in ``session``'s transaction; a step change is also a telemetry event."""
        from thunderline.telemetry import emit

        state, change = advance(self.load(session), m, self.policy)
        save_flow_state(session, self.state_key, state.to_json())
        if change is not None:
            ev = change.event(self.name)
            emit(session, ev.name, ev.value, ev.tags, ev.ts_us)
        return state, change

    def settings(self, session: TenantSession, base: FlowSettings = FlowSettings()) -> FlowSettings:
        return effective_settings(base, self.load(session), self.policy)
