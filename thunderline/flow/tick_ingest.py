"""The tick ingest of one month × symbol partition: landing files → validated lake batches + quarantine.

Why here and not in the assets: the same code runs under Dagster (assets), under
``thunderline live`` and in tests, and must produce identical rows (the windows are
built by :mod:`thunderline.flow.market_windows`). Guarantees:

* re-running a partition *replaces* it: batch and window ids are content-derived,
  stale lake files are removed only after the new state is committed;
* every input row is accounted for: ``read = kept + rejected`` per partition,
  rejected rows land in ``quarantine`` with file, row, field and reason;
* memory is bounded by the chunk size, never by the partition's size.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pyarrow as pa
import pyarrow.compute as pc

from thunderline.faults import fault_point
from thunderline.flow.landing import files_for_partition, read_path_of
from thunderline.flow.ledger import inputs_digest, record_step
from thunderline.flow.tick_files import quarantine_rows
from thunderline.hashing import content_id
from thunderline.market import iter_tick_chunks
from thunderline.market.compacted import COMPACTED_FORMAT
from thunderline.market.identity import SourceLedger
from thunderline.market.validation import TickValidator, rule_summary
from thunderline.partitioning import month_bounds_us
from thunderline.store.lake import Lake
from thunderline.store.warehouse import TenantSession

Progress = Callable[[int], None]


@dataclass
class TickPartitionSummary:
    partition: str
    files: int = 0
    rows_read: int = 0
    rows_kept: int = 0
    rows_rejected: int = 0
    rows_duplicate: int = 0
    rows_other_partitions: int = 0
    batches: int = 0
    crossed_or_locked: int = 0
    reject_reasons: dict[str, int] = field(default_factory=dict)
    expectations: dict[str, dict] = field(default_factory=dict)
    numpy_rules: dict[str, dict] = field(default_factory=dict)
    ts_min: int | None = None
    ts_max: int | None = None
    files_duplicate: list[str] = field(default_factory=list)
    # files none of whose rows became a tick of this partition: [{"path", "reason"}]
    files_rejected: list[dict] = field(default_factory=list)
    #: lake files the new state references; the others are removed after commit (see finalize_lake)
    keep_files: set[str] = field(default_factory=set, repr=False)


_COUNTERS = ("rows_read", "rows_kept", "rows_rejected", "rows_duplicate", "rows_other_partitions", "batches",
             "crossed_or_locked")



@dataclass
class _Checkpoint:
    """A partition's state before a file: restored when the file is refused."""

    counters: dict
    reasons: dict
    rules: dict
    n_batches: int
    n_quarantine: int
    gx: Any
    totals: dict


def _count_reasons(counts: dict[str, int], rejects) -> None:
    """Adds rejected rows to the per-rule counts (the rule is the reason up to its first colon)."""
    for r in rejects:
        counts[r.reason.split(":")[0]] = counts.get(r.reason.split(":")[0], 0) + 1


