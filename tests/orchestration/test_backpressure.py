"""The backpressure ladder: property tests of its ordering rules, a 10× spike, persistence on both backends."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thunderline.flow.backpressure import (
    MAX_LEVEL,
    STEPS,
    BackpressureLadder,
    FlowSettings,
    LadderPolicy,
    LadderState,
    Measurement,
    advance,
    classify,
    effective_settings,
    measurement_from_events,
)
from thunderline.telemetry import make_event, read_events

POLICY = LadderPolicy()
BUDGETS = {"slow": 5.0, "fast": 5.0}

maybe = lambda s: st.one_of(st.none(), s)  # noqa: E731
measurements = st.builds(
    Measurement,
    ts_us=st.integers(0, 10**12),
    lag_p95_ms=maybe(st.floats(0, 5_000)),
    backlog=maybe(st.floats(0, 1_000)),
    experts_per_token=maybe(st.floats(0, 16)),
    expert_latency_ms=st.sampled_from([{}, {"slow": 50.0, "fast": 1.0}, {"fast": 1.0}]),
    expert_budget_ms=st.just(BUDGETS),
)
policies = st.builds(LadderPolicy, step_after=st.integers(1, 3), force_abstain_after=st.integers(1, 5),
                     calm_intervals=st.integers(1, 4))


def _run(policy, ms, state=LadderState()):
    trail = []
    for m in ms:
        new, change = advance(state, m, policy)
        trail.append((state, m, new, change))
        state = new
    return trail


@settings(max_examples=150, deadline=None)
@given(policy=policies, ms=st.lists(measurements, max_size=60))
def test_one_step_at_a_time_up_in_order_down_in_reverse(policy, ms):
    taken: list[str] = []  # the stack of steps in force
    for before, m, after, change in _run(policy, ms):
        assert 0 <= after.level <= MAX_LEVEL
        assert abs(after.level - before.level) <= 1
        assert (change is None) == (after.level == before.level)
        kind = classify(m, policy)
        if change is None:
            continue
        if change.direction == "up":
            assert kind == "breach" and change.step == STEPS[before.level]
            taken.append(change.step)
        else:
            assert kind == "calm" and change.step == taken.pop()
        assert list(after.steps) == taken
        assert LadderState.from_json(after.to_json()) == after


@settings(max_examples=100, deadline=None)
@given(policy=policies, ms=st.lists(measurements, max_size=60))
def test_force_abstain_only_after_enough_breach_intervals_and_only_for_slow_experts(policy, ms):
    trail = _run(policy, ms)
    for i, (before, m, after, change) in enumerate(trail):
        if change and change.step == "force_abstain" and change.direction == "up":
            window = trail[i - policy.force_abstain_after + 1 : i + 1]
            assert len(window) == policy.force_abstain_after
            assert all(classify(w[1], policy) == "breach" and w[0].level == MAX_LEVEL - 1 for w in window)
            assert after.abstain_experts == ("slow",)
        if after.level < MAX_LEVEL:
            assert after.abstain_experts == ()


@settings(max_examples=100, deadline=None)
@given(policy=policies, start=st.lists(measurements, max_size=30))
def test_sustained_breach_reaches_the_top_and_sustained_calm_returns_to_normal(policy, start):
    state = _run(policy, start)[-1][2] if start else LadderState()
    breach = Measurement(0, lag_p95_ms=10_000, expert_latency_ms={"slow": 50.0}, expert_budget_ms=BUDGETS)
    bound = (MAX_LEVEL - 1) * policy.step_after + policy.force_abstain_after
    for _ in range(bound):
        state, _ = advance(state, breach, policy)
    assert state.level == MAX_LEVEL
    for _ in range(MAX_LEVEL * policy.calm_intervals):
        state, _ = advance(state, Measurement(1, lag_p95_ms=0.0, backlog=0, experts_per_token=1.0), policy)
    assert state == LadderState(intervals=state.intervals, changed_at_us=1, measured_at_us=1)


@settings(max_examples=100, deadline=None)
@given(level_a=st.integers(0, MAX_LEVEL), level_b=st.integers(0, MAX_LEVEL))
def test_effective_settings_degrade_monotonically_with_the_level(level_a, level_b):
    lo, hi = sorted((level_a, level_b))
    base = FlowSettings()
    a = effective_settings(base, LadderState(level=lo, abstain_experts=("slow",) if lo == MAX_LEVEL else ()))
    b = effective_settings(base, LadderState(level=hi, abstain_experts=("slow",) if hi == MAX_LEVEL else ()))
    assert a.width_ms <= b.width_ms and a.overlap >= b.overlap and a.p >= b.p
    assert (a.recipe, b.recipe) != ("coarse", "full") and (a.enrichment or not b.enrichment)
    assert set(a.abstain_experts) <= set(b.abstain_experts)
    assert effective_settings(base, LadderState()) == base


def test_full_ladder_settings():
    s = effective_settings(FlowSettings(), LadderState(level=MAX_LEVEL, abstain_experts=("slow",)))
    assert s == FlowSettings(width_ms=375.0, overlap=0.0, p=0.6, recipe="coarse", enrichment=False,
                             abstain_experts=("slow",))


def spike_profile(base_lag_ms: float = 100.0, factor: float = 10.0) -> list[float]:
    """Lag p95 per interval: calm, a 10× spike held for 12 intervals, then calm again."""
    return [base_lag_ms] * 3 + [base_lag_ms * factor] * 12 + [base_lag_ms] * 20


def test_a_10x_spike_steps_up_in_order_and_back_down_in_reverse():
    state, moves = LadderState(), []
    for i, lag in enumerate(spike_profile()):
        m = Measurement(i, lag_p95_ms=lag, backlog=0, experts_per_token=2.0,
                        expert_latency_ms={"slow": 40.0, "fast": 1.0}, expert_budget_ms=BUDGETS)
        state, change = advance(state, m)
        if change:
            moves.append((i, change.direction, change.step))
    ups = [m for m in moves if m[1] == "up"]
    downs = [m for m in moves if m[1] == "down"]
    assert [m[2] for m in ups] == list(STEPS)
    assert [m[2] for m in downs] == list(reversed(STEPS))
    # five steps on five consecutive breach intervals, the sixth after three more
    assert [m[0] for m in ups] == [3, 4, 5, 6, 7, 10]
    assert [m[0] for m in downs] == [16, 18, 20, 22, 24, 26] and state.level == 0


def test_measurement_from_telemetry_events():
    evs = [make_event("flow.market.lag_ms", float(v), ts=v) for v in range(1, 101)]
    evs += [make_event("router.assignment.experts_per_token", 2.0, ts=1),
            make_event("router.assignment.experts_per_token", 3.0, ts=2),
            make_event("expert.latency_ms", 9.0, {"expert": "slow"}, ts=1)]
    m = measurement_from_events(evs, 7, backlog=4, expert_budget_ms=BUDGETS)
    assert m.lag_p95_ms == pytest.approx(95.05) and m.experts_per_token == 2.5 and m.backlog == 4
    assert m.slow_experts() == ("slow",)
    assert classify(Measurement(0), POLICY) == "calm"


def test_policy_rejects_inverted_thresholds():
    with pytest.raises(ValueError, match="lag_low_ms"):
        LadderPolicy(lag_low_ms=600, lag_high_ms=500)


def test_state_persists_and_each_change_is_a_telemetry_event(warehouse):
    ladder = BackpressureLadder("market")
    hot = Measurement(1_000, lag_p95_ms=5_000)
    with warehouse.session("t1") as s:
        state, change = ladder.observe(s, hot)
        assert change.step == "widen_window" and state.level == 1
    with warehouse.session("t1") as s:  # a restart: the state comes back from the warehouse
        assert ladder.load(s).level == 1
        state, change = ladder.observe(s, Measurement(2_000, lag_p95_ms=5_000))
        assert state.level == 2 and change.step == "zero_overlap"
        assert ladder.settings(s) == FlowSettings(width_ms=375.0, overlap=0.0)
    with warehouse.session("t2") as s:  # per tenant
        assert ladder.load(s) == LadderState()
    with warehouse.session("t1") as s:
        evs = read_events(s, ["flow.backpressure.level"])
        assert [(e.value, e.tags["step"], e.tags["direction"]) for e in evs] == [
            (1.0, "widen_window", "up"), (2.0, "zero_overlap", "up")]
        assert evs[0].tags["lag_p95_ms"] == 5_000.0
