"""uvicorn's HTTP/1.1 protocol with the limits uvicorn lacks: header size, header time, idle connections.

Why: uvicorn (with httptools) buffers request headers without a bound and waits for the end
of the headers forever, so a client can hold memory (a 16 MB header was accepted) or a
connection slot (200 half-sent requests held for as long as they liked). This protocol adds,
per connection:

* **header size** — the request line plus headers may be at most ``max_header_bytes``;
  beyond that the server answers ``431`` and closes, before buffering more;
* **header time** — the whole header block must arrive within ``header_timeout_s`` of the
  connection opening (or of the previous response, on a kept-alive connection); otherwise
  ``408`` and close. A connection that never sends a byte is closed the same way.

Body pauses are bounded by the app (``ServeConfig.body_timeout_s``, see ``app._read_body``),
where the request is known and a JSON 408 can say why.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger(__name__)

_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - uvicorn[standard] (a dagster-webserver dependency) brings httptools
    HttpToolsProtocol = None  # type: ignore[assignment,misc]

#: defaults when a uvicorn.Config carries no limits of ours
DEFAULT_MAX_HEADER_BYTES = 32 << 10
DEFAULT_HEADER_TIMEOUT_S = 10.0


if HttpToolsProtocol is not None:

    class GuardedHttpToolsProtocol(HttpToolsProtocol):  # type: ignore[misc,valid-type]
        """HttpToolsProtocol with the header size and header time limits (read from the uvicorn Config:
        ``h11_max_incomplete_event_size`` and the ``thunderline_header_timeout_s`` attribute)."""

        def __init__(self, config, *args: Any, **kwargs: Any) -> None:
            super().__init__(config, *args, **kwargs)
            self._max_header = int(config.h11_max_incomplete_event_size or DEFAULT_MAX_HEADER_BYTES)
            self._header_timeout_s = float(getattr(config, "thunderline_header_timeout_s", DEFAULT_HEADER_TIMEOUT_S))
            self._in_headers = True
            self._header_bytes = 0  # exact: request line + header names and values of the current request
            self._raw_bytes = 0  # bytes fed while the headers were incomplete (bounds buffering)
            self._tail = b""
            self._header_timer: asyncio.TimerHandle | None = None

        # -- timers
        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(self._header_timeout_s, self._on_header_timeout)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _on_header_timeout(self) -> None:
            self._header_timer = None
            if self._in_headers and self.transport is not None and not self.transport.is_closing():
                self._refuse(408, f"request headers not complete within {self._header_timeout_s:g} s")

        def _refuse(self, status: int, message: str) -> None:
            body = message.encode("ascii", "replace")
            self.transport.write(b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
                                 b"content-length: %d\r\nconnection: close\r\n\r\n%s"
                                 % (status, _REASONS[status], len(body), body))
            self.transport.close()

        # -- protocol
        def connection_made(self, transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self.transport.is_closing():
                return
            if self._in_headers:
                if self._header_timer is None:
                    self._arm()
                self._raw_bytes += len(data)
                if self._raw_bytes > self._max_header and b"\r\n\r\n" not in self._tail + data:
                    self._refuse(431, f"request line and headers exceed {self._max_header} bytes")
                    return
                self._tail = data[-3:]
            super().data_received(data)

        def on_message_begin(self) -> None:
            self._in_headers = True
            self._header_bytes = 0
            super().on_message_begin()

        def on_url(self, url: bytes) -> None:
            self._header_bytes += len(url)
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._header_bytes += len(name) + len(value) + 4
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._in_headers = False
            self._raw_bytes = 0
            self._tail = b""
            self._disarm()
            if self._header_bytes > self._max_header:
                self._refuse(431, f"request line and headers exceed {self._max_header} bytes")
                return
            super().on_headers_complete()

        def on_body(self, body: bytes) -> None:
            if self.cycle is None:  # refused in on_headers_complete
                return
            super().on_body(body)

        def on_message_complete(self) -> None:
            if self.cycle is None:
                return
            super().on_message_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            # the next request's headers are timed from the first byte it sends (keep-alive covers the idle gap)
            self._in_headers = True



def uvicorn_limits(max_header_bytes: int, header_timeout_s: float) -> tuple[dict, dict]:
    """(``uvicorn.Config`` keyword arguments, attributes to set on the Config) applying both limits."""
    if HttpToolsProtocol is None:  # pragma: no cover
        log.warning("httptools not installed: header size limited by h11, no header timeout")
        return {"http": "h11", "h11_max_incomplete_event_size": max_header_bytes}, {}
    return ({"http": GuardedHttpToolsProtocol, "h11_max_incomplete_event_size": max_header_bytes},
            {"thunderline_header_timeout_s": header_timeout_s})


def limited_config(app, max_header_bytes: int, header_timeout_s: float, **kw):
    """A ``uvicorn.Config`` for ``app`` with the limits applied (picklable: the workers of ``serve
    --workers N`` receive it in a spawned process)."""
    import uvicorn

    kwargs, attrs = uvicorn_limits(max_header_bytes, header_timeout_s)
    cfg = uvicorn.Config(app, **kwargs, **kw)
    for k, v in attrs.items():
        setattr(cfg, k, v)
    return cfg