class PartitionIngest:
    """The ingest of one month × symbol, one landing file at a time, in the order files are added.

    Validation state (last seq per source file, the GX run) carries across chunks, so adding the
    partition's files one by one — as ``thunderline live`` does when each lands — writes the
    same batches (same ids, same lake files) and quarantine rows as one pass over all of them.
    Files are checked against the ones accepted before them (:class:`SourceLedger`): ticks
    already held are dropped as duplicates; a file that conflicts with an earlier one is
    refused whole — its lake files are removed and one quarantine row says why.
    :meth:`take` hands out the rows produced since the previous call.
    """

    def __init__(self, tenant: str, lake: Lake, month: str, symbol: str, *, chunk_rows: int = 262_144,
                 run_expectations: bool = True, progress: Progress | None = None) -> None:
        self.tenant, self.lake, self.month, self.symbol = tenant, lake, month, symbol
        self.chunk_rows, self.progress = chunk_rows, progress
        self.lo, self.hi = month_bounds_us(month)
        self.summary = TickPartitionSummary(f"{month}|{symbol}")
        self.validator = TickValidator(self.lo, self.hi)
        self.expectations = _ExpectationRun(self.lo, self.hi) if run_expectations else None
        self.ledger = SourceLedger()
        self.written: set[str] = set()
        self._batches: list[dict] = []
        self._quarantine: list[dict] = []

    def add_file(self, f: dict) -> None:
        """Read landing file ``f`` (a ``landing_files`` row) and keep this partition's valid, new ticks."""
        summary = self.summary
        cp = self._checkpoint()
        self.ledger.begin(f["path"])
        summary.files += 1
        read_path = str(read_path_of(f))
        for i, chunk in enumerate(self._chunks(f, read_path)):
            conflict = self._add_chunk(f, i, chunk, read_path)
            if conflict is not None:
                # refuse the whole file: undo what it wrote and counted, say why in one quarantine row
                self._rollback(cp)
                other, n = conflict
                reason = (f"conflicting_file: {n:,} ticks differ from {other} inside its time range "
                          f"(same format {_ledger_format(f)!r} and venue); the earlier file is kept")
                self._refuse(f, reason)
                return
        self.ledger.commit()
        before, reasons_before = cp.counters, cp.reasons
        read = summary.rows_read - before["rows_read"]
        if read and summary.rows_kept == before["rows_kept"]:
            if summary.rows_duplicate > before["rows_duplicate"]:
                summary.files_duplicate.append(f["path"])  # nothing new: changes nothing
            else:
                new = {k: v - reasons_before.get(k, 0) for k, v in summary.reject_reasons.items()}
                top = max(new.items(), key=lambda kv: kv[1])[0]
                summary.files_rejected.append({"path": f["path"], "reason": f"every row quarantined (most: {top})"})

    def _chunks(self, f: dict, read_path: str):
        """The chunks of ``f``. A compacted file's format is named by the index only, never detected."""
        fmt = COMPACTED_FORMAT if f["format"] == COMPACTED_FORMAT else None
        return iter_tick_chunks(read_path, self.tenant, chunk_rows=self.chunk_rows, fmt=fmt)

    def _add_chunk(self, f: dict, i: int, chunk, read_path: str) -> tuple[str, int] | None:
        """One chunk of file ``f``: parse rejects quarantined, other partitions' rows counted and dropped,
        duplicates of earlier files dropped, the rest validated, rejects quarantined, kept rows written
        as batch ``i``. Returns (other file, conflicting rows) when the chunk contradicts an earlier file."""
        summary, pkey = self.summary, self.summary.partition
        b, parse_rejects = chunk.batch, chunk.rejects
        if read_path != f["path"]:  # rows and rejects cite the landing path, whichever copy was read
            parse_rejects = [dataclasses.replace(r, source=f["path"]) if r.source == read_path else r
                             for r in parse_rejects]
            b = cite_landing_path(b, read_path, f["path"])
        mine = pc.and_(pc.equal(b.column("symbol"), self.symbol),
                       pc.and_(pc.greater_equal(b.column("ts"), self.lo), pc.less(b.column("ts"), self.hi)))
        # parse rejects are quarantined by every partition of the file; ids make that idempotent
        self._quarantine += quarantine_rows(parse_rejects, "raw_ticks", None)
        summary.rows_read += len(parse_rejects)
        summary.rows_rejected += len(parse_rejects)
        _count_reasons(summary.reject_reasons, parse_rejects)
        own = _keep(b, mine)
        summary.rows_other_partitions += b.num_rows - own.num_rows
        if own.num_rows == 0:
            return None
        summary.rows_read += own.num_rows
        seen = self.ledger.check(_ledger_format(f), own)
        if seen.conflict_with is not None:
            return seen.conflict_with, seen.conflicting_rows
        if seen.duplicate.any():
            summary.rows_duplicate += int(seen.duplicate.sum())
            own = _keep(own, pa.array(~seen.duplicate))
            if own.num_rows == 0:
                return None
        if self.expectations:
            self.expectations.add(own)
        res = self.validator.validate(own)
        summary.numpy_rules = _merge_counts(summary.numpy_rules, rule_summary(res))
        kept = _keep(own, pa.array(res.keep))
        summary.crossed_or_locked += sum(res.flag_counts.values())
        rejects = res.rejects(own)
        self._quarantine += quarantine_rows(rejects, "raw_ticks", pkey)
        summary.rows_rejected += len(rejects)
        _count_reasons(summary.reject_reasons, rejects)
        if kept.num_rows == 0:
            return None
        summary.rows_kept += kept.num_rows
        row = _write_batch(self.lake, self.tenant, self.month, self.symbol, f, i, kept)
        self.written.add(Path(row["path"]).name)
        self._batches.append(row)
        summary.batches += 1
        summary.ts_min = row["ts_min"] if summary.ts_min is None else min(summary.ts_min, row["ts_min"])
        summary.ts_max = row["ts_max"] if summary.ts_max is None else max(summary.ts_max, row["ts_max"])
        if self.progress:
            self.progress(own.num_rows)
        return None

    def _checkpoint(self) -> _Checkpoint:
        """What a refused file must not leave behind: counters, batches, quarantine rows, GX and rule totals."""
        summary = self.summary
        return _Checkpoint(
            counters={k: getattr(summary, k) for k in _COUNTERS},
            reasons=dict(summary.reject_reasons),
            rules={k: dict(v) for k, v in summary.numpy_rules.items()},
            n_batches=len(self._batches), n_quarantine=len(self._quarantine),
            gx=self.expectations.snapshot() if self.expectations else None,
            totals=dict(self.validator.totals),
        )

    def _rollback(self, cp: _Checkpoint) -> None:
        """Undoes a refused file: its ledger entry, the batches it wrote (files too) and what it counted."""
        self.ledger.abandon()
        for row in self._batches[cp.n_batches:]:
            self.written.discard(Path(row["path"]).name)
            Path(row["path"]).unlink(missing_ok=True)
        del self._batches[cp.n_batches:]
        del self._quarantine[cp.n_quarantine:]
        for k, v in cp.counters.items():
            setattr(self.summary, k, v)
        self.summary.reject_reasons, self.summary.numpy_rules = cp.reasons, cp.rules
        self.validator.totals = cp.totals
        if self.expectations:
            self.expectations.restore(cp.gx)

    def _refuse(self, f: dict, reason: str) -> None:
        self.summary.files_rejected.append({"path": f["path"], "reason": reason})
        self.summary.reject_reasons["conflicting_file"] = self.summary.reject_reasons.get("conflicting_file", 0) + 1
        self._quarantine.append(dict(id=content_id("quarantine", ["file", f["id"], self.summary.partition, reason]),
                                     stage="raw_ticks.file", source=f["path"], row_number=None, field="*",
                                     reason=reason, raw=None, partition_key=self.summary.partition))

    def take(self) -> tuple[list[dict], list[dict]]:
        """(raw_tick_batches rows, quarantine rows) produced since the previous call."""
        out = (self._batches, _dedupe(self._quarantine))
        self._batches, self._quarantine = [], []
        return out


