"""Request bodies → TICK_SCHEMA tables, or the exact rows and fields that break the contract.

Three encodings of the same canonical tick columns (``thunderline.market.canonical``:
``venue, symbol, ts, seq, event_type, bid_px … trade_side, book_bid_px … book_ask_sz``
and optional ``source, source_row``):

* **JSON lines** (``application/x-ndjson``; also ``application/jsonl``,
  ``application/json-lines`` and ``application/json``): one JSON object per line (a JSON
  array is refused at line 1); numbers are JSON numbers,
  ``null`` (or a missing key) means absent; ``book_*`` are arrays of numbers (``null``
  element = empty level). ``NaN``/``Infinity`` literals are rejected. Rows are numbered
  by line (1-based).
* **Canonical CSV** (``text/csv``): exactly the canonical CSV format; rows are numbered
  by line, the header being line 1.
* **Arrow IPC** (``application/vnd.apache.arrow.stream`` or ``…arrow.file``): a table
  whose columns cast safely to the TICK_SCHEMA types; rows numbered from 1.

Guarantees: a body is accepted whole or not at all. A rejected body names, per problem,
the row, the field and the rule (at most :data:`MAX_PROBLEMS` listed, all counted).
The checks are the canonical reader's (types, decimals, book shape, event and side
domains) plus the market validation rules within the request
(:func:`thunderline.market.validation.validate_ticks`: sizes, prices, trades, strictly
increasing ``seq`` per (venue, symbol)), plus what the ingress itself needs: ``ts``
within the months that have partitions, 2010-01 to the current month (``thunderline.timebounds``:
a tick accepted here is never quarantined at ingest for its time; µs — catching seconds and
milliseconds), and venue/symbol names
that are safe as path components and broker subject tokens. ``tenant_id`` is never
read from the payload: a payload that names another tenant is refused (403), one that
names the caller's own tenant is accepted, and every row is stamped with the key's
tenant.
"""

from __future__ import annotations

import io
import json
import re
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.ipc as ipc
import pyarrow.json as pj

from thunderline.contracts import TICK_SCHEMA
from thunderline.timebounds import SUPPORTED_START_US, supported_end_us
from thunderline.identifiers import SYMBOL_RE, SYMBOL_RULE, VENUE_RE, VENUE_RULE, invalid_mask  # noqa: F401 (re-exported)
from thunderline.market.canonical import CANONICAL_COLUMNS, REQUIRED_CSV_COLUMNS, is_canonical_header
from thunderline.market.validation import validate_ticks

MAX_PROBLEMS = 20
TS_MIN_US = SUPPORTED_START_US  # 2010-01-01T00:00:00Z; the end moves with the clock: supported_end_us()

JSON_TYPES = ("application/x-ndjson", "application/jsonl", "application/json-lines", "application/x-jsonlines",
              "application/json")
CSV_TYPES = ("text/csv", "application/csv")
ARROW_STREAM_TYPES = ("application/vnd.apache.arrow.stream",)
ARROW_FILE_TYPES = ("application/vnd.apache.arrow.file",)
CONTENT_TYPES = JSON_TYPES + CSV_TYPES + ARROW_STREAM_TYPES + ARROW_FILE_TYPES

_INT_FIELDS = ("ts", "seq", "event_type", "trade_side", "source_row")
_PRICE_FIELDS = ("bid_px", "ask_px", "trade_px")
_SIZE_FIELDS = ("bid_sz", "ask_sz", "trade_sz")
_FLOAT_FIELDS = _PRICE_FIELDS + _SIZE_FIELDS
_BOOK_FIELDS = ("book_bid_px", "book_bid_sz", "book_ask_px", "book_ask_sz")
_STR_FIELDS = ("venue", "symbol", "source")
_REQUIRED = ("venue", "symbol", "ts", "seq", "event_type")
_ALLOWED = set(CANONICAL_COLUMNS) | {"tenant_id"}
_INT_RE = r"^[+-]?[0-9]{1,18}$"
_DEC_RE = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_LF = pa.list_(pa.float64())

