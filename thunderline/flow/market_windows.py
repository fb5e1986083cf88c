"""The market windows of one month × symbol: lake batches (merged in time order) → numba window builder → feature_windows.

Re-running a partition replaces its windows (ids are content-derived); memory is bounded by
the batch size, never by the partition's size.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from thunderline.contracts import feature_window_hashes, feature_window_ids
from thunderline.faults import fault_point
from thunderline.flow.ledger import record_step
from thunderline.market.features import (
    FULL_RECIPE,
    Recipe,
    TickArrays,
    WindowBuilder,
    book_depth,
    tick_arrays,
    to_feature_windows,
)
from thunderline.partitioning import month_bounds_us
from thunderline.store.lake import book_columns
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


WINDOW_COLUMNS = ["ts", "seq", "event_type", "bid_px", "bid_sz", "ask_px", "ask_sz", "trade_px", "trade_sz",
                  "trade_side", "book_bid_px", "book_bid_sz", "book_ask_px", "book_ask_sz"]


def merge_groups(batches: list[dict]) -> list[list[dict]]:
    """Cut ``raw_tick_batches`` rows (sorted by ts_min) into groups that must be merged by time.

    Batches that do not overlap in time (one file's chunks, consecutive days, the two halves of
    a split day touching at one timestamp) each form a group of one and stream as they are; batches
    whose time ranges overlap (two feeds of the same interval, e.g. trades and quotes files) form
    one group whose ticks are merged in (ts, batch order, seq) order. Memory is the group's size.
    """
    groups: list[list[dict]] = []
    hi = None
    for b in batches:
        if groups and hi is not None and b["ts_min"] < hi:
            groups[-1].append(b)
            hi = max(hi, b["ts_max"])
        else:
            groups.append([b])
            hi = b["ts_max"]
    return groups


class PartitionWindows:
    """The market windows of one month × symbol, fed lake batches in time order.

    Several sources feed one partition (days, parts of a day, feeds), and a source's ``seq`` only
    orders its own ticks. So the kernel sees a partition ordinal (1, 2, … in merged time order)
    and each window's provenance cites, per batch it read, that batch's own seq sub-range:
    provenance is local to the batches a window used and does not change when another day lands.

    :meth:`feed` returns the windows that became final; :meth:`peek` returns the still-open
    windows as a flush would emit them *without* closing the stream, so a caller that
    stops after any batch can persist exactly what :func:`build_window_partition` would
    have persisted for the batches fed so far, then continue.
    """

    def __init__(self, tenant: str, symbol: str, recipe: Recipe = FULL_RECIPE, *, batch_rows: int = 262_144,
                 progress: Progress | None = None, depth: int | None = None) -> None:
        self.tenant, self.symbol, self.recipe = tenant, symbol, recipe
        self.batch_rows, self.progress = batch_rows, progress
        self.depth = depth  # None: the deepest book present; 1: top of book (book columns are not read)
        self.builder = WindowBuilder(recipe, depth=depth)
        self.venue: str | None = None
        self.ticks = 0
        self._ids: list[str] = []
        # ticks a window may still cite: (first ordinal, batch index per tick, source seq per tick)
        self._pend: list[tuple[int, np.ndarray, np.ndarray]] = []

    def add_refs(self, batches: Iterable[dict]) -> None:
        """Note the venue of the partition's batches (kept for callers that declare batches up front)."""
        for b in batches:
            if self.venue is None:
                self.venue = b["venue"]

    def feed(self, batch: dict) -> list:
        """Stream one ``raw_tick_batches`` row's Parquet file; returns the FeatureWindows that became final."""
        return self.feed_group([batch])

    def feed_group(self, batches: list[dict]) -> list:
        """Stream a group from :func:`merge_groups`: one batch as it is, several merged by time."""
        self.add_refs(batches)
        first = len(self._ids)
        self._ids += [b["id"] for b in batches]
        out: list = []
        if len(batches) == 1:
            pf = pq.ParquetFile(batches[0]["path"], pre_buffer=False)
            for rb in pf.iter_batches(batch_size=self.batch_rows, columns=self._columns(pf.schema_arrow),
                                       use_threads=False):
                out += self._push(tick_arrays(rb, self.depth), np.full(rb.num_rows, first, np.int32))
            return out
        tables = []
        for b in batches:
            pf = pq.ParquetFile(b["path"], pre_buffer=False)
            tables.append(pf.read(columns=self._columns(pf.schema_arrow)))
        # the group's files may differ in layout (lists / level columns) and depth: arrays padded to one depth
        depth = self.depth or max(book_depth(t) for t in tables)
        parts = [tick_arrays(t, depth) for t in tables]
        a = TickArrays(**{k: np.concatenate([getattr(p, k) for p in parts]) for k in TickArrays.__dataclass_fields__})
        bidx = np.concatenate([np.full(len(p), first + j, np.int32) for j, p in enumerate(parts)])
        order = np.lexsort((a.seq, bidx, a.ts))
        for lo in range(0, len(a), self.batch_rows):
            sel = order[lo:lo + self.batch_rows]
            out += self._push(TickArrays(**{k: getattr(a, k)[sel] for k in TickArrays.__dataclass_fields__}),
                              bidx[sel])
        return out

    def _columns(self, schema: pa.Schema) -> list[str]:
        """The columns the windows read from a lake file of either layout (see :mod:`thunderline.store.lake`)."""
        return [c for c in WINDOW_COLUMNS[:10] if c in schema.names] + book_columns(schema, self.depth)

    def _push(self, a: TickArrays, bidx: np.ndarray) -> list:
        n = len(a)
        if n == 0:
            return []
        start = self.ticks + 1
        self._pend.append((start, bidx, a.seq))
        self.ticks += n
        ords = np.arange(start, start + n, dtype=np.int64)
        result = self.builder.update(dataclasses.replace(a, seq=ords))
        windows = self._windows(result)
        if len(result):
            self._trim(int(result.first_seq[-1]))  # later windows start no earlier than this one
        if self.progress:
            self.progress(n)
        return windows

    def _trim(self, keep_from: int) -> None:
        while len(self._pend) > 1 and self._pend[1][0] <= keep_from:
            self._pend.pop(0)

    def flush(self) -> list:
        return self._windows(self.builder.flush())

    def peek(self) -> list:
        import copy

        return self._windows(copy.deepcopy(self.builder).flush())

    def _spans_bulk(self, los: np.ndarray, his: np.ndarray) -> list[list[dict]]:
        """:meth:`_spans` of every window at once where that is plain indexing: a window inside one pending
        chunk whose ticks all come from one batch in non-decreasing seq (a lake batch read as it is) cites
        that batch from the seq of its first tick to the seq of its last. Other windows: :meth:`_spans`."""
        starts = np.array([p[0] for p in self._pend], np.int64)
        ends = starts + np.array([p[1].shape[0] for p in self._pend], np.int64) - 1
        simple = np.array([_one_sorted_batch(p[1], p[2]) for p in self._pend], bool)
        k = np.searchsorted(starts, los, side="right") - 1
        fast = (k >= 0) & (his <= ends[np.maximum(k, 0)]) & simple[np.maximum(k, 0)]
        out: list[list[dict]] = []
        for i, (lo, hi, kk, f) in enumerate(zip(los.tolist(), his.tolist(), k.tolist(), fast.tolist())):
            if not f:
                out.append(self._spans(lo, hi))
                continue
            s0, bidx, seq = self._pend[kk]
            out.append([{"batch_id": self._ids[int(bidx[0])], "seq_min": int(seq[lo - s0]),
                         "seq_max": int(seq[hi - s0])}])
        return out

    def _spans(self, lo: int, hi: int) -> list[dict]:
        starts = [p[0] for p in self._pend]
        k = int(np.searchsorted(starts, lo, side="right")) - 1
        spans: dict[int, list[int]] = {}
        while k < len(self._pend) and self._pend[k][0] <= hi:
            s0, bidx, seq = self._pend[k]
            a, b = max(lo - s0, 0), min(hi - s0, bidx.shape[0] - 1)
            bi, sq = bidx[a:b + 1], seq[a:b + 1]
            if bi[0] == bi[-1] and (bi.shape[0] < 3 or (bi == bi[0]).all()):
                groups = [(int(bi[0]), sq)]
            else:
                groups = [(int(g), sq[bi == g]) for g in dict.fromkeys(bi.tolist())]
            for g, s in groups:
                cur = spans.setdefault(g, [int(s.min()), int(s.max())])
                cur[0], cur[1] = min(cur[0], int(s.min())), max(cur[1], int(s.max()))
            k += 1
        return [{"batch_id": self._ids[g], "seq_min": v[0], "seq_max": v[1]} for g, v in spans.items()]

    def _windows(self, result) -> list:
        if not len(result):
            return []
        spans = self._spans_bulk(result.first_seq, result.last_seq)
        return to_feature_windows(result, tenant_id=self.tenant, symbol=self.symbol, venue=self.venue, spans=spans)


