"""Publishers: where outbox messages go. NATS JetStream when configured, in-process otherwise.

The contract (:class:`Publisher`): ``await publish(messages)`` returns the ids the broker
has durably accepted (duplicates included — a duplicate is already there); anything not
returned is retried later by the relay. A publisher never blocks the code that decides:
only the relay calls it, from the outbox.

* :class:`NatsJetStreamPublisher` keeps one stream per tenant, ``<prefix>_<TENANT>``
  capturing ``thunderline.<tenant>.>`` (file storage, replayable by any durable consumer),
  created on first use. Every message carries ``Nats-Msg-Id`` = its message id, so a
  re-send within the stream's duplicate window is dropped by the server.
* :class:`InProcessPublisher` delivers to callbacks in this process, drops ids it has
  already seen (bounded memory) and keeps the last ``history`` messages for late subscribers.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Callable, Mapping, Protocol, Sequence

from thunderline.publish.messages import Message, tenant_subjects

log = logging.getLogger(__name__)

NATS_URL_ENV = "THUNDERLINE_NATS_URL"
STREAM_PREFIX_ENV = "THUNDERLINE_NATS_STREAM_PREFIX"
DEFAULT_STREAM_PREFIX = "THUNDERLINE"


class Publisher(Protocol):
    name: str

    async def publish(self, messages: Sequence[Message]) -> list[str]:
        """Publish; return the ids the broker accepted (possibly fewer than given)."""

    async def close(self) -> None: ...


Callback = Callable[[Message], None]


class InProcessPublisher:
    """An in-memory bus: subscribers get each message id once, in publish order."""

    name = "in-process"

    def __init__(self, *, history: int = 10_000, dedupe: int = 1_000_000) -> None:
        self._subs: list[tuple[str, Callback]] = []
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._dedupe = dedupe
        self.history: deque[Message] = deque(maxlen=history)

    def subscribe(self, pattern: str, callback: Callback, *, replay: bool = False) -> Callable[[], None]:
        """Call ``callback`` for messages whose subject matches ``pattern`` (NATS wildcards ``*``/``>``).

        Returns an unsubscribe function. ``replay`` first delivers the retained history.
        """
        entry = (pattern, callback)
        self._subs.append(entry)
        if replay:
            for m in list(self.history):
                if subject_matches(pattern, m.subject):
                    callback(m)
        return lambda: self._subs.remove(entry) if entry in self._subs else None

    async def publish(self, messages: Sequence[Message]) -> list[str]:
        out = []
        for m in messages:
            out.append(m.id)
            if m.id in self._seen:
                continue
            self._seen[m.id] = None
            if len(self._seen) > self._dedupe:
                self._seen.popitem(last=False)
            self.history.append(m)
            for pattern, cb in list(self._subs):
                if subject_matches(pattern, m.subject):
                    try:
                        cb(m)
                    except Exception:  # noqa: BLE001 - a bad subscriber must not stop publication
                        log.exception("in-process subscriber for %s failed", pattern)
        return out

    async def close(self) -> None:
        self._subs.clear()


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: ``*`` = one token, ``>`` = one or more trailing tokens."""
    p, s = pattern.split("."), subject.split(".")
    for i, tok in enumerate(p):
        if tok == ">":
            return len(s) > i
        if i >= len(s) or (tok != "*" and tok != s[i]):
            return False
    return len(p) == len(s)


def stream_name(tenant_id: str, prefix: str = DEFAULT_STREAM_PREFIX) -> str:
    return f"{prefix}_{tenant_id.upper()}"


@dataclass(frozen=True)
class StreamSettings:
    prefix: str = DEFAULT_STREAM_PREFIX
    duplicate_window_s: float = 120.0
    max_age_s: float = 7 * 24 * 3600.0
    publish_timeout_s: float = 5.0
    concurrency: int = 256