#: What the decoders produce before stamping: TICK_SCHEMA's columns, ints still int64.
_WIRE = pa.schema(
    [pa.field(n, pa.string()) for n in _STR_FIELDS if n != "source"]
    + [pa.field(n, pa.int64()) for n in ("ts", "seq", "event_type")]
    + [pa.field(n, pa.float64()) for n in ("bid_px", "bid_sz", "ask_px", "ask_sz", "trade_px", "trade_sz")]
    + [pa.field("trade_side", pa.int64())]
    + [pa.field(n, _LF) for n in _BOOK_FIELDS]
    + [pa.field("source", pa.string()), pa.field("source_row", pa.int64()), pa.field("tenant_id", pa.string())]
)


@dataclass(frozen=True)
class Problem:
    """One contract violation: 1-based ``row`` (None = the whole body), the field, the rule."""

    row: int | None
    field: str
    reason: str
    value: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "reason": self.reason, "value": self.value}

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row is not None else "body"
        return f"{where}, field {self.field}: {self.reason}" + (f" (got {self.value})" if self.value is not None else "")


class PayloadError(ValueError):
    """The body is refused; ``status`` is the HTTP status to answer with (4xx)."""

    def __init__(self, status: int, code: str, problems: list[Problem], total: int | None = None) -> None:
        self.status = status
        self.code = code
        self.problems = problems[:MAX_PROBLEMS]
        self.total = len(problems) if total is None else total
        super().__init__(str(problems[0]) if problems else code)

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "message": str(self), "problems": [p.as_dict() for p in self.problems],
                "problems_total": self.total, "written": 0}


@dataclass
class Decoded:
    """A validated request: TICK_SCHEMA ``table`` (tenant stamped) and the body's format."""

    table: pa.Table
    format: str
    symbols: list[str] = field(default_factory=list)


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def inflate(body: bytes, encoding: str | None, max_bytes: int) -> bytes:
    """Undo ``Content-Encoding: gzip``/``deflate`` with the decompressed size capped (no zip bombs)."""
    enc = (encoding or "identity").strip().lower()
    if enc in ("", "identity"):
        return body
    if enc not in ("gzip", "deflate"):
        raise PayloadError(415, "unsupported_encoding", [Problem(None, "Content-Encoding", f"{enc!r} is not supported (gzip, deflate)")])
    d = zlib.decompressobj(wbits=47 if enc == "gzip" else 15)
    try:
        out = d.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise PayloadError(400, "bad_encoding", [Problem(None, "Content-Encoding", f"cannot decompress: {exc}")]) from None
    if len(out) > max_bytes or d.unconsumed_tail:
        raise PayloadError(413, "body_too_large", [Problem(None, "*", f"decompressed body exceeds {max_bytes} bytes")])
    return out


def decode_ticks(body: bytes, content_type: str | None, tenant_id: str, *, max_rows: int) -> Decoded:
    """Decode and validate one request body for ``tenant_id``; raises :class:`PayloadError`."""
    mt = media_type(content_type)
    if mt in JSON_TYPES:
        _precheck_lines(body, max_rows, header=0)
        table, rows, fmt = _from_json_lines(body), _line_numbers(body, 0), "jsonl"
    elif mt in CSV_TYPES:
        _precheck_lines(body, max_rows, header=1)
        table, rows, fmt = _from_csv(body), _line_numbers(body, 1), "csv"
    elif mt in ARROW_STREAM_TYPES + ARROW_FILE_TYPES:
        table, fmt = _from_arrow(body, stream=mt in ARROW_STREAM_TYPES), "arrow"
        rows = lambda i: i + 1  # noqa: E731
    else:
        raise PayloadError(415, "unsupported_media_type",
                           [Problem(None, "Content-Type", f"{mt or 'none'!r}: send one of {', '.join(CONTENT_TYPES)}")])
    if table.num_rows == 0:
        raise PayloadError(422, "empty", [Problem(None, "*", "the body holds no ticks")])
    if table.num_rows > max_rows:
        raise PayloadError(413, "too_many_rows", [Problem(None, "*", f"{table.num_rows} rows exceed the limit of {max_rows} per request")])
    _check_tenant(table, tenant_id, rows)
    out = _stamp(table, tenant_id)
    symbols = _all_valid(table, out)
    if symbols is None:  # something is wrong (or unusual): the exact, slower check names the rows
        problems = _check(table, out, rows)
        if problems:
            raise PayloadError(422, "invalid_ticks", problems)
        symbols = sorted(pc.unique(out.column("symbol")).to_pylist())
    return Decoded(out, fmt, symbols)


