"""Running the ingress app under uvicorn, in the foreground (CLI) or in a background thread (tests, benches).

:func:`serve` blocks until SIGINT/SIGTERM; :class:`ServerThread` starts the same server on
an already-bound socket (port 0 → a free port) and stops it on :meth:`ServerThread.stop`,
so nothing outlives the caller.

``serve(..., workers=N)`` with N > 1: this process binds the port, creates the schema and
sweeps the landing area once, then uvicorn's supervisor starts N worker processes that
accept on the shared socket (and replaces any that die). Each worker builds the app from
:func:`worker_app` with the same :class:`ServeConfig` (passed in the environment); they
share the per-tenant rate limits through the bucket file (or Redis), their ingress counters
through small files (so /metrics and the dashboard show the whole server), and exactly one
of them runs the outbox relay (a lock file). Each worker decodes on one thread: N workers use N cores.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import socket
import threading

import uvicorn

from thunderline.config import Settings
from thunderline.ingress.app import ServeConfig, build_app
from thunderline.ingress.protocol import limited_config


def _uvicorn_config(app, config: ServeConfig, **kw) -> uvicorn.Config:
    """uvicorn's Config with our header size and header time limits (see ``ingress.protocol``)."""
    return limited_config(app, config.max_header_bytes, config.header_timeout_s, host=config.host, port=config.port,
                          log_level=kw.pop("log_level", "warning"), access_log=False, timeout_graceful_shutdown=3,
                          lifespan="on", **kw)


_CONFIG_ENV = "THUNDERLINE_SERVE_CONFIG"


def serve(settings: Settings, config: ServeConfig = ServeConfig(), *, log_level: str = "info", workers: int = 1) -> None:
    """Serve until interrupted (SIGINT/SIGTERM); the relay and open streams stop with it."""
    if workers <= 1:
        app = build_app(settings, config)
        sock = bind(config.host, config.port)  # ours, not uvicorn's: see bind() on TCP_NODELAY
        try:
            uvicorn.Server(_uvicorn_config(app, config, log_level=log_level)).run(sockets=[sock])
        finally:
            sock.close()
        return
    from uvicorn.supervisors import Multiprocess

    from thunderline.ingress.landing import DurableLanding
    from thunderline.stores import open_stores

    with open_stores(settings, init_schema=True):
        pass  # the schema, once, before any worker starts
    DurableLanding(settings.landing_dir).sweep()  # once, before any worker can have a write in flight
    state = settings.home / "ingress"
    stats = state / f"workers-{config.port}"
    stats.mkdir(parents=True, exist_ok=True)
    for old in stats.glob("*.json"):  # a previous run's counters: this server starts from zero
        old.unlink(missing_ok=True)
    worker_cfg = dataclasses.replace(config, sweep=False, relay_lock_file=str(state / "relay.lock"),
                                     ratelimit_file=config.ratelimit_file or str(state / "ratelimit.buckets"),
                                     stats_dir=str(stats))
    os.environ[_CONFIG_ENV] = json.dumps(dataclasses.asdict(worker_cfg))
    ucfg = _uvicorn_config("thunderline.ingress.server:worker_app", config, factory=True, workers=workers,
                           log_level=log_level)
    sock = bind(config.host, config.port)
    try:
        Multiprocess(ucfg, sockets=[sock]).run()
    finally:
        sock.close()


def worker_app():
    """The app of one ``serve --workers N`` worker (uvicorn imports this in each worker process)."""
    from thunderline.config import load_settings

    raw = json.loads(os.environ[_CONFIG_ENV])
    raw["tenants"] = tuple(raw.get("tenants") or ())
    return build_app(load_settings(), ServeConfig(**raw))


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    # proto=IPPROTO_TCP: asyncio only sets TCP_NODELAY on accepted sockets whose proto says TCP;
    # with proto 0 every response waited ~40 ms for the client's delayed ACK (Nagle)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


class ServerThread:
    """The app on 127.0.0.1:<free port> in a daemon thread; ``with ServerThread(app) as s: s.url``."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, config: ServeConfig | None = None) -> None:
        self.sock = bind(host, port)
        self.host, self.port = self.sock.getsockname()[:2]
        self.url = f"http://{self.host}:{self.port}"
        config = config or ServeConfig()
        cfg = limited_config(app, config.max_header_bytes, config.header_timeout_s, log_level="warning",
                             access_log=False, timeout_graceful_shutdown=2, lifespan="on")
        self.server = uvicorn.Server(cfg)
        self.server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self.thread = threading.Thread(target=self._run, name=f"thunderline-serve-{self.port}", daemon=True)

    def _run(self) -> None:
        asyncio.run(self.server.serve(sockets=[self.sock]))

    def start(self, timeout: float = 30.0) -> "ServerThread":
        self.thread.start()
        for _ in range(int(timeout / 0.02)):
            if self.server.started or not self.thread.is_alive():
                break
            threading.Event().wait(0.02)
        if not self.server.started:
            raise RuntimeError(f"server on {self.url} did not start")
        return self

    def stop(self, timeout: float = 15.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        self.sock.close()

    def __enter__(self) -> "ServerThread":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
