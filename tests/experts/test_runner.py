"""Isolation and latency budgets: a slow or failing expert abstains with a flag; the others proceed."""

import threading
import time

import numpy as np
import pandas as pd
import pytest

from thunderline.experts import ExpertRunner, window_risk_flags
from thunderline.experts.runner import STATUS_DEGRADED, STATUS_ERROR, STATUS_OK, STATUS_TIMEOUT

from .conftest import renamed


class Fake:
    """A minimal expert: answers ``action`` with ``confidence`` for every window, optionally late or broken."""

    def __init__(self, name, action="buy", confidence=0.7, *, sleep=0.0, fail=None, release=None, alias="champion",
                 output=None):
        self.name, self.version, self.alias = name, "1", alias
        self.action, self.confidence, self.sleep, self.fail = action, confidence, sleep, fail
        self.release = release
        self.calls = 0
        self.finished = 0  # calls that came back from sleeping
        self.output = output

    def predict(self, df):
        self.calls += 1
        if self.release is not None:
            self.release.wait(self.sleep)
        elif self.sleep:
            time.sleep(self.sleep)
        self.finished += 1
        if self.fail:
            raise self.fail
        if self.output is not None:
            return self.output
        return pd.DataFrame({"action": [self.action] * len(df), "confidence": [self.confidence] * len(df)},
                            index=df.index)


@pytest.fixture
def batch():
    return pd.DataFrame({"x": np.arange(8.0)})


@pytest.fixture
def release():
    """Lets sleeping experts finish at teardown, so no thread outlives its test for long."""
    ev = threading.Event()
    yield ev
    ev.set()


def test_slow_and_failing_experts_abstain_with_flags_while_others_proceed(registry, pool, planted, release):
    """Real experts loaded from MLflow next to a slow one and a broken one, on one batch."""
    registry.register(renamed(pool["order_flow_logit_h1"], "run_flow"), alias="champion")
    registry.register(renamed(pool["momentum_gbm_h1"], "run_mom"), alias="shadow")
    flow, mom = registry.load("run_flow", "champion"), registry.load("run_mom", "shadow")
    slow = Fake("slowpoke", sleep=30.0, release=release)  # asleep until the test ends (or 30 s)
    broken = Fake("broken", fail=RuntimeError("model file corrupt"))
    x = planted.frame[planted.test].head(64)
    runner = ExpertRunner(degrade_batches=2)
    flow_budget = 2_000.0  # generous for the real models on a loaded CI host; the slow one gets 60 ms
    results = [runner.run(flow, x, flow_budget), runner.run(slow, x, 60.0), runner.run(broken, x, 60.0),
               runner.run(mom, x, flow_budget)]
    r_flow, r_slow, r_broken, r_mom = results
    # the runner did not wait for the sleeper: it is still asleep after every result came back (no wall-clock
    # bound, which a loaded host breaks; had the runner waited, the call would have finished first)
    assert slow.calls == 1 and slow.finished == 0
    assert r_flow.status == STATUS_OK and r_flow.flags == ()
    np.testing.assert_array_equal(r_flow.actions, pool["order_flow_logit_h1"].predict(x)["action"].to_numpy())
    assert r_flow.latency_ms > 0 and r_flow.latency_per_window_ms == pytest.approx(r_flow.latency_ms / 64)
    assert r_slow.status == STATUS_TIMEOUT and r_slow.flags == ("latency_budget:slowpoke",)
    assert r_slow.latency_ms >= 60.0 and set(r_slow.actions) == {"abstain"} and not r_slow.confidences.any()
    assert r_broken.status == STATUS_ERROR and r_broken.flags == ("expert_error:broken",)
    assert "model file corrupt" in r_broken.error and set(r_broken.actions) == {"abstain"}
    assert r_mom.ok and r_mom.is_shadow  # shadows run (and are logged) like any other expert
    # per-window risk flags: only live experts with a say in the window count
    weights = np.zeros((64, 4))
    weights[:32, 1] = 1.0  # slowpoke had a say in the first half only
    weights[:, 0] = 1.0
    weights[:, 3] = 1.0
    flags = window_risk_flags(results, weights)
    assert flags[0] == ["latency_budget:slowpoke"] and flags[40] == []
    assert window_risk_flags(results)[40] == ["latency_budget:slowpoke", "expert_error:broken"]
    shadow_broken = window_risk_flags([r_broken], shadow_mask=[True])
    assert shadow_broken[0] == []
    acts = r_mom.expert_actions(layer=0, weights=0.5)
    assert len(acts) == 64 and all(a.weight == 0.0 and a.alias == "shadow" for a in acts)
    assert r_flow.expert_actions(layer=1, weights=weights[:, 0])[0].weight == 1.0


def test_a_budget_breach_degrades_the_expert_for_the_next_batches(batch, release):
    slow = Fake("slow", sleep=0.3)
    runner = ExpertRunner(degrade_batches=2)
    assert runner.run(slow, batch, 20.0).status == STATUS_TIMEOUT
    skipped = runner.run(slow, batch, 20.0)  # the abandoned call is still running: not called again
    assert skipped.status == STATUS_DEGRADED and skipped.flags == ("expert_degraded:slow",)
    assert runner.degraded() == {"slow@1": 2}
    time.sleep(0.4)  # the abandoned call finishes; its result is discarded
    assert runner.run(slow, batch, 20.0).status == STATUS_DEGRADED
    assert runner.degraded() == {"slow@1": 1}
    assert slow.calls == 1
    slow.sleep = 0.0
    assert runner.run(slow, batch, 20.0).status == STATUS_DEGRADED
    assert runner.run(slow, batch, 500.0).status == STATUS_OK
    assert slow.calls == 2 and runner.degraded() == {}