def _one_sorted_batch(bidx: np.ndarray, seq: np.ndarray) -> bool:
    """True when a pending chunk's ticks all come from one batch, in non-decreasing seq."""
    return bool(bidx.shape[0]) and bool((bidx == bidx[0]).all()) and bool((seq[1:] >= seq[:-1]).all())


def persist_windows(session: TenantSession, windows: list) -> int:
    """Upsert FeatureWindows and their tick-batch lineage; returns the lineage edges recorded.

    Ids, hashes and edge ids are derived in bulk (same values as one at a time): on the live
    path this runs once per micro-batch, inside the latency a tick waits for its decision.
    """
    from thunderline.lineage import record_edge_columns
    from thunderline.lineage.edges import column_edges

    if not windows:
        return 0
    feature_window_ids(windows)
    feature_window_hashes(windows)
    session.upsert("feature_windows", [window_row(w) for w in windows])
    ends = [(b["batch_id"], w.id) for w in windows for b in w.provenance["batches"]]
    if not ends:
        return 0
    edges = column_edges(session.tenant_id, "tick_batch", [f for f, _ in ends], "feature_window",
                         [t for _, t in ends], "feature_input")
    return record_edge_columns(session, edges, job_name="thunderline.lineage.record_edges")


class TieredMonthError(RuntimeError):
    """The partition's lake files are in cold storage (thunderline.retention): restore the month first."""


