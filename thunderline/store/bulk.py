"""PostgreSQL bulk writes: ``COPY … FROM STDIN`` into a staging table, then one set-based upsert.

Why: the server parses ``COPY`` rows several times faster than the same values sent as
statement parameters or array literals, and one ``INSERT … SELECT … ON CONFLICT`` per
batch keeps today's semantics exactly (insert, or replace every non-key column; the
primary key includes ``tenant_id``). The upsert goes through the partitioned parent,
so row-level security's ``WITH CHECK`` still vets every row — the reason rows are not
copied straight into a month partition (every partition carries the tenant policy too,
and PostgreSQL refuses ``COPY FROM`` into a table with row-level security).

The staging table is a session-local ``TEMP`` table with the target's column types and
no constraints or indexes, emptied at commit (``ON COMMIT DELETE ROWS``) and truncated
before each batch; it never outlives the connection. Rows are serialised in bulk by
Arrow (C++): in COPY's text format when every column is a string or a number (the
server parses it ~25 % cheaper than CSV, whose quoting doubles every ``"`` of a JSON
document — measured on decision traces), else as CSV with every value quoted so an
empty string stays distinct from NULL. Both carry exactly the same values.
"""

from __future__ import annotations

import hashlib
import io
from typing import Any, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

_CSV = pacsv.WriteOptions(include_header=False, quoting_style="all_valid", batch_size=1 << 16)


def _q(ident: str) -> str:
    return '"' + ident.replace('"', '""') + '"'


def csv_bytes(names: Sequence[str], columns: Mapping[str, Any]) -> bytes:
    """The rows as CSV for ``COPY … (FORMAT csv)``: columns may be lists or Arrow arrays."""
    arrays = [c if isinstance(c, (pa.Array, pa.ChunkedArray)) else pa.array(c) for c in (columns[n] for n in names)]
    sink = io.BytesIO()
    pacsv.write_csv(pa.Table.from_arrays(arrays, names=list(names)), sink, _CSV)
    return sink.getvalue()


_TEXT_ESCAPES = ((b"\\", "\\\\"), (b"\t", "\\t"), (b"\n", "\\n"), (b"\r", "\\r"))


def _arrow(column: Any) -> pa.Array:
    a = column if isinstance(column, (pa.Array, pa.ChunkedArray)) else pa.array(column)
    return a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a


def _has_special(a: pa.Array) -> bool:
    """Whether any value holds a byte text format escapes; memchr over the values buffer (an Arrow regex
    over every value cost as much as the rest of the encoding)."""
    data = a.buffers()[2] if len(a) else None
    if data is None:
        return False
    raw = data.to_pybytes()  # beyond the values: a false alarm only costs the (correct) escaping passes
    return any(raw.find(c) >= 0 for c, _ in _TEXT_ESCAPES)


def _text_cell(a: pa.Array) -> pa.Array | None:
    """A column as COPY text-format cells (escaped, NULL as ``\\N``); None for a type it does not carry."""
    t = a.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        if _has_special(a):
            for raw, esc in _TEXT_ESCAPES:  # the backslash first, so later escapes are not doubled
                a = pc.replace_substring(a, raw.decode(), esc)
    elif pa.types.is_null(t):
        a = a.cast(pa.string())
    elif pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t):
        a = a.cast(pa.string())  # the same formatting Arrow's CSV writer uses
    else:
        return None
    return pc.fill_null(a.cast(pa.large_string()), "\\N")


def copy_payload(names: Sequence[str], columns: Mapping[str, Any]) -> tuple[str, bytes]:
    """(format, rows) for ``COPY … FROM STDIN WITH (FORMAT …)``: text format where every column allows, else CSV."""
    arrays = [_arrow(columns[n]) for n in names]
    cells = [_text_cell(a) for a in arrays]
    if not arrays or any(c is None for c in cells):
        return "csv", csv_bytes(names, dict(zip(names, arrays)))
    lines = pc.binary_join_element_wise(*cells, pa.scalar("\t", pa.large_string()))  # no null cells: none dropped
    lines = pc.binary_join_element_wise(lines, pa.scalar("", pa.large_string()), pa.scalar("\n", pa.large_string()))
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset:lines.offset + len(lines) + 1]
    return "text", lines.buffers()[2].to_pybytes()[offsets[0]:offsets[-1]]


def staging_table(cur, table: str, names: Sequence[str]) -> str:
    """A session-local staging table for ``names`` of ``table`` (created once per connection), emptied."""
    tag = hashlib.sha1(",".join(names).encode()).hexdigest()[:10]
    stage = f"tl_stage_{table}_{tag}"[:63]
    cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_q(stage)} ON COMMIT DELETE ROWS AS "
                f"SELECT {', '.join(_q(n) for n in names)} FROM {_q(table)} WITH NO DATA")
    cur.execute(f"TRUNCATE {_q(stage)}")
    return stage


def copy_rows(cur, table: str, names: Sequence[str], payload: bytes, fmt: str = "csv") -> None:
    """``COPY table (names) FROM STDIN`` of ``payload`` in ``fmt`` (as :func:`copy_payload` or :func:`csv_bytes`
    writes it)."""
    # one read of the whole payload: psycopg2 takes the GIL back for every ``size`` bytes it reads,
    # and with the default 8 KB a 10 MB batch waited ~1,200 times for the deciding thread to let go
    cur.copy_expert(f"COPY {_q(table)} ({', '.join(_q(n) for n in names)}) FROM STDIN WITH (FORMAT {fmt})",
                    io.BytesIO(payload), size=max(len(payload), 8192))


def copy_upsert(cur, table: str, names: Sequence[str], columns: Mapping[str, Any], pk: Sequence[str],
                extra: Mapping[str, Any] | None = None, keep: Sequence[str] = ("inserted_at",)) -> None:
    """Stage ``columns`` with COPY and upsert them into ``table`` by ``pk`` in one statement.

    ``extra``: columns with one value for every row (e.g. ``inserted_at``), bound as
    parameters of the upsert rather than repeated in the payload. On conflict every
    column of ``names`` outside ``pk`` and ``keep`` is replaced (``inserted_at`` records
    the first write, as :meth:`TenantSession.upsert` keeps it).
    """
    extra = dict(extra or {})
    stage = staging_table(cur, table, names)
    fmt, payload = copy_payload(names, columns)
    copy_rows(cur, stage, names, payload, fmt)
    target = list(names) + list(extra)
    select = ", ".join([_q(n) for n in names] + [f"%({k})s" for k in extra])
    update = [n for n in names if n not in pk and n not in keep]
    conflict = (f"DO UPDATE SET {', '.join(f'{_q(c)} = excluded.{_q(c)}' for c in update)}" if update
                else "DO NOTHING")
    cur.execute(f"INSERT INTO {_q(table)} ({', '.join(_q(n) for n in target)}) SELECT {select} FROM {_q(stage)} "
                f"ON CONFLICT ({', '.join(_q(c) for c in pk)}) {conflict}", extra)
