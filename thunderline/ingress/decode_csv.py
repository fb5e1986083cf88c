"""Canonical CSV → the wire schema: a typed fast path, and an exact path that names every bad cell."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from thunderline.ingress.problems import MAX_PROBLEMS, PayloadError, Problem
from thunderline.ingress.wire import (
    _ALLOWED,
    _BOOK_FIELDS,
    _DEC_RE,
    _FLOAT_FIELDS,
    _INT_FIELDS,
    _INT_RE,
    _LF,
    _STR_FIELDS,
    _WIRE,
    _arr,
)
from thunderline.market.canonical import REQUIRED_CSV_COLUMNS, is_canonical_header


def _from_csv(body: bytes) -> pa.Table:
    first = body.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", "replace")
    header = first.split(",")
    if not is_canonical_header(header):
        missing = [c for c in REQUIRED_CSV_COLUMNS if c not in header]
        extra = [c for c in header if c not in _ALLOWED]
        raise PayloadError("invalid_ticks", [Problem(1, (missing or extra or ["*"])[0],
                                                          f"not a canonical tick header (missing {missing}, unknown {extra})")])
    typed = _csv_typed(body, header)
    if typed is not None:
        return typed
    try:
        t = pcsv.read_csv(
            io.BytesIO(body),
            read_options=pcsv.ReadOptions(block_size=max(1 << 20, len(body) + 1)),
            parse_options=pcsv.ParseOptions(quote_char=False, ignore_empty_lines=False),
            convert_options=pcsv.ConvertOptions(column_types={c: pa.string() for c in header},
                                                strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        n = len(header)
        lines = body.split(b"\n")
        if lines and not lines[-1]:
            lines.pop()
        for lineno, raw in enumerate(lines, start=1):
            cols = raw.rstrip(b"\r").count(b",") + 1
            if raw.strip() and cols != n:
                raise PayloadError("invalid_ticks", [Problem(lineno, "*", f"expected {n} columns, got {cols}",
                                                                  raw[:80].decode("utf-8", "replace"))]) from None
        raise PayloadError("invalid_ticks", [Problem(None, "*", f"not canonical CSV: {exc}")]) from None
    problems: list[tuple[int, str, str, str]] = []
    cols: dict[str, pa.Array] = {}
    for name in header:
        col = t.column(name).combine_chunks()
        if name in _STR_FIELDS or name == "tenant_id":
            cols[name] = pc.if_else(pc.equal(col, ""), None, col) if name in ("source", "tenant_id") else col
        elif name in _INT_FIELDS:
            cols[name] = _csv_ints(name, col, problems)
        elif name in _FLOAT_FIELDS:
            cols[name] = _csv_decimals(name, col, problems)
        elif name in _BOOK_FIELDS:
            cols[name] = _csv_levels(name, col, problems)
    if problems:
        problems.sort()
        raise PayloadError("invalid_ticks", [Problem(i + 2, f, r, v) for i, f, r, v in problems], len(problems))
    n = t.num_rows
    arrays = [cols[f.name] if f.name in cols else pa.nulls(n, f.type) for f in _WIRE]
    return pa.Table.from_arrays(arrays, schema=_WIRE)


_INT_LIMIT = 10**18  # _INT_RE allows at most 18 digits
# the reader trims blanks around numbers and reads 0x hex integers; the contract does neither, so a body
# holding any of these takes the exact path (a space in a source name costs speed, never correctness)
_TYPED_CSV_SPOILERS = (b" ", b"\t", b"\v", b"\f", b"0x", b"0X")


def _csv_typed(body: bytes, header: list[str]) -> pa.Table | None:
    """The common case in one pass: numbers parsed by the CSV reader itself, no per-cell regex.

    Returns None — and the caller takes the exact string path, which names each bad cell —
    whenever this path might accept what that one refuses: anything the reader cannot
    parse, an empty ts/seq/event_type, a NaN or infinity (the reader knows ``nan``/``inf``,
    the contract does not), an integer of 19+ digits, blanks or ``0x`` anywhere. Book columns (``;``-joined levels)
    and names stay strings and go through the same checks as on the exact path.
    """
    if any(b in body for b in _TYPED_CSV_SPOILERS):
        return None
    types = {c: (pa.int64() if c in _INT_FIELDS else pa.float64() if c in _FLOAT_FIELDS else pa.string())
             for c in header}
    try:
        t = pcsv.read_csv(
            io.BytesIO(body),
            read_options=pcsv.ReadOptions(block_size=max(1 << 20, len(body) + 1)),
            parse_options=pcsv.ParseOptions(quote_char=False, ignore_empty_lines=False),
            convert_options=pcsv.ConvertOptions(column_types=types, null_values=[""], strings_can_be_null=False,
                                                quoted_strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None  # not cleanly typed: the exact reader takes it and names the row and field at fault
    problems: list = []
    cols: dict[str, pa.Array] = {}
    for name in header:
        col = _arr(t.column(name))
        if name in _INT_FIELDS:
            if col.null_count and name not in ("trade_side", "source_row"):
                return None
            mm = pc.min_max(col)
            lo, hi = mm["min"].as_py(), mm["max"].as_py()
            if lo is not None and (lo <= -_INT_LIMIT or hi >= _INT_LIMIT):
                return None
            cols[name] = col.fill_null(0) if name == "trade_side" and col.null_count else col
        elif name in _FLOAT_FIELDS:
            x = col.to_numpy(zero_copy_only=False)  # nulls (empty cells) come out as NaN
            if col.null_count != int(np.isnan(x).sum()) or np.isinf(x).any():
                return None
            cols[name] = col
        elif name in _BOOK_FIELDS:
            cols[name] = _csv_levels(name, col, problems)
            if problems:
                return None
        else:
            cols[name] = pc.if_else(pc.equal(col, ""), None, col) if name in ("source", "tenant_id") else col
    n = t.num_rows
    return pa.Table.from_arrays([cols[f.name] if f.name in cols else pa.nulls(n, f.type) for f in _WIRE], schema=_WIRE)


def _bad_rows(mask: pa.Array) -> np.ndarray:
    return np.flatnonzero(~pc.fill_null(mask, True).to_numpy(zero_copy_only=False))


def _csv_ints(name: str, col: pa.Array, problems: list) -> pa.Array:
    empty = pc.equal(col, "")
    ok = pc.or_(empty, pc.match_substring_regex(col, _INT_RE)) if name in ("trade_side", "source_row") \
        else pc.match_substring_regex(col, _INT_RE)
    for i in _bad_rows(ok)[:MAX_PROBLEMS]:
        problems.append((int(i), name, "not an integer", col[int(i)].as_py()[:40]))
    if not pc.all(ok).as_py():
        return pa.nulls(len(col), pa.int64())
    vals = pc.replace_substring_regex(pc.if_else(empty, None, col), r"^\+", "")  # the cast refuses "+5"
    out = pc.cast(vals, pa.int64())
    return pc.fill_null(out, 0) if name == "trade_side" else out


def _csv_decimals(name: str, col: pa.Array, problems: list) -> pa.Array:
    empty = pc.equal(col, "")
    ok = pc.or_(empty, pc.match_substring_regex(col, _DEC_RE))
    for i in _bad_rows(ok)[:MAX_PROBLEMS]:
        problems.append((int(i), name, "not a finite decimal number (empty = absent)", col[int(i)].as_py()[:40]))
    if not pc.all(ok).as_py():
        return pa.nulls(len(col), pa.float64())
    return pc.cast(pc.if_else(empty, None, col), pa.float64())


def _csv_levels(name: str, col: pa.Array, problems: list) -> pa.Array:
    empty = pc.equal(col, "")
    lists = pc.split_pattern(pc.if_else(empty, None, col), ";")
    flat = pc.list_flatten(lists)
    ok = pc.or_(pc.equal(flat, ""), pc.match_substring_regex(flat, _DEC_RE)) if len(flat) else pa.array([], pa.bool_())
    bad = _bad_rows(ok) if len(flat) else np.array([], dtype=np.int64)
    if bad.size:
        parents = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
        for j in bad[:MAX_PROBLEMS]:
            problems.append((int(parents[j]), name, "book level is not a finite decimal number (empty = empty level)",
                             flat[int(j)].as_py()[:40]))
        return pa.nulls(len(col), _LF)
    values = pc.cast(pc.if_else(pc.equal(flat, ""), None, flat), pa.float64()) if len(flat) else pa.array([], pa.float64())
    values = pc.fill_null(values, float("nan"))
    return pa.ListArray.from_arrays(lists.offsets, values, mask=lists.is_null())