# --------------------------------------------------------------------------- row numbering
def _precheck_lines(body: bytes, max_rows: int, header: int) -> None:
    if body.count(b"\n") > max_rows + header + 1:
        raise PayloadError(413, "too_many_rows", [Problem(None, "*", f"more than {max_rows} rows (the limit per request)")])


def _line_numbers(body: bytes, header: int):
    """row index → 1-based line. JSON lines skip blank lines, so map through them (only on error)."""
    cache: list[np.ndarray] = []

    def line_of(i: int) -> int:
        if header:
            return i + 2
        if not cache:
            lines = body.split(b"\n")
            cache.append(np.array([n + 1 for n, ln in enumerate(lines) if ln.strip()], dtype=np.int64))
        arr = cache[0]
        return int(arr[i]) if i < arr.shape[0] else i + 1

    return line_of


# --------------------------------------------------------------------------- JSON lines
def _from_json_lines(body: bytes) -> pa.Table:
    if not body.strip():
        raise PayloadError(422, "empty", [Problem(None, "*", "the body holds no ticks")])
    try:
        t = pj.read_json(io.BytesIO(body), read_options=pj.ReadOptions(block_size=max(1 << 20, len(body) + 1)),
                         parse_options=pj.ParseOptions(explicit_schema=_WIRE, unexpected_field_behavior="error"))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        problems = _diagnose_json_lines(body)
        if not problems:
            problems = [Problem(None, "*", "not valid canonical JSON lines (the body as a whole was refused and "
                                           "no single line is at fault: check the encoding is UTF-8 and lines end in \\n)")]
        raise PayloadError(422, "invalid_ticks", problems) from None
    nan_problems = []
    for name in _FLOAT_FIELDS:
        col = t.column(name)
        bad = pc.fill_null(pc.is_nan(col), False).to_numpy(zero_copy_only=False)
        nan_problems += [(int(i), name) for i in np.flatnonzero(bad)]
    for name in _BOOK_FIELDS:
        flat = pc.list_flatten(t.column(name))
        if len(flat):
            bad = pc.fill_null(pc.is_nan(flat), False).to_numpy(zero_copy_only=False)
            if bad.any():
                parents = pc.list_parent_indices(t.column(name)).to_numpy(zero_copy_only=False)
                nan_problems += [(int(i), name) for i in np.unique(parents[bad])]
    if nan_problems:
        lines = _line_numbers(body, 0)
        raise PayloadError(422, "invalid_ticks", [Problem(lines(i), f, "NaN is not a JSON number; use null for absent")
                                                  for i, f in sorted(nan_problems)])
    return t


_JSON_KIND = {**{n: "string" for n in _STR_FIELDS + ("tenant_id",)}, **{n: "integer" for n in _INT_FIELDS},
              **{n: "number" for n in _FLOAT_FIELDS}, **{n: "array of numbers" for n in _BOOK_FIELDS}}


def _json_type_ok(kind: str, v: Any) -> bool:
    if v is None:
        return True
    if kind == "string":
        return isinstance(v, str)
    if kind == "integer":
        return isinstance(v, int) and not isinstance(v, bool) and -(2**63) <= v < 2**63
    if kind == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return isinstance(v, list) and all(x is None or (isinstance(x, (int, float)) and not isinstance(x, bool)) for x in v)