class NatsJetStreamPublisher:
    """Publishes to JetStream with per-message dedup ids; connects lazily and reconnects on failure."""

    name = "nats-jetstream"

    def __init__(self, url: str, settings: StreamSettings = StreamSettings()) -> None:
        self.url = url
        self.settings = settings
        self._nc = None
        self._js = None
        self._streams: set[str] = set()
        self._lock = asyncio.Lock()

    async def _connect(self):
        import nats  # deferred: only needed when a NATS URL is configured

        if self._nc is None or self._nc.is_closed:
            self._nc = await nats.connect(self.url, connect_timeout=2, max_reconnect_attempts=2,
                                          allow_reconnect=True, reconnect_time_wait=0.5)
            self._js = self._nc.jetstream(timeout=self.settings.publish_timeout_s)
            self._streams.clear()
        return self._js

    async def ensure_stream(self, tenant_id: str) -> str:
        from nats.js.api import StorageType, StreamConfig
        from nats.js.errors import NotFoundError

        js = await self._connect()
        name = stream_name(tenant_id, self.settings.prefix)
        if name in self._streams:
            return name
        try:
            await js.stream_info(name)
        except NotFoundError:
            cfg = StreamConfig(name=name, subjects=[tenant_subjects(tenant_id)], storage=StorageType.FILE,
                               duplicate_window=self.settings.duplicate_window_s, max_age=self.settings.max_age_s,
                               description=f"Thunderline decisions and feature windows of tenant {tenant_id}")
            try:
                await js.add_stream(cfg)
            except Exception:  # noqa: BLE001 - created concurrently by another publisher: use it
                await js.stream_info(name)
        self._streams.add(name)
        return name

    async def publish(self, messages: Sequence[Message]) -> list[str]:
        if not messages:
            return []
        async with self._lock:
            try:
                js = await self._connect()
                for t in sorted({m.tenant_id for m in messages}):
                    await self.ensure_stream(t)
            except Exception as exc:  # noqa: BLE001 - broker down: nothing accepted, the relay retries
                await self._reset()
                raise PublishError(f"{self.url}: {type(exc).__name__}: {exc}") from exc
            accepted: list[str] = []
            errors: list[str] = []
            step = self.settings.concurrency
            for i in range(0, len(messages), step):
                part = messages[i : i + step]
                results = await asyncio.gather(
                    *(js.publish(m.subject, m.payload, headers={"Nats-Msg-Id": m.id},
                                 stream=stream_name(m.tenant_id, self.settings.prefix)) for m in part),
                    return_exceptions=True)
                for m, r in zip(part, results):
                    if isinstance(r, BaseException):
                        errors.append(f"{type(r).__name__}: {r}")
                    else:
                        accepted.append(m.id)
            if errors and not accepted:
                await self._reset()
                raise PublishError(f"{self.url}: {errors[0]}")
            return accepted

    async def _reset(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        self._streams.clear()
        if nc is not None:
            try:
                await nc.close()
            except Exception:  # noqa: BLE001
                pass

    async def close(self) -> None:
        async with self._lock:
            if self._nc is not None and not self._nc.is_closed:
                try:
                    await self._nc.drain()
                except Exception:  # noqa: BLE001
                    pass
            await self._reset()


class PublishError(RuntimeError):
    """The broker refused or could not be reached; the message names it and the cause."""


def nats_url_from_env(env: Mapping[str, str] | None = None) -> str | None:
    """``THUNDERLINE_NATS_URL`` if set (validated: nats:// or tls://), else None."""
    import os

    from thunderline.config import ConfigError

    env = os.environ if env is None else env
    url = (env.get(NATS_URL_ENV) or "").strip()
    if not url:
        return None
    if not url.startswith(("nats://", "tls://")):
        raise ConfigError(f"{NATS_URL_ENV}={url!r}: expected nats://host:port or tls://host:port")
    return url


def publisher_from_env(env: Mapping[str, str] | None = None) -> Publisher:
    """NATS JetStream when ``THUNDERLINE_NATS_URL`` is set, in-process otherwise."""
    import os

    env = os.environ if env is None else env
    url = nats_url_from_env(env)
    if url is None:
        return InProcessPublisher()
    prefix = (env.get(STREAM_PREFIX_ENV) or "").strip() or DEFAULT_STREAM_PREFIX
    return NatsJetStreamPublisher(url, StreamSettings(prefix=prefix))

