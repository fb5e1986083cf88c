"""Columnar reader of canonical CSV: same ticks and rejects as ``canonical.iter_canonical_csv_rows``.

The header is matched by name (any order, optional ``source``/``source_row``/``tenant_id``, which are
not read: a tick's source is this file and line). Each block of lines is read by one compiled pass
over its bytes (:mod:`thunderline.market.csv_tokens`: the scalars and the ``;``-separated ``book_*``
lists split, checked against the row rule's grammar and converted exactly), then checked column-wise.
Every row a check flags is judged by the exact row rule
(:func:`thunderline.market.canonical.canonical_row`); see :mod:`thunderline.market.columnar_lines`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa

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
from thunderline.market.columnar_lines import LineFormat, iter_line_format
from thunderline.market.csv_tokens import DEC, DICT, EMPTY_OK, INT, LIST, PRICE, SKIP, Layout, Tokens

_INTS = ("ts", "seq", "event_type", "trade_side")


def layout(header: list[str]) -> Layout:
    """The tokenizer's roles for a canonical header: empty scalars allowed where the row rule allows them."""
    roles, rules = [], []
    for h in header:
        role, rule = SKIP, 0
        if h in ("venue", "symbol"):
            role = DICT
        elif h in _INTS:
            role, rule = INT, EMPTY_OK if h == "trade_side" else 0
        elif h in _PRICE_FIELDS + _SIZE_FIELDS:
            role, rule = DEC, EMPTY_OK | (PRICE if h in _PRICE_FIELDS else 0)
        elif h in _BOOK_FIELDS:
            role, rule = LIST, PRICE if h.endswith("_px") else 0
        roles.append(role)
        rules.append(rule)
    return Layout(tuple(roles), tuple(rules))


def _builder(header: list[str]):
    """``build(tokens) -> (columns, flagged)`` for this header's column order."""
    slot = {}
    for role in (DICT, INT, DEC, LIST):
        slot.update({h: j for j, h in enumerate(h for h, r in zip(header, layout(header).roles) if r == role)})

    def build(t: Tokens) -> tuple[dict, np.ndarray]:
        cols: dict = {}
        bad = t.bad.copy()
        for name in ("venue", "symbol"):
            j = slot[name]
            codes = t.codes[j]
            cols[name] = pa.array(t.dicts[j], pa.string()).take(pa.array(codes))
            bad |= np.array([v == "" for v in t.dicts[j]] or [False])[codes]
        for name in _INTS:
            cols[name] = t.ints[slot[name]]
        bad |= ~np.isin(cols["event_type"], _EVENTS) | ~np.isin(cols["trade_side"], (-1, 0, 1))
        for name in _PRICE_FIELDS + _SIZE_FIELDS:
            cols[name] = t.decs[slot[name]]
        lens = np.stack([t.lens[slot[k]] for k in _BOOK_FIELDS])
        present = lens > 0
        bad |= present.any(axis=0) & ~present.all(axis=0)
        bad |= present.all(axis=0) & (lens.min(axis=0) != lens.max(axis=0))
        cols["book"] = tuple(t.lists[slot[k]] for k in _BOOK_FIELDS)
        return cols, bad

    return build


def iter_canonical_csv(path: Path, tenant_id: str, chunk_rows: int) -> Iterator[TickChunk]:
    """Stream a canonical CSV as TickChunks (columnar; see the module docstring)."""
    header = canonical_header(path)
    if len(set(header)) != len(header):  # a repeated column: the row rule's "last one wins" applies
        return iter_canonical_csv_rows(path, tenant_id, chunk_rows)
    fmt = LineFormat(header, {}, _builder(header), canonical_row(header), csv_quotes=False, layout=layout(header))
    return iter_line_format(path, tenant_id, chunk_rows, fmt)