def ingest_tick_partition(
    session: TenantSession,
    lake: Lake,
    month: str,
    symbol: str,
    *,
    chunk_rows: int = 262_144,
    run_expectations: bool = True,
    progress: Progress | None = None,
) -> TickPartitionSummary:
    """Read every landing file touching (month, symbol), validate, write lake batches, index and quarantine."""
    ingest = PartitionIngest(session.tenant_id, lake, month, symbol, chunk_rows=chunk_rows,
                             run_expectations=run_expectations, progress=progress)
    files = files_for_partition(session, "ticks", f"{month}|{symbol}")
    for f in files:
        ingest.add_file(f)
    summary = ingest.summary
    summary.expectations = ingest.expectations.summary() if ingest.expectations else {}
    batch_rows, quarantine = ingest.take()
    t = session.table("raw_tick_batches")
    session.delete("raw_tick_batches", t.c.month == month, t.c.symbol == symbol)
    session.insert("raw_tick_batches", batch_rows)
    if quarantine:
        session.upsert("quarantine", quarantine)
    # progress, in the same transaction: landing files become `processed` only when every step is done
    record_step(session, "ticks", summary.partition, "raw_ticks", inputs=inputs_digest(f["id"] for f in files),
                files=len(files))
    fault_point("raw_ticks.written")
    # the new state is in the transaction; stale files go after commit (see finalize_lake)
    summary.keep_files = set(ingest.written)
    return summary


