"""Columnar reader of canonical CSV: same ticks and rejects as ``canonical.iter_canonical_csv_rows``.

The header is matched by name (any order, optional ``source``/``source_row``/``tenant_id``, which are
not read: a tick's source is this file and line). Scalars are typed by ``pyarrow.csv``; the
``book_*`` fields (``;``-separated decimals) are split, checked against the row rule's decimal
grammar and converted in one compiled pass over the column's bytes
(:mod:`thunderline.market.decimal_lists`). Every row a check flags is judged by the exact
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
from thunderline.market.decimal_lists import decimal_lists

_INTS = ("ts", "seq", "event_type", "trade_side")


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
    books = [decimal_lists(t.column(k), price=k.endswith("_px")) for k in _BOOK_FIELDS]
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
