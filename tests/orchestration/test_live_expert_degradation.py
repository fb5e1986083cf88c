"""The live path keeps one expert runner per session: an expert that breached its latency budget stays
degraded across micro-batches (files) and is called again once the runner's rules let it.

Experts come from the session's ``trained`` fixture (real MLflow registry); one of them is wrapped so its
first call hangs past a short budget. With a runner per micro-batch (the old behaviour) the next file
called it again at once, and a hung expert cost a parked thread per file.
"""

from __future__ import annotations

import threading

import pyarrow as pa

from thunderline.decisions.router_state import publish_router_version
from thunderline.experts.runner import flag_degraded, flag_latency
from thunderline.flow.live import DecisionContext, LiveProcessor
from thunderline.market import write_canonical_parquet
from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks
from thunderline.store.lake import Lake

SYMBOL = "DEG"
BUDGET_MS = 1_500.0


class HangsFirst:
    """A registry expert whose first ``predict`` blocks until released (past its budget); later calls are its own."""

    def __init__(self, inner) -> None:
        self._inner = inner
        self.latency_budget_ms = BUDGET_MS
        self.calls = 0
        self.release, self.finished = threading.Event(), threading.Event()

    def __getattr__(self, name):  # name, version, alias, feature schema: the wrapped expert's
        return getattr(self._inner, name)

    def predict(self, df):
        self.calls += 1
        if self.calls == 1:
            try:
                self.release.wait(60)
            finally:
                self.finished.set()
        return self._inner.predict(df)


def _feed(root, n_files: int, per_file: int = 1_200):
    """One synthetic stream cut into files in time order: one micro-batch each."""
    root.mkdir(parents=True)
    spec = SyntheticSpec(n_ticks=n_files * per_file, seed=5, symbol=SYMBOL, venue="TEST")
    table = pa.Table.from_batches(list(synthetic_ticks(spec, "default")))
    paths = []
    for i in range(n_files):
        p = root / f"{SYMBOL}-{i:04d}.parquet"
        write_canonical_parquet(table.slice(i * per_file, per_file).to_batches(), p)
        paths.append(p)
    return paths


def test_a_hung_expert_stays_degraded_across_micro_batches_and_recovers(warehouse, trained, tmp_path):
    state, experts, shadows = trained
    name = sorted(experts)[0]
    slow = HangsFirst(experts[name])
    with warehouse.session("default") as s:
        publish_router_version(s, state, reason="degradation test")
    proc = LiveProcessor(warehouse, "default", Lake(tmp_path / "lake"),
                         decisions=DecisionContext(state, {**experts, name: slow}, list(shadows)))
    rules = proc.runner.degrade_batches
    files = _feed(tmp_path / "feed", n_files=rules + 3)
    breach, degraded = flag_latency(name), flag_degraded(name)

    first = proc.process_path(files[0])
    assert first.traces > 0 and first.risk_flags.get(breach) and degraded not in first.risk_flags
    slow.release.set()  # the abandoned call returns: only the degradation counter keeps the expert out now
    assert slow.finished.wait(60)

    for f in files[1:1 + rules]:  # the runner's next `degrade_batches` batches skip it, whatever file they come from
        mb = proc.process_path(f)
        assert mb.traces > 0 and mb.risk_flags.get(degraded), mb.risk_flags
        assert breach not in mb.risk_flags
    assert slow.calls == 1  # never called while degraded

    for f in files[1 + rules:]:  # recovered: called again, answers within its budget, no flag
        mb = proc.process_path(f)
        assert mb.traces > 0 and not {breach, degraded} & set(mb.risk_flags), mb.risk_flags
    assert slow.calls == 3
    assert proc.runner.degraded() == {}
