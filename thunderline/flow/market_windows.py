"""The market windows of one month × symbol: lake batches (stream order) → numba window builder → feature_windows.

Re-running a partition replaces its windows (ids are content-derived); memory is bounded by
the batch size, never by the partition's size.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable, Iterable

import pyarrow.parquet as pq

from thunderline.faults import fault_point
from thunderline.flow.ledger import record_step
from thunderline.market.features import FULL_RECIPE, BatchRef, Recipe, WindowBuilder, to_feature_windows
from thunderline.partitioning import month_bounds_us
from thunderline.store.warehouse import TenantSession
from thunderline.store.window_rows import window_row

Progress = Callable[[int], None]


@dataclass
class WindowPartitionSummary:
    partition: str
    recipe_version: str
    ticks: int = 0
    windows: int = 0
    lineage_edges: int = 0
    hash_of_hashes: str = ""


class PartitionWindows:
    """The market windows of one month × symbol, fed lake batches in stream order.

    :meth:`feed` returns the windows that became final; :meth:`peek` returns the still-open
    windows as a flush would emit them *without* closing the stream, so a caller that
    stops after any batch can persist exactly what :func:`build_window_partition` would
    have persisted for the batches fed so far, then continue.
    """

    def __init__(self, tenant: str, symbol: str, recipe: Recipe = FULL_RECIPE, *, batch_rows: int = 262_144,
                 progress: Progress | None = None) -> None:
        self.tenant, self.symbol, self.recipe = tenant, symbol, recipe
        self.batch_rows, self.progress = batch_rows, progress
        self.builder = WindowBuilder(recipe)
        self.refs: list[BatchRef] = []
        self.venue: str | None = None
        self.ticks = 0

    def add_refs(self, batches: Iterable[dict]) -> None:
        """Declare batches whose seq ranges a window's provenance may cite (all known ones, in any order)."""
        known = {r.batch_id for r in self.refs}
        for b in batches:
            if self.venue is None:
                self.venue = b["venue"]
            if b["id"] not in known:
                self.refs.append(BatchRef(b["id"], b["seq_min"], b["seq_max"]))
                known.add(b["id"])

    def feed(self, batch: dict) -> list:
        """Stream one ``raw_tick_batches`` row's Parquet file; returns the FeatureWindows that became final."""
        self.add_refs([batch])
        out: list = []
        for rb in pq.ParquetFile(batch["path"]).iter_batches(batch_size=self.batch_rows):
            self.ticks += rb.num_rows
            out += self._windows(self.builder.update(rb))
            if self.progress:
                self.progress(rb.num_rows)
        return out

    def flush(self) -> list:
        return self._windows(self.builder.flush())

    def peek(self) -> list:
        import copy

        return self._windows(copy.deepcopy(self.builder).flush())

    def _windows(self, result) -> list:
        return to_feature_windows(result, tenant_id=self.tenant, symbol=self.symbol, batches=self.refs,
                                  venue=self.venue)


def persist_windows(session: TenantSession, windows: list) -> int:
    """Upsert FeatureWindows and their tick-batch lineage; returns the lineage edges recorded."""
    from thunderline.lineage import Edge, record_edges

    if not windows:
        return 0
    session.upsert("feature_windows", [window_row(w) for w in windows])
    edges = [Edge("tick_batch", b["batch_id"], "feature_window", w.id, "feature_input")
             for w in windows for b in w.provenance["batches"]]
    return record_edges(session, edges)


def build_window_partition(
    session: TenantSession,
    month: str,
    symbol: str,
    *,
    recipe: Recipe = FULL_RECIPE,
    batch_rows: int = 262_144,
    progress: Progress | None = None,
    on_windows: Callable[[list], None] | None = None,
) -> WindowPartitionSummary:
    """Stream the partition's lake batches (time order) through the numba window builder into feature_windows."""
    t = session.table("raw_tick_batches")
    batches = session.select("raw_tick_batches", t.c.month == month, t.c.symbol == symbol,
                             order_by=[t.c.ts_min, t.c.seq_min, t.c.id])
    summary = WindowPartitionSummary(f"{month}|{symbol}", recipe.recipe_version)
    lo, hi = month_bounds_us(month)
    fw = session.table("feature_windows")
    session.delete("feature_windows", fw.c.kind == "market", fw.c.key == symbol, fw.c.window_start >= lo,
                   fw.c.window_start < hi, fw.c.recipe_version == recipe.recipe_version)
    stream = PartitionWindows(session.tenant_id, symbol, recipe, batch_rows=batch_rows, progress=progress)
    stream.add_refs(batches)
    digest = hashlib.sha256()

    def emit(windows: list) -> None:
        if not windows:
            return
        summary.lineage_edges += persist_windows(session, windows)
        fault_point("market_feature_windows.persisted")
        for w in windows:
            digest.update(w.content_hash.encode())
        summary.windows += len(windows)
        if on_windows:
            on_windows(windows)

    for b in batches:
        emit(stream.feed(b))
    emit(stream.flush())
    summary.ticks = stream.ticks
    summary.hash_of_hashes = digest.hexdigest()
    record_step(session, "ticks", summary.partition, "market_feature_windows")
    fault_point("market_feature_windows.written")
    return summary
