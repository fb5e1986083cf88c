"""Storage failures in one line: a full disk must end a command with a reason, not a traceback.

Why a module: SQLite says ``disk I/O error`` or ``database or disk is full``, PostgreSQL
``could not extend file``, the OS ``[Errno 28] No space left on device``, and Dagster
wraps some of them in its own errors. Commands recognise them here and say what
happened and what survives (every committed step; the next run redoes the rest).
"""

from __future__ import annotations

import errno

import sqlalchemy as sa

STORAGE_ERRORS: tuple[type[BaseException], ...] = (OSError, sa.exc.OperationalError)

_FULL_MARKERS = ("no space left on device", "database or disk is full", "disk i/o error", "could not extend file",
                 "errno 28", "enospc", "disk quota exceeded")


def is_storage_full(text_or_exc: str | BaseException) -> bool:
    if isinstance(text_or_exc, OSError) and text_or_exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(text_or_exc).lower()
    return any(m in text for m in _FULL_MARKERS)


def first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc  # SQLAlchemy: the driver's message, not the statement
    text = str(orig).strip().splitlines()
    return f"{type(orig).__name__}: {text[0] if text else ''}".strip()


def storage_error_line(exc: BaseException) -> str:
    """One line: what failed and what to do; committed work is kept."""
    what = "storage full" if is_storage_full(exc) or is_storage_full(first_line(exc)) else "storage failure"
    return f"{what} ({first_line(exc)}); free space or fix the storage and re-run: committed steps are kept, " \
           f"the rest is redone"


def storage_failure(exc: BaseException) -> str | None:
    """The one-line reason if ``exc`` (or an error it wraps) is a storage failure, else None."""
    seen = exc
    for _ in range(6):
        if seen is None:
            break
        if isinstance(seen, STORAGE_ERRORS) or is_storage_full(str(seen)):
            return storage_error_line(seen)
        seen = seen.__cause__ or seen.__context__
    return None


class SchemaMismatch(RuntimeError):
    """The warehouse's tables are not what its migration history says they should be."""
