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

import zlib
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from thunderline.ingress.decode_arrow import _from_arrow
from thunderline.ingress.decode_csv import _from_csv
from thunderline.ingress.decode_json import _from_json_lines
from thunderline.ingress.payload_checks import _all_valid, _check, _check_tenant, _stamp
from thunderline.ingress.problems import MAX_PROBLEMS, PayloadError, Problem, line_numbers, precheck_lines
from thunderline.ingress.wire import ARROW_FILE_TYPES, ARROW_STREAM_TYPES, CONTENT_TYPES, CSV_TYPES, JSON_TYPES

__all__ = ["CONTENT_TYPES", "MAX_PROBLEMS", "Decoded", "PayloadError", "Problem", "decode_ticks", "inflate",
           "media_type"]


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
        raise PayloadError("unsupported_encoding", [Problem(None, "Content-Encoding", f"{enc!r} is not supported (gzip, deflate)")])
    d = zlib.decompressobj(wbits=47 if enc == "gzip" else 15)
    try:
        out = d.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise PayloadError("bad_encoding", [Problem(None, "Content-Encoding", f"cannot decompress: {exc}")]) from None
    if len(out) > max_bytes or d.unconsumed_tail:
        raise PayloadError("body_too_large", [Problem(None, "*", f"decompressed body exceeds {max_bytes} bytes")])
    return out


def decode_ticks(body: bytes, content_type: str | None, tenant_id: str, *, max_rows: int) -> Decoded:
    """Decode and validate one request body for ``tenant_id``; raises :class:`PayloadError`."""
    mt = media_type(content_type)
    if mt in JSON_TYPES:
        precheck_lines(body, max_rows, header=0)
        table, rows, fmt = _from_json_lines(body), line_numbers(body, 0), "jsonl"
    elif mt in CSV_TYPES:
        precheck_lines(body, max_rows, header=1)
        table, rows, fmt = _from_csv(body), line_numbers(body, 1), "csv"
    elif mt in ARROW_STREAM_TYPES + ARROW_FILE_TYPES:
        table, fmt = _from_arrow(body, stream=mt in ARROW_STREAM_TYPES), "arrow"
        rows = lambda i: i + 1  # noqa: E731
    else:
        raise PayloadError("unsupported_media_type",
                           [Problem(None, "Content-Type", f"{mt or 'none'!r}: send one of {', '.join(CONTENT_TYPES)}")])
    if table.num_rows == 0:
        raise PayloadError("empty", [Problem(None, "*", "the body holds no ticks")])
    if table.num_rows > max_rows:
        raise PayloadError("too_many_rows", [Problem(None, "*", f"{table.num_rows} rows exceed the limit of {max_rows} per request")])
    _check_utf8(table, rows)
    _check_tenant(table, tenant_id, rows)
    out = _stamp(table, tenant_id)
    symbols = _all_valid(table, out)
    if symbols is None:  # something is wrong (or unusual): the exact, slower check names the rows
        problems = _check(table, out, rows)
        if problems:
            raise PayloadError("invalid_ticks", problems)
        symbols = sorted(pc.unique(out.column("symbol")).to_pylist())
    return Decoded(out, fmt, symbols)


def _check_utf8(table: pa.Table, rows) -> None:
    """Text columns must be valid UTF-8: the JSON and Arrow readers pass bytes through unchecked, and an
    invalid string would fail later, far from the row (full validation only costs a scan of the text)."""
    for name in table.column_names:
        col = table.column(name)
        if not pa.types.is_string(col.type):
            continue
        try:
            col.validate(full=True)
            continue
        except pa.ArrowInvalid:
            pass
        problems = []
        start = 0
        for chunk in (col.chunks if isinstance(col, pa.ChunkedArray) else [col]):
            for i, v in enumerate(chunk.cast(pa.binary()).to_pylist()):  # the slow path names the rows
                try:
                    None if v is None else v.decode("utf-8")
                except UnicodeDecodeError:
                    problems.append(Problem(rows(start + i), name, "text is not valid UTF-8"))
            start += len(chunk)
        raise PayloadError("invalid_ticks", problems or [Problem(None, name, "text is not valid UTF-8")])
