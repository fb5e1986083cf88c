"""PostgreSQL bulk writes: ``COPY … FROM STDIN`` into a staging table, then one set-based upsert.

Why: the server parses ``COPY`` rows several times faster than the same values sent as
statement parameters or array literals, and one ``INSERT … SELECT … ON CONFLICT`` per
batch keeps today's semantics exactly (insert, or replace every non-key column; the
primary key includes ``tenant_id``). The upsert goes through the partitioned parent,
so row-level security's ``WITH CHECK`` still vets every row — the reason rows are not
copied straight into a month partition (partitions carry no policy of their own, and
PostgreSQL refuses ``COPY FROM`` into a table with row-level security).

The staging table is a session-local ``TEMP`` table with the target's column types and
no constraints or indexes, emptied at commit (``ON COMMIT DELETE ROWS``) and truncated
before each batch; it never outlives the connection. Rows are serialised to CSV by
Arrow's writer (C++), every value quoted so an empty string stays distinct from NULL.
"""

from __future__ import annotations

import hashlib
import io
from typing import Any, Mapping, Sequence

import pyarrow as pa
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


def staging_table(cur, table: str, names: Sequence[str]) -> str:
    """A session-local staging table for ``names`` of ``table`` (created once per connection), emptied."""
    tag = hashlib.sha1(",".join(names).encode()).hexdigest()[:10]
    stage = f"tl_stage_{table}_{tag}"[:63]
    cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_q(stage)} ON COMMIT DELETE ROWS AS "
                f"SELECT {', '.join(_q(n) for n in names)} FROM {_q(table)} WITH NO DATA")
    cur.execute(f"TRUNCATE {_q(stage)}")
    return stage


def copy_rows(cur, table: str, names: Sequence[str], payload: bytes) -> None:
    """``COPY table (names) FROM STDIN`` of CSV ``payload`` (as :func:`csv_bytes` writes it)."""
    cur.copy_expert(f"COPY {_q(table)} ({', '.join(_q(n) for n in names)}) FROM STDIN WITH (FORMAT csv)",
                    io.BytesIO(payload))


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
    copy_rows(cur, stage, names, csv_bytes(names, columns))
    target = list(names) + list(extra)
    select = ", ".join([_q(n) for n in names] + [f"%({k})s" for k in extra])
    update = [n for n in names if n not in pk and n not in keep]
    conflict = (f"DO UPDATE SET {', '.join(f'{_q(c)} = excluded.{_q(c)}' for c in update)}" if update
                else "DO NOTHING")
    cur.execute(f"INSERT INTO {_q(table)} ({', '.join(_q(n) for n in target)}) SELECT {select} FROM {_q(stage)} "
                f"ON CONFLICT ({', '.join(_q(c) for c in pk)}) {conflict}", extra)