def test_repeated_failures_degrade_the_expert_then_it_is_retried(batch):
    broken = Fake("broken", fail=RuntimeError("model file corrupt"))
    runner = ExpertRunner(degrade_batches=2, fail_batches=3)
    statuses = [runner.run(broken, batch, 500.0).status for _ in range(6)]
    assert statuses == [STATUS_ERROR] * 3 + [STATUS_DEGRADED] * 2 + [STATUS_ERROR]  # skipped 2, then retried
    assert broken.calls == 4
    skipped = runner.run(broken, batch, 500.0)  # the retry failed: counting starts again, 3 needed
    assert skipped.status == STATUS_ERROR and runner.degraded() == {}
    broken.fail = None  # one good answer resets the count: two more failures do not degrade
    assert runner.run(broken, batch, 500.0).status == STATUS_OK
    broken.fail = RuntimeError("again")
    assert [runner.run(broken, batch, 500.0).status for _ in range(2)] == [STATUS_ERROR] * 2
    assert runner.degraded() == {}
    liar = Fake("liar", output=[1, 2, 3])  # contract-breaking outputs count as failures too
    assert [runner.run(liar, batch, 500.0).status for _ in range(4)] == [STATUS_ERROR] * 3 + [STATUS_DEGRADED]
    assert runner.degraded() == {"liar@1": 1} and liar.calls == 3
    with pytest.raises(ValueError):
        ExpertRunner(fail_batches=0)


def test_a_hung_expert_parks_one_thread_not_one_per_batch(batch, release):
    hung = Fake("hung", sleep=30.0, release=release)
    runner = ExpertRunner(degrade_batches=0)
    before = threading.active_count()
    statuses = [runner.run(hung, batch, 10.0).status for _ in range(5)]
    assert statuses == [STATUS_TIMEOUT] + [STATUS_DEGRADED] * 4
    assert threading.active_count() <= before + 1 and hung.calls == 1


@pytest.mark.parametrize(
    "output, why",
    [
        (pd.DataFrame({"action": ["buy"] * 3, "confidence": [0.5] * 3}), "3 output rows for 8 windows"),
        (pd.DataFrame({"action": ["moon"] * 8, "confidence": [0.5] * 8}), "unknown actions"),
        (pd.DataFrame({"action": ["buy"] * 8, "confidence": [1.5] * 8}), "not in \\[0, 1\\]"),
        (pd.DataFrame({"action": ["buy"] * 8}), "no 'confidence' column"),
        ([1, 2, 3], "expected a DataFrame"),
    ],
)
def test_outputs_that_break_the_contract_are_errors(batch, output, why):
    r = ExpertRunner().run(Fake("liar", output=output), batch, 1000.0)
    assert r.status == STATUS_ERROR and r.flags == ("expert_error:liar",)
    assert pytest.approx(0.0) == r.confidences.sum() and r.n == 8
    import re

    assert re.search(why, r.error)


def test_abstain_rows_from_an_expert_are_kept_and_zero_confidence(batch):
    out = pd.DataFrame({"action": ["abstain", "buy"] * 4, "confidence": [np.nan, 0.6] * 4})
    r = ExpertRunner().run(Fake("partial", output=out), batch, 1000.0)
    assert r.ok and r.actions.tolist() == ["abstain", "buy"] * 4 and r.confidences.tolist() == [0.0, 0.6] * 4


def test_run_all_in_parallel_bounds_the_batch_by_the_slowest_budget(batch, release):
    experts = [Fake(f"s{i}", sleep=30.0, release=release) for i in range(3)] + [Fake("ok", action="sell")]
    runner = ExpertRunner()
    results = runner.run_all(experts, batch, 100.0, parallel=True)
    assert all(e.calls == 1 and e.finished == 0 for e in experts[:3])  # the batch did not wait for any sleeper
    assert [r.status for r in results] == [STATUS_TIMEOUT] * 3 + [STATUS_OK]
    assert results[3].actions.tolist() == ["sell"] * 8


def test_budget_defaults_to_the_experts_own(batch):
    e = Fake("budgeted", sleep=0.2)
    e.latency_budget_ms = 20.0
    assert ExpertRunner().run(e, batch).status == STATUS_TIMEOUT
    assert ExpertRunner(default_budget_ms=1000.0).run(Fake("plain"), batch).budget_ms == 1000.0


def test_workers_are_reused_between_calls_and_shut_down(batch):
    """A call no longer starts a thread: sequential calls run on one parked worker; close ends it."""
    from thunderline.experts import _workers

    _workers.shutdown_idle()
    runner = ExpertRunner()
    seen: set[int] = set()

    class Who(Fake):
        def predict(self, df):
            seen.add(threading.get_ident())
            return super().predict(df)

    who = Who("who")
    results = [runner.run(who, batch, 5000.0) for _ in range(20)]
    assert [r.status for r in results] == [STATUS_OK] * 20 and who.calls == 20
    assert len(seen) == 1 and threading.get_ident() not in seen
    deadline = time.monotonic() + 5
    while _workers.idle_count() != 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _workers.idle_count() == 1
    worker = next(t for t in threading.enumerate() if t.ident in seen)
    assert _workers.shutdown_idle() == 1
    worker.join(5)
    assert not worker.is_alive() and _workers.idle_count() == 0