_MAX_JSON_DEPTH = 8


def _nesting_depth(raw: bytes) -> int:
    """Deepest ``[``/``{`` nesting of one line, counted without parsing (vectorised; brackets inside
    strings count too, which can only over-estimate — enough to refuse before a recursive parser runs)."""
    b = np.frombuffer(raw, dtype=np.uint8)
    step = (b == 0x5B).astype(np.int32) + (b == 0x7B) - (b == 0x5D) - (b == 0x7D)
    return int(np.cumsum(step).max(initial=0))


def _diagnose_json_lines(body: bytes) -> list[Problem]:
    """The slow, exact path: find the lines and fields the fast parser refused."""
    out: list[Problem] = []
    for n, raw in enumerate(body.split(b"\n"), start=1):
        if not raw.strip():
            continue
        depth = _nesting_depth(raw)
        if depth > _MAX_JSON_DEPTH:
            out.append(Problem(n, "*", f"JSON nested {depth} levels deep; a tick line is an object of scalars and "
                                       f"arrays of numbers (at most {_MAX_JSON_DEPTH} levels)",
                               raw[:80].decode("utf-8", "replace")))
            continue
        try:
            obj = json.loads(raw, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(f"{c} is not a JSON number")))
        except (ValueError, UnicodeDecodeError) as exc:
            out.append(Problem(n, "*", f"not valid JSON: {exc}", raw[:80].decode("utf-8", "replace")))
            continue
        if not isinstance(obj, dict):
            out.append(Problem(n, "*", f"expected a JSON object, got {type(obj).__name__}"))
            continue
        for k, v in obj.items():
            kind = _JSON_KIND.get(k)
            if kind is None:
                out.append(Problem(n, k, f"unknown field (expected {', '.join(CANONICAL_COLUMNS)})"))
            elif not _json_type_ok(kind, v):
                out.append(Problem(n, k, f"expected {kind} or null", json.dumps(v)[:80]))
        if len(out) >= MAX_PROBLEMS:
            break
    return out


