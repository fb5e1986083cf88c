"""Running the ingress app under uvicorn, in the foreground (CLI) or in a background thread (tests, benches).

:func:`serve` blocks until SIGINT/SIGTERM; :class:`ServerThread` starts the same server on
an already-bound socket (port 0 → a free port) and stops it on :meth:`ServerThread.stop`,
so nothing outlives the caller.
"""

from __future__ import annotations

import asyncio
import socket
import threading

import uvicorn

from thunderline.config import Settings
from thunderline.ingress.app import ServeConfig, build_app


def _uvicorn_config(app, config: ServeConfig, **kw) -> uvicorn.Config:
    return uvicorn.Config(app, host=config.host, port=config.port, log_level=kw.pop("log_level", "warning"),
                          access_log=False, timeout_graceful_shutdown=3, lifespan="on", **kw)


def serve(settings: Settings, config: ServeConfig = ServeConfig(), *, log_level: str = "info") -> None:
    """Serve until interrupted (SIGINT/SIGTERM); the relay and open streams stop with it."""
    app = build_app(settings, config)
    uvicorn.Server(_uvicorn_config(app, config, log_level=log_level)).run()


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    # proto=IPPROTO_TCP: asyncio only sets TCP_NODELAY on accepted sockets whose proto says TCP;
    # with proto 0 every response waited ~40 ms for the client's delayed ACK (Nagle)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


class ServerThread:
    """The app on 127.0.0.1:<free port> in a daemon thread; ``with ServerThread(app) as s: s.url``."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sock = bind(host, port)
        self.host, self.port = self.sock.getsockname()[:2]
        self.url = f"http://{self.host}:{self.port}"
        cfg = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=2,
                             lifespan="on")
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
