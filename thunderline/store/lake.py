"""The lake: tick batches as Parquet files, hive-partitioned ``month=YYYY-MM/symbol=SYM/``.

Why files and not rows: a month of ticks is hundreds of millions of rows; Parquet
keeps them columnar and compressed, and one immutable file per ingested batch
(named by the batch's content id) makes re-ingestion a replace, not an append.
Writes go to a temporary name and are renamed into place, so a reader never sees
half a file.

Every path is built by :meth:`Lake.partition_dir`, which accepts only a valid tenant,
``YYYY-MM`` month and symbol (``thunderline.identifiers``) and refuses a result that resolves
outside the lake root — so neither a write nor :meth:`Lake.clear_partition` can reach a file
that is not one of the partition's own batches.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from thunderline.identifiers import check_month, check_symbol, check_tenant, safe_join


class Lake:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def partition_dir(self, tenant_id: str, month: str, symbol: str) -> Path:
        """``root/tenant=T/ticks/month=M/symbol=S``; raises InvalidIdentifier / UnsafePath otherwise."""
        check_tenant(tenant_id)
        check_month(month)
        check_symbol(symbol)
        return safe_join(self.root, f"tenant={tenant_id}", "ticks", f"month={month}", f"symbol={symbol}")

    def write_batch(self, tenant_id: str, month: str, symbol: str, batch_id: str, table: pa.Table) -> Path:
        d = self.partition_dir(tenant_id, month, symbol)
        d.mkdir(parents=True, exist_ok=True)
        final = safe_join(d, f"{batch_id}.parquet")
        tmp = safe_join(d, f".{batch_id}.parquet.tmp")
        try:
            pq.write_table(table, tmp, compression="zstd")
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a full disk must not leave half a file behind
            raise
        return final

    def clear_partition(self, tenant_id: str, month: str, symbol: str, keep: set[str] = frozenset()) -> int:
        """Remove batch files of a partition except ``keep`` (file names); returns how many went."""
        d = self.partition_dir(tenant_id, month, symbol)
        removed = 0
        if d.exists():
            for f in d.glob("*.parquet"):
                if f.name not in keep:
                    f.unlink()
                    removed += 1
            for f in d.glob(".*.parquet.tmp"):  # a write a crash interrupted
                f.unlink(missing_ok=True)
        return removed

    def batch_files(self, tenant_id: str, month: str, symbol: str) -> list[Path]:
        d = self.partition_dir(tenant_id, month, symbol)
        return sorted(d.glob("*.parquet")) if d.exists() else []

    def iter_batches(self, paths: list[Path], columns: list[str] | None = None,
                     batch_rows: int = 1_000_000) -> Iterator[pa.RecordBatch]:
        """Stream record batches from ``paths`` in order, bounded by ``batch_rows``."""
        for p in paths:
            pf = pq.ParquetFile(p)
            yield from pf.iter_batches(batch_size=batch_rows, columns=columns)