# --------------------------------------------------------------------------- CSV
def _from_csv(body: bytes) -> pa.Table:
    first = body.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", "replace")
    header = first.split(",")
    if not is_canonical_header(header):
        missing = [c for c in REQUIRED_CSV_COLUMNS if c not in header]
        extra = [c for c in header if c not in _ALLOWED]
        raise PayloadError(422, "invalid_ticks", [Problem(1, (missing or extra or ["*"])[0],
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
                raise PayloadError(422, "invalid_ticks", [Problem(lineno, "*", f"expected {n} columns, got {cols}",
                                                                  raw[:80].decode("utf-8", "replace"))]) from None
        raise PayloadError(422, "invalid_ticks", [Problem(None, "*", f"not canonical CSV: {exc}")]) from None
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
        raise PayloadError(422, "invalid_ticks", [Problem(i + 2, f, r, v) for i, f, r, v in problems], len(problems))
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


# --------------------------------------------------------------------------- Arrow IPC
def _from_arrow(body: bytes, *, stream: bool) -> pa.Table:
    try:
        reader = ipc.open_stream(body) if stream else ipc.open_file(body)
        t = reader.read_all()
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        kind = "stream" if stream else "file"
        raise PayloadError(422, "invalid_ticks", [Problem(None, "*", f"not an Arrow IPC {kind}: {exc}")]) from None
    names = set(t.column_names)
    unknown = sorted(names - _ALLOWED)
    missing = [c for c in REQUIRED_CSV_COLUMNS if c not in names]
    if unknown or missing:
        raise PayloadError(422, "invalid_ticks", [Problem(None, c, "unknown column") for c in unknown]
                           + [Problem(None, c, "required column is missing") for c in missing])
    arrays = []
    for f in _WIRE:
        if f.name not in names:
            arrays.append(pa.nulls(t.num_rows, f.type))
            continue
        col = _arr(t.column(f.name))
        try:
            arrays.append(col if col.type == f.type else pc.cast(col, f.type, safe=True))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            raise PayloadError(422, "invalid_ticks", [Problem(None, f.name, f"type {col.type} does not cast to {f.type}: {exc}")]) from None
    return pa.Table.from_arrays(arrays, schema=_WIRE)


# --------------------------------------------------------------------------- common checks
def _check_tenant(t: pa.Table, tenant_id: str, rows) -> None:
    col = t.column("tenant_id")
    if col.null_count == len(col):
        return
    other = pc.and_(pc.is_valid(col), pc.not_equal(col, tenant_id))
    idx = np.flatnonzero(pc.fill_null(other, False).to_numpy(zero_copy_only=False))
    if idx.size:
        i = int(idx[0])
        raise PayloadError(403, "tenant_mismatch", [Problem(rows(i), "tenant_id",
                           f"names tenant {col[i].as_py()!r}; this key belongs to tenant {tenant_id!r} "
                           "(the tenant comes from the key, never from the payload)")], int(idx.size))


def const_strings(value: str, n: int) -> pa.Array:
    """``n`` copies of ``value`` as a string array, built from buffers (no Python objects per row)."""
    b = value.encode("utf-8")
    offsets = np.arange(0, (n + 1) * len(b), len(b) or 1, dtype=np.int32)[: n + 1] if b else np.zeros(n + 1, np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(b * n))


def _arr(col) -> pa.Array:
    """One Array of a column: its only chunk as is (combine_chunks would copy list columns)."""
    if isinstance(col, pa.ChunkedArray):
        return col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()
    return col


def _ints(col) -> tuple[np.ndarray, np.ndarray | None]:
    """int64 values (nulls as 0) and the null mask (None when there are none)."""
    col = _arr(col)
    if col.null_count == 0:
        return col.to_numpy(zero_copy_only=False).astype(np.int64, copy=False), None
    return col.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64, copy=False), \
        col.is_null().to_numpy(zero_copy_only=False)


def _floats(col) -> pa.Array:
    col = _arr(col)
    return col if col.null_count == 0 else col.fill_null(float("nan"))


def _bad_names(col, kind: str) -> np.ndarray:
    """Rows whose (non-null) name breaks the ``kind`` identifier rule (``thunderline.identifiers``)."""
    col = _arr(col)
    bad = invalid_mask(col, kind)
    return bad & col.is_valid().to_numpy(zero_copy_only=False) if col.null_count else bad


def _stamp(t: pa.Table, tenant_id: str) -> pa.Table:
    """TICK_SCHEMA table: tenant from the key, NaN for absent prices/sizes, side 0 when absent."""
    n = t.num_rows
    arrays: dict[str, pa.Array] = {"tenant_id": const_strings(tenant_id, n)}
    for name in ("venue", "symbol"):
        c = _arr(t.column(name))
        arrays[name] = c.fill_null("") if c.null_count else c
    for name in ("ts", "seq"):
        arrays[name] = pa.array(_ints(t.column(name))[0], pa.int64())
    for name in ("event_type", "trade_side"):
        v, _ = _ints(t.column(name))
        arrays[name] = pa.array(np.where((v >= -128) & (v <= 127), v, 127).astype(np.int8), pa.int8())
    for name in _FLOAT_FIELDS:
        arrays[name] = _floats(t.column(name))
    for name in _BOOK_FIELDS:
        c = _arr(t.column(name))
        if c.null_count < n and c.values.null_count:
            c = pa.ListArray.from_arrays(c.offsets, c.values.fill_null(float("nan")), mask=c.is_null())
        arrays[name] = c
    src = _arr(t.column("source"))
    arrays["source"] = const_strings("ingress", n) if src.null_count == n else (src.fill_null("ingress") if src.null_count else src)
    srow = _arr(t.column("source_row"))
    rownum = np.arange(1, n + 1, dtype=np.int64)
    if srow.null_count == n:
        arrays["source_row"] = pa.array(rownum)
    elif srow.null_count:
        v, m = _ints(srow)
        arrays["source_row"] = pa.array(np.where(m, rownum, v))
    else:
        arrays["source_row"] = srow
    return pa.Table.from_arrays([arrays[f.name] for f in TICK_SCHEMA], schema=TICK_SCHEMA)


_VENUE_RX, _SYMBOL_RX = re.compile(VENUE_RE.strip("^$")), re.compile(SYMBOL_RE.strip("^$"))
_BOOK_SIZES, _BOOK_PRICES = ("book_bid_sz", "book_ask_sz"), ("book_bid_px", "book_ask_px")


def _f64s(col) -> np.ndarray:
    return _arr(col).to_numpy(zero_copy_only=False)


def _bad_sizes(x: np.ndarray) -> bool:
    """Any size < 0 or ±inf (NaN = absent is fine): ``fmin``/``fmax`` skip NaN, no temporaries."""
    return x.shape[0] > 0 and bool(np.fmin.reduce(x) < 0 or np.fmax.reduce(x) == np.inf)


def _bad_prices(x: np.ndarray) -> bool:
    return x.shape[0] > 0 and bool(np.fmin.reduce(x) <= 0 or np.fmax.reduce(x) == np.inf)


def _all_valid(wire: pa.Table, t: pa.Table) -> list[str] | None:
    """The sorted symbols when every rule of :func:`_check` holds; None when any may not.

    A handful of whole-column reductions instead of per-rule masks: the common case (a valid
    batch) costs tens of µs. It only ever says "valid" when :func:`_check` would find nothing;
    anything it is unsure about (a problem, mixed book presence) goes to :func:`_check`, which
    names the rows. ``tests/ingress/test_payload.py`` holds the two to agreeing.
    """
    n = t.num_rows
    if any(wire.column(c).null_count for c in _REQUIRED):
        return None
    venues = pc.unique(_arr(t.column("venue"))).to_pylist()
    symbols = pc.unique(_arr(t.column("symbol"))).to_pylist()
    if not all(_VENUE_RX.fullmatch(v) for v in venues) or not all(_SYMBOL_RX.fullmatch(v) for v in symbols):
        return None
    ts = _arr(t.column("ts")).to_numpy()
    if ts.min() < TS_MIN_US or ts.max() >= supported_end_us():
        return None
    et = _arr(t.column("event_type")).to_numpy()
    side = _arr(t.column("trade_side")).to_numpy()
    if et.min() < 0 or et.max() > 2 or side.min() < -1 or side.max() > 1:
        return None
    if any(_bad_sizes(_f64s(t.column(c))) for c in _SIZE_FIELDS):
        return None
    if any(_bad_prices(_f64s(t.column(c))) for c in _PRICE_FIELDS):
        return None
    trade = et == 1
    if trade.any():
        tpx, tsz = _f64s(t.column("trade_px"))[trade], _f64s(t.column("trade_sz"))[trade]
        if np.isnan(tpx).any() or not (tsz > 0).all():
            return None
    books = [_arr(t.column(c)) for c in _BOOK_FIELDS]
    if any(b.null_count < n for b in books):
        if any(b.null_count for b in books):  # some rows without a book: let _check sort it out
            return None
        lens = [pc.list_value_length(b).to_numpy() for b in books]
        if any(not np.array_equal(lens[0], x) for x in lens[1:]):
            return None
        for name, b in zip(_BOOK_FIELDS, books):
            vals = b.flatten().to_numpy(zero_copy_only=False)
            if (_bad_sizes if name in _BOOK_SIZES else _bad_prices)(vals):
                return None
    seq = _arr(t.column("seq")).to_numpy()
    # seq strictly rising per stream makes "ts never below an earlier row's" the same as "ts never below the row before"
    if len(venues) == 1 and len(symbols) == 1:
        if n > 1 and not ((seq[1:] > seq[:-1]).all() and (ts[1:] >= ts[:-1]).all()):
            return None
    else:  # per (venue, symbol) stream: a stable sort keeps each stream's rows in order
        v = pc.dictionary_encode(_arr(t.column("venue"))).indices.to_numpy().astype(np.int64)
        sy = pc.dictionary_encode(_arr(t.column("symbol"))).indices.to_numpy().astype(np.int64)
        code = v * len(symbols) + sy
        order = np.argsort(code, kind="stable")
        c, sq, tt = code[order], seq[order], ts[order]
        same = c[1:] == c[:-1]
        if (same & (sq[1:] <= sq[:-1])).any() or (same & (tt[1:] < tt[:-1])).any():
            return None
    return sorted(symbols)


def _check(wire: pa.Table, t: pa.Table, rows) -> list[Problem]:
    """Every contract rule over the whole table; problems sorted by row."""
    n = wire.num_rows
    found: list[tuple[int, str, str, str | None]] = []

    def mark(mask: np.ndarray, field: str, reason: str, values=None) -> None:
        for i in np.flatnonzero(mask)[:MAX_PROBLEMS]:
            v = None if values is None else values[int(i)]
            v = v.as_py() if isinstance(v, pa.Scalar) else v
            found.append((int(i), field, reason, None if v is None else str(v)[:40]))

    for name in _REQUIRED:
        c = wire.column(name)
        if c.null_count:
            mark(_arr(c).is_null().to_numpy(zero_copy_only=False), name, "required value is missing")
    mark(_bad_names(wire.column("venue"), "venue"), "venue", VENUE_RULE, wire.column("venue"))
    mark(_bad_names(wire.column("symbol"), "symbol"), "symbol", SYMBOL_RULE, wire.column("symbol"))
    ts, ts_null = _ints(wire.column("ts"))
    ts_max = supported_end_us()
    bad_ts = (ts < TS_MIN_US) | (ts >= ts_max)
    mark(bad_ts if ts_null is None else bad_ts & ~ts_null, "ts",
         f"ts must be µs since the Unix epoch, UTC, from 2010-01-01 to the end of the current month "
         f"(< {ts_max}; the months that have partitions — seconds or ms given?)", ts)
    et, et_null = _ints(wire.column("event_type"))
    bad_et = (et < 0) | (et > 2)
    mark(bad_et if et_null is None else bad_et & ~et_null, "event_type", "expected 0 (quote), 1 (trade) or 2 (status)", et)
    side, _ = _ints(wire.column("trade_side"))
    mark((side < -1) | (side > 1), "trade_side", "expected -1, 0 or 1", side)
    books = [_arr(t.column(k)) for k in _BOOK_FIELDS]
    if any(b.null_count < n for b in books):
        nulls = [b.is_null().to_numpy(zero_copy_only=False) for b in books]
        some, every = np.any(nulls, axis=0), np.all(nulls, axis=0)
        mark(some & ~every, "book", "the four book_* lists must be all present or all absent")
        lens = [pc.fill_null(pc.list_value_length(b), -1).to_numpy(zero_copy_only=False) for b in books]
        mark(~some & ((lens[0] != lens[1]) | (lens[0] != lens[2]) | (lens[0] != lens[3])), "book",
             "book_* lists differ in length")
    v = validate_ticks(t, TS_MIN_US, ts_max)  # the market rules; rows already at fault are not repeated
    if v.n_rejected:
        structural = {i for i, *_ in found}
        for i, f, why in [x for x in zip(v.reject_index.tolist(), v.reject_field, v.reject_reason)
                          if x[0] not in structural][:MAX_PROBLEMS]:
            val = t.column(f)[int(i)].as_py() if f in t.column_names else None
            found.append((int(i), f, why, None if val is None else str(val)[:40]))
    found.sort(key=lambda x: (x[0], x[1]))
    return [Problem(rows(i), f, r, v) for i, f, r, v in found]
