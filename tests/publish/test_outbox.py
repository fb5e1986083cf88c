"""The outbox: capture is idempotent, failures back off and are retried, a crash mid-relay re-sends nothing twice."""

from __future__ import annotations

import asyncio

import pytest

from thunderline.publish import (
    InProcessPublisher,
    OutboxRelay,
    PublishError,
    capture,
    claim,
    decision_message,
    enqueue_decisions,
    stats,
    subject_for,
    subject_matches,
    subject_token,
)
from thunderline.publish.outbox import compact_sent, mark_failed

from .rows import decision_row, feature_row, seed


def test_subjects_and_ids():
    assert subject_for("acme", "decision", "AAPL") == "thunderline.acme.decisions.AAPL"
    assert subject_for("acme", "feature", "BRK.B") == "thunderline.acme.features.BRK%2EB"
    assert subject_token("a b*>") == "a%20b%2A%3E" and subject_token("ES=F") == "ES=F"
    assert subject_matches("thunderline.acme.>", "thunderline.acme.decisions.X")
    assert subject_matches("thunderline.*.decisions.*", "thunderline.acme.decisions.X")
    assert not subject_matches("thunderline.acme.>", "thunderline.beta.decisions.X")
    m1, m2 = decision_message(decision_row("acme", 1)), decision_message(decision_row("acme", 1))
    assert m1.id == m2.id and m1.id.startswith("decision.") and m1.payload == m2.payload
    assert decision_message(decision_row("acme", 1, action="sell")).id != m1.id  # new content, new message


def test_capture_queues_every_row_once_per_content(warehouse):
    seed(warehouse, "acme", [decision_row("acme", i) for i in range(5)], [feature_row("acme", i) for i in range(3)])
    seed(warehouse, "beta", [decision_row("beta", i) for i in range(2)])
    with warehouse.session("acme") as s:
        assert capture(s, "decision", limit=3) == 3 and capture(s, "decision") == 2 and capture(s, "decision") == 0
        assert capture(s, "feature") == 3
        assert stats(s).pending == 8
    seed(warehouse, "acme", [decision_row("acme", 0, action="sell")])  # recomputed with new content
    with warehouse.session("acme") as s:
        assert capture(s, "decision") == 1
        assert enqueue_decisions(s, [decision_row("acme", 1)]) == 0  # a writer enqueueing again: no duplicate
        msgs = claim(s, 100)
    assert len(msgs) == 9 and {m.tenant_id for m in msgs} == {"acme"}
    with warehouse.session("beta") as s:
        assert stats(s).pending == 0 and capture(s, "decision") == 2


class Flaky:
    """Fails the first ``fail`` calls; can also 'crash' after publishing (the ack is lost)."""

    name = "flaky"

    def __init__(self, inner, fail=0, lose_ack=0):
        self.inner, self.fail, self.lose_ack, self.calls = inner, fail, lose_ack, 0

    async def publish(self, messages):
        self.calls += 1
        if self.fail:
            self.fail -= 1
            raise PublishError("broker down")
        got = await self.inner.publish(messages)
        if self.lose_ack:
            self.lose_ack -= 1
            raise PublishError("connection lost after publish")
        return got

    async def close(self):
        pass


def test_relay_retries_failures_and_never_delivers_twice(warehouse):
    rows = [decision_row("acme", i, symbol="AAPL" if i % 2 else "MSFT") for i in range(20)]
    seed(warehouse, "acme", rows, [feature_row("acme", i) for i in range(4)])
    bus = InProcessPublisher()
    got = []
    bus.subscribe("thunderline.acme.decisions.*", got.append)
    clock = [1000.0]
    pub = Flaky(bus, fail=2, lose_ack=1)
    relay = OutboxRelay(warehouse, pub, lambda: ["acme"], batch=7, clock=lambda: clock[0])

    async def go():
        assert await relay.run_once() == 0  # broker down: nothing sent, nothing lost
        with warehouse.session("acme") as s:
            st = stats(s)
            assert st.pending == 24 and st.failing == 7
            mark_failed(s, [m.id for m in claim(s, 100, now=2**62)], "test", now=0)  # make every row due again
        assert await relay.run_once() == 0  # still down
        with warehouse.session("acme") as s:
            mark_failed(s, [m.id for m in claim(s, 100, now=2**62)], "test", now=0)
        assert await relay.run_once() == 0  # published, but the ack was lost: re-sent later
        with warehouse.session("acme") as s:
            mark_failed(s, [m.id for m in claim(s, 100, now=2**62)], "test", now=0)
        return await relay.drain()

    assert asyncio.run(go()) == 24
    ids = [m.id for m in got]
    assert len(ids) == len(set(ids)) == 20  # each decision once, although one batch was published twice
    assert {m.ref_id for m in got} == {r["id"] for r in rows}
    with warehouse.session("acme") as s:
        st = stats(s)
        assert st.pending == 0 and st.sent == 24
        assert compact_sent(s, 2**62) == 24 and capture(s, "decision") == 0  # compaction never re-queues
    assert relay.stats.sent == 24 and relay.stats.failed > 0


def test_relay_sees_rows_written_after_it_started(warehouse):
    bus = InProcessPublisher()
    got = []
    bus.subscribe("thunderline.>", got.append)
    relay = OutboxRelay(warehouse, bus, lambda: ["acme", "beta"])

    async def go():
        assert await relay.drain() == 0
        seed(warehouse, "acme", [decision_row("acme", i) for i in range(3)])
        seed(warehouse, "beta", [decision_row("beta", i) for i in range(2)])
        return await relay.drain()

    assert asyncio.run(go()) == 5
    assert sorted(m.subject.split(".")[1] for m in got) == ["acme"] * 3 + ["beta"] * 2
    replay = []
    bus.subscribe("thunderline.beta.>", replay.append, replay=True)
    assert len(replay) == 2


@pytest.mark.parametrize("bad", ["http://x", "nats//x"])
def test_nats_url_is_validated(bad):
    from thunderline.config import ConfigError
    from thunderline.publish import nats_url_from_env, publisher_from_env

    with pytest.raises(ConfigError, match="THUNDERLINE_NATS_URL"):
        nats_url_from_env({"THUNDERLINE_NATS_URL": bad})
    assert publisher_from_env({}).name == "in-process"
    assert publisher_from_env({"THUNDERLINE_NATS_URL": "nats://127.0.0.1:4222"}).name == "nats-jetstream"
