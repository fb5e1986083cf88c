"""The cold EDGAR batch file: a month's ``raw_edgar_docs`` rows as one zstd Parquet file, written and read
in bounded chunks.

Why chunks: a tenant-month of documents (sections text and XBRL facts as JSON) can be far larger than a
worker's memory, so the batch is written one row group per chunk of rows fetched from the warehouse and
read back one row group at a time — tiering, verifying, restoring and rebuilding windows hold at most one
chunk of documents. Every column is stored (JSON as its canonical text), so a row read back equals the row
written; :func:`rows_digest` is the order-sensitive digest of rows that lets a writer check a file it can
no longer hold in memory against what it wrote.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa

from thunderline.durable_files import fsync_path
from thunderline.faults import fault_point
from thunderline.retention.coldstore import ColdStore
from thunderline.store.schema import JSONType, raw_edgar_docs

TABLE = "raw_edgar_docs"
_JSON = [c.name for c in raw_edgar_docs.columns if c.type is JSONType or isinstance(c.type, sa.JSON)]


def _arrow_type(col: sa.Column) -> pa.DataType:
    if col.name in _JSON:
        return pa.string()
    if isinstance(col.type, (sa.BigInteger, sa.Integer)):
        return pa.int64()
    if isinstance(col.type, sa.DateTime):
        return pa.timestamp("us", tz="UTC")
    return pa.string()


SCHEMA = pa.schema([pa.field(c.name, _arrow_type(c)) for c in raw_edgar_docs.columns if c.name != "tenant_id"])
#: the columns a row's identity is checked on (``inserted_at`` is when the warehouse stored it, not content)
COMPARED = [n for n in SCHEMA.names if n != "inserted_at"]


def to_table(rows: list[dict]) -> pa.Table:
    """Warehouse rows as an Arrow table of :data:`SCHEMA` (JSON columns as their sorted-key text)."""
    cols = {f.name: [json.dumps(r[f.name], sort_keys=True) if f.name in _JSON and r[f.name] is not None
                     else r[f.name] for r in rows] for f in SCHEMA}
    return pa.table(cols, schema=SCHEMA)


def decode(table: pa.Table) -> list[dict]:
    """Rows of a batch (or of one of its row groups) as warehouse rows: JSON columns parsed."""
    rows = table.to_pylist()
    for r in rows:
        for name in _JSON:
            if name in r:
                r[name] = json.loads(r[name]) if r[name] is not None else None
    return rows


def rows_digest(digest, rows: Iterable[dict]) -> None:
    """Feed ``rows`` (warehouse rows or decoded batch rows, in order) into ``digest``: every compared column."""
    for r in rows:
        digest.update(json.dumps([r[k] for k in COMPARED], sort_keys=True, default=str).encode())
        digest.update(b"\n")


class BatchWriter:
    """Stream chunks of rows into ``path`` of ``cold`` (one row group each); counts and digests what it wrote."""

    def __init__(self, cold: ColdStore, path: str) -> None:
        self.cold, self.path = cold, path
        self.rows, self.row_groups, self.peak_rows = 0, 0, 0
        self.ids = hashlib.sha256()  # of the ids, in order: the batch's name
        self.content = hashlib.sha256()  # rows_digest of every row written
        self._out = cold.fs.open_output_stream(path)
        self._writer = pq.ParquetWriter(self._out, SCHEMA, compression="zstd")

    def write(self, rows: list[dict]) -> None:
        self._writer.write_table(to_table(rows), row_group_size=max(len(rows), 1))
        rows_digest(self.content, rows)
        for r in rows:
            self.ids.update(r["id"].encode() + b"\n")
        self.rows += len(rows)
        self.row_groups += 1
        self.peak_rows = max(self.peak_rows, len(rows))
        fault_point("retention.edgar_writing")  # a chunk written to the batch's temporary, not moved yet

    def close(self) -> None:
        self._writer.close()
        self._out.close()
        if self.cold.is_local:
            fsync_path(self.path)

    def abort(self) -> None:
        try:
            self._writer.close()
            self._out.close()
        except (OSError, pa.ArrowException):
            pass


def open_batch(cold: ColdStore, path: str) -> pq.ParquetFile:
    return pq.ParquetFile(cold.fs.open_input_file(path))


def iter_rows(cold: ColdStore, path: str, columns: list[str] | None = None) -> Iterator[list[dict]]:
    """The batch's rows, one row group at a time (``columns``: only those)."""
    pf = open_batch(cold, path)
    for i in range(pf.num_row_groups):
        yield decode(pf.read_row_group(i, columns=columns))


def content_digest(cold: ColdStore, path: str) -> tuple[int, str]:
    """(rows, :func:`rows_digest`) of the batch as stored, read a row group at a time."""
    digest, n = hashlib.sha256(), 0
    for rows in iter_rows(cold, path):
        rows_digest(digest, rows)
        n += len(rows)
    return n, digest.hexdigest()


def matching_rows(cold: ColdStore, path: str, ciks: list[int], before_us: int) -> list[dict]:
    """The batch's rows of ``ciks`` accepted before ``before_us`` (filtered a row group at a time)."""
    pf, wanted, out = open_batch(cold, path), pa.array(sorted(set(ciks)), pa.int64()), []
    for i in range(pf.num_row_groups):
        keys = pf.read_row_group(i, columns=["cik", "accepted_at"])
        mask = pc.and_(pc.is_in(keys["cik"], value_set=wanted), pc.less(keys["accepted_at"], before_us))
        if pc.any(mask).as_py():
            out += decode(pf.read_row_group(i).filter(mask))
    return out
