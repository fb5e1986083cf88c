"""Validated identifiers: symbols, venues, CIKs, tenants, and path joins that stay under their root.

Why one module: a symbol read from a file becomes a partition key (``YYYY-MM|SYMBOL``), a
directory name in the lake (``symbol=SYMBOL``) and a label in the UI. A value that is
fine for one use and not for another (``../../etc``, ``A|B``, ``BTC/USDT``, a NUL byte) is
a security hole or a silently dropped file, so every reader, the HTTP ingress and every
path join check the same rules here. Guarantees:

* :func:`check_symbol` / :func:`check_venue` / :func:`check_cik` / :func:`check_tenant`
  return the value or raise :class:`InvalidIdentifier` naming the field and the rule —
  never a value that contains a path separator, ``..``, ``|``, whitespace or a control byte;
* :func:`invalid_mask` is the vectorised form for an Arrow column (each distinct value is
  checked once), for readers that build columns;
* :func:`safe_join` joins validated components under a root and refuses any result whose
  resolved path is not inside the resolved root (symlinks included).

The patterns are the ones the HTTP ingress has always enforced, so a file and an HTTP
batch with the same symbol are accepted or refused alike.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# Bodies without anchors; Python matches them with fullmatch (``$`` would accept a trailing
# newline), Arrow (RE2) with ``^…$``.
_VENUE_BODY = r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}"
_SYMBOL_BODY = r"[A-Za-z0-9^][A-Za-z0-9._:^=+-]{0,63}"
_TENANT_BODY = r"[a-z0-9][a-z0-9_-]{0,62}"
_MONTH_BODY = r"[0-9]{4}-(?:0[1-9]|1[0-2])"

VENUE_RE = f"^{_VENUE_BODY}$"
SYMBOL_RE = f"^{_SYMBOL_BODY}$"
TENANT_RE = f"^{_TENANT_BODY}$"

VENUE_RULE = "venue must be 1-32 chars of A-Z a-z 0-9 . _ - (starting with a letter or digit)"
SYMBOL_RULE = "symbol must be 1-64 chars of A-Z a-z 0-9 . _ : ^ = + - (no '/', '|', spaces or control bytes)"
TENANT_RULE = "tenant must be 1-63 chars of a-z 0-9 _ - (starting with a letter or digit)"
CIK_RULE = "CIK must be an integer 1..9999999999"
MONTH_RULE = "month must be YYYY-MM"

_RX = {
    "venue": (re.compile(_VENUE_BODY), VENUE_RULE, VENUE_RE),
    "symbol": (re.compile(_SYMBOL_BODY), SYMBOL_RULE, SYMBOL_RE),
    "tenant": (re.compile(_TENANT_BODY), TENANT_RULE, TENANT_RE),
    "month": (re.compile(_MONTH_BODY), MONTH_RULE, f"^{_MONTH_BODY}$"),
}
CIK_MAX = 9_999_999_999


class InvalidIdentifier(ValueError):
    """An identifier that breaks its rule: ``field`` (symbol, venue, cik, tenant, month) and ``rule``."""

    def __init__(self, field: str, value: object, rule: str) -> None:
        self.field, self.value, self.rule = field, value, rule
        super().__init__(f"{field}: {rule}: {_show(value)}")


class UnsafePath(ValueError):
    """A path that would resolve outside the root it must stay under."""


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _check(kind: str, value: object) -> str:
    rx, rule, _ = _RX[kind]
    if not isinstance(value, str) or not rx.fullmatch(value):
        raise InvalidIdentifier(kind, value, rule)
    return value


def check_symbol(value: object) -> str:
    return _check("symbol", value)


def check_venue(value: object) -> str:
    return _check("venue", value)


def check_tenant(value: object) -> str:
    return _check("tenant", value)


def check_month(value: object) -> str:
    return _check("month", value)


def is_symbol(value: object) -> bool:
    return isinstance(value, str) and _RX["symbol"][0].fullmatch(value) is not None


def check_cik(value: object) -> int:
    """A CIK as an int; accepts an int or a string of up to 10 digits (leading zeros allowed)."""
    if isinstance(value, bool):
        raise InvalidIdentifier("cik", value, CIK_RULE)
    if isinstance(value, str):
        if not re.fullmatch(r"[0-9]{1,10}", value):
            raise InvalidIdentifier("cik", value, CIK_RULE)
        value = int(value)
    if not isinstance(value, (int, np.integer)) or not 1 <= int(value) <= CIK_MAX:
        raise InvalidIdentifier("cik", value, CIK_RULE)
    return int(value)


def rule_of(kind: str) -> str:
    return _RX[kind][1]


def invalid_mask(col: pa.Array | pa.ChunkedArray, kind: str) -> np.ndarray:
    """Rows of a string column whose value breaks ``kind``'s rule (null counts as invalid).

    Each distinct value is checked once with the Python pattern (the same one
    :func:`check_symbol` uses), so a column of one symbol costs one match.
    """
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    n = len(col)
    if n == 0:
        return np.zeros(0, dtype=bool)
    rx = _RX[kind][0]
    uniq = pc.unique(col).to_pylist()
    bad = [v for v in uniq if v is not None and not rx.fullmatch(v)]
    out = np.zeros(n, dtype=bool)
    if bad:
        out |= pc.fill_null(pc.is_in(col, pa.array(bad, col.type)), False).to_numpy(zero_copy_only=False)
    if col.null_count:
        out |= col.is_null().to_numpy(zero_copy_only=False)
    return out


def safe_join(root: str | Path, *parts: str) -> Path:
    """``root / parts...`` after checking that the resolved result stays inside the resolved root.

    Each part must be a single, non-empty path component (no separator, not ``.``/``..``,
    no NUL); the final check also catches a symlink inside the tree pointing elsewhere.
    """
    base = Path(root)
    for part in parts:
        if (not isinstance(part, str) or not part or part in (".", "..") or "/" in part or "\\" in part
                or "\x00" in part or os.sep in part):
            raise UnsafePath(f"{_show(part)} is not a single path component under {base}")
    out = base.joinpath(*parts)
    real_root = os.path.realpath(base)
    real = os.path.realpath(out)
    if os.path.commonpath([real_root, real]) != real_root:
        raise UnsafePath(f"{out} resolves to {real}, outside {real_root}")
    return out
