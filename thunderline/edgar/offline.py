"""Run edgartools with no network access.

edgartools is used only as a second opinion (tests, benchmark). Some of its code paths
reach for sec.gov (identity checks, ticker tables, taxonomy downloads); without internet
they hang or fail slowly. ``edgartools_offline()`` sets its offline switches and, for
the duration of the block, makes any socket connection fail immediately with
``NetworkBlocked`` so a network attempt is loud, not a hang.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading

_LOCK = threading.RLock()

_ENV = {
    "EDGAR_IDENTITY": "Thunderline offline-parser noreply@example.invalid",
    "EDGAR_USE_LOCAL_DATA": "1",
    "EDGAR_ALLOW_NETWORK_FALLBACK": "0",
    "EDGAR_USE_RICH_LOGGING": "0",
}


class NetworkBlocked(RuntimeError):
    """edgartools tried to open a network connection inside ``edgartools_offline()``."""


def _blocked(*args, **kwargs):
    raise NetworkBlocked(f"network access attempted inside edgartools_offline(): {args[1:] or args}")


@contextlib.contextmanager
def edgartools_offline():
    with _LOCK:
        for k, v in _ENV.items():
            os.environ.setdefault(k, v)
        saved = (socket.socket.connect, socket.socket.connect_ex, socket.create_connection, socket.getaddrinfo)
        socket.socket.connect = _blocked  # type: ignore[method-assign]
        socket.socket.connect_ex = _blocked  # type: ignore[method-assign]
        socket.create_connection = _blocked  # type: ignore[assignment]
        socket.getaddrinfo = _blocked  # type: ignore[assignment]
        try:
            yield
        finally:
            socket.socket.connect, socket.socket.connect_ex, socket.create_connection, socket.getaddrinfo = saved  # type: ignore[method-assign]