def _check_hot(session: TenantSession, month: str, batches: list[dict]) -> None:
    """Refuse, naming the restore command, a partition whose lake files were tiered away (retention)."""
    gone = [b["id"] for b in batches if not os.path.exists(b["path"])]
    if not gone:
        return
    c = session.table("cold_files")
    cold = session.count("cold_files", c.c.id.in_(gone), c.c.status == "cold")
    if cold:
        raise TieredMonthError(f"{month}: {cold} of the partition's {len(batches)} lake files are in cold storage; "
                               f"run `thunderline restore {month}` first")


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
    _check_hot(session, month, batches)
    summary = WindowPartitionSummary(f"{month}|{symbol}", recipe.recipe_version)
    lo, hi = month_bounds_us(month)
    fw = session.table("feature_windows")
    session.delete("feature_windows", fw.c.kind == "market", fw.c.key == symbol, fw.c.window_start >= lo,
                   fw.c.window_start < hi, fw.c.recipe_version == recipe.recipe_version)
    stream = PartitionWindows(session.tenant_id, symbol, recipe, batch_rows=batch_rows, progress=progress)
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

    for group in merge_groups(batches):
        emit(stream.feed_group(group))
    emit(stream.flush())
    summary.ticks = stream.ticks
    summary.hash_of_hashes = digest.hexdigest()
    record_step(session, "ticks", summary.partition, "market_feature_windows")
    fault_point("market_feature_windows.written")
    return summary
