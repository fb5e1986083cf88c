"""The relay: captures new decisions/windows into the outbox and drains it to the publisher.

One round (:meth:`OutboxRelay.run_once`), per tenant: capture (bounded), claim due
messages, publish, mark accepted ids ``sent`` and the rest failed with back-off. A crash
between "published" and "marked sent" re-sends the same message ids next round; the
broker (JetStream ``Nats-Msg-Id``) and :class:`~thunderline.publish.InProcessPublisher`
drop them as duplicates, so a consumer sees each message once.

Capture scans rows inserted since the previous round minus ``lookback_s`` (a
transaction that committed late is still seen) and does a full anti-join every
``full_sweep_s`` and on the first round, so nothing is ever missed for long.
Warehouse calls run in worker threads; the event loop is never blocked by them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

from thunderline.publish import outbox
from thunderline.publish.messages import KIND_DECISION, KIND_FEATURE
from thunderline.publish.publisher import Publisher
from thunderline.store import Warehouse

log = logging.getLogger(__name__)


@dataclass
class RelayStats:
    rounds: int = 0
    captured: int = 0
    sent: int = 0
    failed: int = 0
    last_error: str | None = None
    sent_by_tenant: dict[str, int] = field(default_factory=dict)


class OutboxRelay:
    def __init__(self, warehouse: Warehouse, publisher: Publisher, tenants: Callable[[], Iterable[str]], *,
                 batch: int = 1000, capture_limit: int = 5000, poll_s: float = 0.25, lookback_s: float = 300.0,
                 full_sweep_s: float = 600.0, kinds: tuple[str, ...] = (KIND_DECISION, KIND_FEATURE),
                 clock: Callable[[], float] = time.time) -> None:
        self.warehouse = warehouse
        self.publisher = publisher
        self.tenants = tenants
        self.batch = batch
        self.capture_limit = capture_limit
        self.poll_s = poll_s
        self.lookback_s = lookback_s
        self.full_sweep_s = full_sweep_s
        self.kinds = kinds
        self.clock = clock
        self.stats = RelayStats()
        self._last_round: dict[str, float] = {}
        self._last_full: dict[str, float] = {}

    # -- capture (sync, in a worker thread)
    def capture(self, tenant: str) -> int:
        now = self.clock()
        full = now - self._last_full.get(tenant, float("-inf")) >= self.full_sweep_s
        since = None if full or tenant not in self._last_round else dt.datetime.fromtimestamp(
            self._last_round[tenant] - self.lookback_s, tz=dt.timezone.utc)
        n = 0
        for kind in self.kinds:
            while True:
                with self.warehouse.session(tenant) as s:
                    got = outbox.capture(s, kind, since=since, limit=self.capture_limit)
                n += got
                if got < self.capture_limit:
                    break
        self._last_round[tenant] = now
        if full:
            self._last_full[tenant] = now
        return n

    def _claim(self, tenant: str) -> list:
        with self.warehouse.session(tenant) as s:
            return outbox.claim(s, self.batch)

    def _settle(self, tenant: str, sent: list[str], failed: list[str], error: str) -> None:
        with self.warehouse.session(tenant) as s:
            outbox.mark_sent(s, sent)
            outbox.mark_failed(s, failed, error)

    # -- one round
    async def run_once(self) -> int:
        """Capture and drain every tenant once (each up to ``batch`` messages); returns messages sent."""
        total = 0
        for tenant in sorted(set(self.tenants())):
            try:
                self.stats.captured += await asyncio.to_thread(self.capture, tenant)
                due = await asyncio.to_thread(self._claim, tenant)
            except Exception as exc:  # noqa: BLE001 - warehouse hiccup: try again next round
                self.stats.last_error = f"warehouse ({tenant}): {type(exc).__name__}: {exc}"
                log.warning("relay: %s", self.stats.last_error)
                continue
            if not due:
                continue
            error = ""
            try:
                accepted = set(await self.publisher.publish(due))
            except Exception as exc:  # noqa: BLE001 - broker down: everything stays pending, backs off
                accepted, error = set(), f"{type(exc).__name__}: {exc}"
            sent = [m.id for m in due if m.id in accepted]
            failed = [m.id for m in due if m.id not in accepted]
            if failed:
                error = error or "not acknowledged by the broker"
                self.stats.last_error = f"publish ({tenant}): {error}"
                log.warning("relay: %d messages of %s not published: %s", len(failed), tenant, error)
            try:
                await asyncio.to_thread(self._settle, tenant, sent, failed, error)
            except Exception as exc:  # noqa: BLE001 - sent ids are re-sent next round; the broker drops duplicates
                self.stats.last_error = f"warehouse ({tenant}): {type(exc).__name__}: {exc}"
                continue
            self.stats.sent += len(sent)
            self.stats.failed += len(failed)
            self.stats.sent_by_tenant[tenant] = self.stats.sent_by_tenant.get(tenant, 0) + len(sent)
            total += len(sent)
        self.stats.rounds += 1
        return total

    async def drain(self, max_rounds: int = 1000) -> int:
        """Run rounds until one sends nothing (or ``max_rounds``); returns messages sent."""
        total = 0
        for _ in range(max_rounds):
            n = await self.run_once()
            total += n
            if n == 0:
                break
        return total

    async def run(self, stop: asyncio.Event) -> None:
        """Rounds until ``stop`` is set; sleeps ``poll_s`` after a round that sent nothing."""
        while not stop.is_set():
            n = await self.run_once()
            if n == 0:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=self.poll_s)
                except asyncio.TimeoutError:
                    pass
