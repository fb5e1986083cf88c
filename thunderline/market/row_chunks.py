"""Cut a columnar reader's output exactly where the row readers cut their chunks.

Why: the lake writes one batch per chunk, and a batch's id, Parquet bytes and the windows'
provenance follow the chunk boundaries. A columnar reader works in pieces of its own (blocks,
halved blocks around a malformed line), so it re-cuts them with the row readers' rule
(:class:`thunderline.market._build.ChunkEmitter`): a chunk closes after the row that brings its
ticks, or its rejects, to ``chunk_rows``, and at the end of the file. With that, a file lands
as the same lake batches (same sha256) whichever reader read it.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import pyarrow as pa

from thunderline.market._build import TickChunk, empty_batch
from thunderline.market.rejects import Reject


class RowChunks:
    """Feed (batch, rejects) pieces in line order with :meth:`add`, then :meth:`finish`; both yield chunks."""

    def __init__(self, chunk_rows: int) -> None:
        if chunk_rows < 1:
            raise ValueError("chunk_rows must be >= 1")
        self.chunk_rows = chunk_rows
        self._batches: list[pa.RecordBatch] = []
        self._ticks = 0
        self._rejects: list[Reject] = []

    def _take(self, batch: pa.RecordBatch, rejects: list[Reject]) -> None:
        if batch.num_rows:
            self._batches.append(batch)
            self._ticks += batch.num_rows
        self._rejects += rejects

    def _emit(self) -> TickChunk:
        if not self._batches:
            batch = empty_batch()
        elif len(self._batches) == 1:
            batch = self._batches[0]
        else:
            batch = pa.Table.from_batches(self._batches).combine_chunks().to_batches()[0]
        chunk = TickChunk(batch, tuple(self._rejects))
        self._batches, self._ticks, self._rejects = [], 0, []
        return chunk

    def add(self, batch: pa.RecordBatch, rejects: list[Reject]) -> Iterator[TickChunk]:
        """``rejects`` sorted by line; ticks and rejects of this piece come after every earlier piece's."""
        lines = batch.column("source_row").to_numpy() if batch.num_rows else np.zeros(0, np.int64)
        reject_lines = np.array([r.source_row for r in rejects], np.int64)
        lo = ri = 0
        while True:
            t_at = lo + self.chunk_rows - self._ticks - 1  # the tick that would fill the chunk
            r_at = ri + self.chunk_rows - len(self._rejects) - 1
            t_line = int(lines[t_at]) if t_at < lines.size else None
            r_line = int(reject_lines[r_at]) if r_at < reject_lines.size else None
            if t_line is None and r_line is None:
                break
            cut = min(x for x in (t_line, r_line) if x is not None)
            hi = lo + int(np.searchsorted(lines[lo:], cut, "right"))
            rj = ri + int(np.searchsorted(reject_lines[ri:], cut, "right"))
            self._take(batch.slice(lo, hi - lo), rejects[ri:rj])
            yield self._emit()
            lo, ri = hi, rj
        self._take(batch.slice(lo), rejects[ri:])

    def finish(self) -> Iterator[TickChunk]:
        if self._ticks or self._rejects:
            yield self._emit()
