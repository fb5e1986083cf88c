"""Durability helpers for files that must survive a crash or power loss.

Why its own module: the landing area, the content store and the EDGAR poller all
rename a finished file into place and must then fsync its directory, or the rename
itself can be lost; one helper keeps the three on the same rule.
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_path(p: str | Path) -> None:
    """Flush a file's bytes, or a directory's entries (a rename into it is durable once this returns)."""
    fd = os.open(p, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(d: Path) -> None:
    """Flush a directory's entries (a rename into it is durable once this returns)."""
    fsync_path(d)