class _ExpectationRun:
    """Great Expectations over a partition's chunks: one suite, seq continuity carried across chunks.

    Chunks are pooled (their scalar columns only) until ``pool_rows`` rows and validated as one
    frame: a GX validation costs ~80 ms whatever its size, which on a month of small daily files
    (one 24 k-tick chunk each) was 3+ CPU-µs a tick. Pooling is in arrival order and the seq carry
    runs through the pool, so the counts are those of validating the chunks one by one."""

    def __init__(self, lo: int, hi: int, pool_rows: int = 131_072) -> None:
        from thunderline.market.validation import GxTickSuite

        self.suite = GxTickSuite(lo, hi)
        self.prev_seq: dict[str, int] = {}
        self.totals: dict[str, dict] = {}
        self.pool_rows, self._pool, self._pooled = pool_rows, [], 0

    def add(self, batch: pa.RecordBatch) -> None:
        from thunderline.market.validation import GX_COLUMNS

        self._pool.append(batch.select(GX_COLUMNS))  # zero-copy; drops the book columns' references
        self._pooled += batch.num_rows
        if self._pooled >= self.pool_rows:
            self._flush()

    def _flush(self) -> None:
        from thunderline.market.validation import gx_frame, source_groups

        if not self._pool:
            return
        table = pa.Table.from_batches(self._pool)
        self._pool, self._pooled = [], 0
        df = gx_frame(table, self.prev_seq)
        res = self.suite.validate(df, result_format="BASIC")  # counts only: no per-row index lists
        for k, v in res.items():
            t = self.totals.setdefault(k, {"success": True, "unexpected_count": 0, "element_count": 0})
            t["success"] = t["success"] and v["success"]
            t["unexpected_count"] += v["unexpected_count"]
            t["element_count"] += v["element_count"]
        codes, keys = source_groups(df)
        for code, m in df["seq"].groupby(codes, sort=False).max().items():
            k = keys[int(code)]
            self.prev_seq[k] = max(int(m), self.prev_seq.get(k, int(m)))

    def summary(self) -> dict[str, dict]:
        self._flush()
        return dict(sorted(self.totals.items()))

    def snapshot(self) -> tuple[dict, dict, list]:
        import copy

        return copy.deepcopy(self.totals), dict(self.prev_seq), list(self._pool)

    def restore(self, snap: tuple[dict, dict, list]) -> None:
        self.totals, self.prev_seq, self._pool = snap
        self._pooled = sum(b.num_rows for b in self._pool)


def _merge_counts(acc: dict, new: dict) -> dict:
    for k, v in new.items():
        a = acc.setdefault(k, {"success": True, "unexpected_count": 0})
        a["unexpected_count"] += v["unexpected_count"]
        a["success"] = a["unexpected_count"] == 0
    return acc


def finalize_lake(lake: Lake, tenant: str, month: str, symbol: str, summary: TickPartitionSummary) -> int:
    """After commit: remove lake files of the partition that the new state no longer references."""
    return lake.clear_partition(tenant, month, symbol, keep=summary.keep_files)


def _keep(batch: pa.RecordBatch, mask: pa.Array) -> pa.RecordBatch:
    """``batch.filter(mask)``, without the copy when every row is kept (the usual chunk: filtering the
    book list columns cost a quarter of the ingest's CPU for nothing)."""
    if mask.null_count == 0 and pc.all(mask).as_py() is not False:
        return batch
    return batch.filter(mask)


def _dedupe(rows: list[dict]) -> list[dict]:
    return list({r["id"]: r for r in rows}.values())


def _write_batch(lake: Lake, tenant: str, month: str, symbol: str, f: dict, chunk_index: int,
                 kept: pa.RecordBatch) -> dict:
    seq = kept.column("seq").to_numpy()
    ts = kept.column("ts").to_numpy()
    venue = kept.column("venue")[0].as_py()
    batch_id = content_id("tick_batch", [tenant, month, symbol, f["id"], chunk_index, int(seq[0]), int(seq[-1]),
                                         kept.num_rows])
    path = lake.write_batch(tenant, month, symbol, batch_id, pa.Table.from_batches([kept]))
    fault_point("lake.batch_written")
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    return dict(id=batch_id, venue=venue, symbol=symbol, month=month, source=f["format"], source_file=f["path"],
                path=str(path), seq_min=int(seq.min()), seq_max=int(seq.max()), ts_min=int(ts.min()),
                ts_max=int(ts.max()), rows=kept.num_rows, sha256=sha)


def cite_landing_path(batch: pa.RecordBatch, read_path: str, landing_path: str) -> pa.RecordBatch:
    """Rows read from a content-addressed copy keep citing the landing path they arrived under."""
    i = batch.schema.get_field_index("source")
    if i < 0 or batch.num_rows == 0:
        return batch
    col = batch.column(i)
    fixed = pc.if_else(pc.equal(col, read_path), pa.scalar(landing_path, col.type), col)
    return batch.set_column(i, batch.schema.field(i), fixed)


def _ledger_format(f: dict) -> str:
    """The format the source ledger keys ``f`` by: a compacted file's rows were its members' canonical Parquet."""
    return "canonical_parquet" if f["format"] == COMPACTED_FORMAT else f["format"]
