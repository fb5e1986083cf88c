"""Columnar reader of canonical CSV: same ticks and rejects as ``canonical.iter_canonical_csv_rows``.

The header is matched by name (any order, optional ``source``/``source_row``/``tenant_id``, which are
not read: a tick's source is this file and line). Scalars are typed by ``pyarrow.csv``; the
``book_*`` fields (``;``-separated decimals) are split and converted column-wise, each element
checked against the row rule's decimal grammar. Every row a check flags is judged by the exact
row rule (:func:`thunderline.market.canonical.canonical_row`); see
:mod:`thunderline.market.columnar_lines`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from thunderline.market._build import TickChunk
from thunderline.market.canonical import (
    _BOOK_FIELDS,
    _EVENTS,
    _PRICE_FIELDS,
    _SIZE_FIELDS,
    canonical_header,
    canonical_row,
    iter_canonical_csv_rows,
)
from thunderline.market.columnar_lines import LineFormat, column, decimal, iter_line_format, nulls

DECIMAL_RE = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"  # _build._DEC_RE
_INTS = ("ts", "seq", "event_type", "trade_side")


def book_lists(t: pa.Table, name: str, *, price: bool) -> tuple[pa.ListArray, np.ndarray, np.ndarray, np.ndarray]:
    """A ``book_*`` text column as list<float64> (an empty field: null; an empty element: NaN), and per
    row: present, number of levels, rule broken (an element not a finite decimal, or of the wrong sign)."""
    text = t.column(name).combine_chunks()
    present = pc.not_equal(text, "").to_numpy(zero_copy_only=False)
    parts = pc.split_pattern(text, ";")
    lens = np.where(present, pc.list_value_length(parts).to_numpy(zero_copy_only=False), 0).astype(np.int32)
    parent = pc.list_parent_indices(parts).to_numpy()
    vals = pc.list_flatten(parts)
    mine = present[parent]
    vals, parent = vals.filter(pa.array(mine)), parent[mine]
    empty = pc.equal(vals, "").to_numpy(zero_copy_only=False)
    x, ok = _decimals(vals, empty)
    with np.errstate(invalid="ignore"):
        wrong = ~empty & (~ok | ~np.isfinite(x) | ((x <= 0) if price else (x < 0)))
    x[empty] = np.nan
    bad = np.zeros(t.num_rows, bool)
    bad[parent[wrong]] = True
    offsets = np.zeros(t.num_rows + 1, np.int32)
    np.cumsum(lens, out=offsets[1:])
    lists = pa.ListArray.from_arrays(pa.array(offsets), pa.array(x), mask=pa.array(~present))
    return lists, present, lens, bad


def _decimals(vals: pa.Array, empty: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Text elements as float64 and which of them follow the decimal grammar.

    Arrow's string→double cast reads what the grammar reads, plus nan/inf spellings (caught by the
    caller's finiteness check) and nothing with spaces, underscores or hex; so when the cast of every
    non-empty element succeeds, the regex is not needed. Otherwise the regex picks the elements."""
    try:
        x = pc.cast(pc.if_else(pa.array(empty), "1", vals), pa.float64()).to_numpy(zero_copy_only=False).copy()
        return x, np.ones(len(vals), bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        ok = pc.match_substring_regex(vals, DECIMAL_RE).to_numpy(zero_copy_only=False)
        x = pc.cast(pc.if_else(pa.array(ok), vals, "1"), pa.float64()).to_numpy(zero_copy_only=False).copy()
        return x, ok


def _build(t: pa.Table) -> tuple[dict, np.ndarray]:
    cols: dict = {}
    bad = np.zeros(t.num_rows, bool)
    for name in ("venue", "symbol"):
        cols[name] = t.column(name).combine_chunks()
        bad |= pc.equal(cols[name], "").to_numpy(zero_copy_only=False)
    for name in ("ts", "seq", "event_type"):
        cols[name] = column(t, name, 0)
        bad |= nulls(t, name)
    bad |= ~np.isin(cols["event_type"], _EVENTS)
    cols["trade_side"] = column(t, "trade_side", 0)
    bad |= ~np.isin(cols["trade_side"], (-1, 0, 1))
    for name in _PRICE_FIELDS + _SIZE_FIELDS:
        cols[name], b = decimal(t, name, price=name in _PRICE_FIELDS, empty=np.nan)
        bad |= b
    books = [book_lists(t, k, price=k.endswith("_px")) for k in _BOOK_FIELDS]
    present = np.stack([b[1] for b in books])
    lens = np.stack([b[2] for b in books])
    bad |= np.any([b[3] for b in books], axis=0)
    bad |= present.any(axis=0) & ~present.all(axis=0)
    bad |= present.all(axis=0) & (lens.min(axis=0) != lens.max(axis=0))
    cols["book"] = tuple(b[0] for b in books)
    return cols, bad


def iter_canonical_csv(path: Path, tenant_id: str, chunk_rows: int) -> Iterator[TickChunk]:
    """Stream a canonical CSV as TickChunks (columnar; see the module docstring)."""
    header = canonical_header(path)
    if len(set(header)) != len(header):  # a repeated column: the row rule's "last one wins" applies
        return iter_canonical_csv_rows(path, tenant_id, chunk_rows)
    types = {h: pa.int64() for h in header if h in _INTS}
    types.update({h: pa.float64() for h in header if h in _PRICE_FIELDS + _SIZE_FIELDS})
    types.update({h: pa.string() for h in header if h not in types})
    fmt = LineFormat(header, types, _build, canonical_row(header), csv_quotes=False)
    return iter_line_format(path, tenant_id, chunk_rows, fmt)
