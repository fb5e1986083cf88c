"""NATS JetStream with a real server: every decision lands once by id; a restarted consumer resumes, a new one replays.

Needs the NATS server with JetStream at 127.0.0.1:4222 (or THUNDERLINE_TEST_NATS_URL); skips with the reason otherwise.
Each test uses a fresh tenant (so its own stream) and deletes the stream afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import uuid
from urllib.parse import urlparse

import pytest
import sqlalchemy as sa

from thunderline.publish import NatsJetStreamPublisher, OutboxRelay, StreamSettings, stream_name
from thunderline.store.ingress_tables import outbox

from .rows import decision_row, feature_row, seed

NATS_URL = os.environ.get("THUNDERLINE_TEST_NATS_URL", "nats://127.0.0.1:4222")
PREFIX = "TLTEST"


def _reachable() -> bool:
    u = urlparse(NATS_URL)
    try:
        with socket.create_connection((u.hostname, u.port or 4222), timeout=1):
            return True
    except OSError:
        return False


pytest.importorskip("nats", reason="nats-py is not installed (pip install nats-py)")
pytestmark = pytest.mark.skipif(not _reachable(), reason=f"no NATS server at {NATS_URL} (set THUNDERLINE_TEST_NATS_URL)")


async def _fetch_all(js, subject, durable, stream, expect, *, batch=8):
    """Pull and ack ``expect`` messages (bounded waits), then check briefly that nothing more comes."""
    from nats.errors import TimeoutError as NatsTimeout
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    sub = await js.pull_subscribe(subject, durable=durable, stream=stream,
                                  config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.EXPLICIT))
    ids: list[str] = []
    for _ in range(expect + 2):
        want = min(batch, expect - len(ids))
        if want <= 0:
            break
        try:
            msgs = await sub.fetch(want, timeout=5.0)
        except NatsTimeout:
            break
        for m in msgs:
            body = json.loads(m.data)
            assert m.headers["Nats-Msg-Id"].split(".")[1] == body["id"]
            ids.append(body["id"])
            await m.ack_sync()
    return sub, ids


async def _nothing_more(sub) -> bool:
    from nats.errors import TimeoutError as NatsTimeout

    try:
        extra = await sub.fetch(1, timeout=0.3)
    except NatsTimeout:
        extra = []
    await sub.unsubscribe()
    return not extra


def test_decisions_reach_jetstream_once_and_a_restarted_consumer_sees_each_once(warehouse):
    import nats

    tenant = f"t{uuid.uuid4().hex[:10]}"
    rows = [decision_row(tenant, i, symbol=("AAPL", "MSFT", "BRK.B")[i % 3]) for i in range(30)]
    seed(warehouse, tenant, rows, [feature_row(tenant, i) for i in range(5)])
    want = {r["id"] for r in rows}
    stream = stream_name(tenant, PREFIX)
    subject = f"thunderline.{tenant}.decisions.*"

    async def go():
        pub = NatsJetStreamPublisher(NATS_URL, StreamSettings(prefix=PREFIX))
        relay = OutboxRelay(warehouse, pub, lambda: [tenant], batch=16)
        nc = await nats.connect(NATS_URL)
        js = nc.jetstream()
        try:
            assert await relay.drain() == 35
            _, first = await _fetch_all(js, subject, "dash", stream, 12)  # the consumer stops early…
            await nc.close()  # …and goes away ("crash")

            # the relay crashes after publishing but before marking sent: everything is re-sent
            with warehouse.session(tenant) as s:
                s.execute(sa.update(outbox).where(outbox.c.tenant_id == tenant).values(status="pending"))
            assert await relay.drain() == 35
            info = await pub._js.stream_info(stream)
            assert info.state.messages == 35  # JetStream dropped the re-sent ids as duplicates

            nc2 = await nats.connect(NATS_URL)  # the consumer restarts with the same durable name
            js2 = nc2.jetstream()
            sub, rest = await _fetch_all(js2, subject, "dash", stream, 18)
            assert await _nothing_more(sub)
            sub, replay = await _fetch_all(js2, subject, "audit", stream, 30)  # a new consumer replays from the start
            assert await _nothing_more(sub)
            sub, bsym = await _fetch_all(js2, f"thunderline.{tenant}.decisions.BRK%2EB", "brk", stream, 10)
            assert await _nothing_more(sub)
            await js2.delete_stream(stream)
            await nc2.close()
            return first, rest, replay, bsym
        finally:
            await pub.close()
            if not nc.is_closed:
                await nc.close()

    first, rest, replay, bsym = asyncio.run(go())
    assert len(first) == 12
    seen = first + rest
    assert len(seen) == len(set(seen)) == 30 and set(seen) == want
    assert len(replay) == 30 and set(replay) == want
    assert set(bsym) == {r["id"] for r in rows if r["symbol"] == "BRK.B"}


def test_broker_down_loses_nothing(tmp_path):
    from thunderline.store import Warehouse

    warehouse = Warehouse(f"sqlite:///{tmp_path / 'w.db'}")  # outbox retries on both backends: test_outbox
    warehouse.init_schema()
    tenant = f"t{uuid.uuid4().hex[:10]}"
    seed(warehouse, tenant, [decision_row(tenant, i) for i in range(5)])

    async def go():
        down = NatsJetStreamPublisher("nats://127.0.0.1:1", StreamSettings(prefix=PREFIX))
        relay = OutboxRelay(warehouse, down, lambda: [tenant])
        assert await relay.run_once() == 0
        with warehouse.session(tenant) as s:
            from thunderline.publish import stats

            assert stats(s).pending == 5 and stats(s).failing == 5
            s.execute(sa.update(outbox).where(outbox.c.tenant_id == tenant).values(next_attempt_us=0))
        up = NatsJetStreamPublisher(NATS_URL, StreamSettings(prefix=PREFIX))
        relay.publisher = up
        try:
            sent = await relay.drain()
            info = await up._js.stream_info(stream_name(tenant, PREFIX))
            await up._js.delete_stream(stream_name(tenant, PREFIX))
            return sent, info.state.messages
        finally:
            await up.close()

    try:
        assert asyncio.run(go()) == (5, 5)
    finally:
        warehouse.dispose()
