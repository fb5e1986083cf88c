"""One month × symbol partition of the market path: landing files → lake batches → feature windows.

Why here and not in the assets: the same two functions run under Dagster
(assets), under ``thunderline live`` and in tests, and must produce identical
rows. Guarantees:

* re-running a partition *replaces* it: batch and window ids are content-derived,
  stale lake files are removed only after the new state is committed;
* every input row is accounted for: ``read = kept + rejected`` per partition,
  rejected rows land in ``quarantine`` with file, row, field and reason;
* memory is bounded by the chunk size, never by the partition's size.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa

from thunderline.flow.landing import Classification, files_for_partition, mark_processed
from thunderline.hashing import content_id
from thunderline.market import detect_format, iter_tick_chunks
from thunderline.market.features import FULL_RECIPE, BatchRef, Recipe, WindowBuilder, to_feature_windows
from thunderline.market.rejects import Reject
from thunderline.market.validation import TickValidator, admissible_mask, rule_summary
from thunderline.store.lake import Lake
from thunderline.partitioning import month_bounds_us, months_of_us
from thunderline.store.warehouse import TenantSession

Progress = Callable[[int], None]


def classify_tick_file(path: Path, chunk_rows: int = 1_000_000) -> Classification:
    """Format and the month|symbol partitions a tick file touches (reads only symbol and ts where it can)."""
    fmt = detect_format(path)
    if fmt == "lobster":
        from thunderline.market.lobster import lobster_pair, parse_lobster_name

        if parse_lobster_name(path)["kind"] == "orderbook":
            # read together with its message file; feeds no partition by itself
            return Classification("lobster_orderbook", [])
        message, orderbook = lobster_pair(path)
        if not orderbook.exists():
            raise FileNotFoundError(f"{path}: LOBSTER orderbook partner {orderbook.name} has not arrived")
    parts: set[str] = set()
    first_reject: list[Reject] = []
    if fmt == "canonical_parquet":
        try:
            pf = pq.ParquetFile(path)
            names = set(pf.schema_arrow.names)
        except (pa.ArrowException, OSError) as exc:
            raise ValueError(f"{path}: not a readable Parquet file ({type(exc).__name__})") from None
        if not {"symbol", "ts"} <= names:
            raise ValueError(f"{path}: not a canonical tick Parquet file: needs columns symbol and ts")
        for b in pf.iter_batches(batch_size=chunk_rows, columns=["symbol", "ts"]):
            if not (pa.types.is_string(b.schema.field("symbol").type) and pa.types.is_integer(b.schema.field("ts").type)):
                raise ValueError(f"{path}: not a canonical tick Parquet file: symbol must be string, ts integer")
            _collect_parts(b.filter(pa.array(admissible_mask(b.column("symbol"), b.column("ts")))), parts)
    else:
        for chunk in iter_tick_chunks(path, "classify", chunk_rows=chunk_rows):
            _collect_parts(chunk.batch, parts)
            if chunk.rejects and not first_reject:
                first_reject.append(chunk.rejects[0])
    if not parts:
        first = f"; first problem: {first_reject[0]}" if first_reject else ""
        raise ValueError(f"{path}: no parsable ticks ({fmt}){first}")
    return Classification(fmt, sorted(parts))


def _collect_parts(batch: pa.RecordBatch, parts: set[str]) -> None:
    if batch.num_rows == 0:
        return
    sym = batch.column("symbol").to_numpy(zero_copy_only=False)
    mon = months_of_us(batch.column("ts").to_numpy())
    pairs = np.unique(np.char.add(np.char.add(mon.astype(str), "|"), sym.astype(str)))
    parts.update(pairs.tolist())


def quarantine_rows(rejects: Iterable[Reject], stage: str, partition_key: str | None) -> list[dict]:
    """Quarantine rows with content-derived ids: re-ingesting the same bad row does not duplicate it."""
    out = []
    for r in rejects:
        body = [r.stage, r.source, r.source_row, r.field, r.reason]
        out.append(dict(id=content_id("quarantine", body), stage=f"{stage}.{r.stage}", source=r.source,
                        row_number=r.source_row, field=r.field, reason=r.reason, raw=r.raw[:2000],
                        partition_key=partition_key))
    return out


@dataclass
class TickPartitionSummary:
    partition: str
    files: int = 0
    rows_read: int = 0
    rows_kept: int = 0
    rows_rejected: int = 0
    rows_other_partitions: int = 0
    batches: int = 0
    crossed_or_locked: int = 0
    reject_reasons: dict[str, int] = field(default_factory=dict)
    expectations: dict[str, dict] = field(default_factory=dict)
    numpy_rules: dict[str, dict] = field(default_factory=dict)
    ts_min: int | None = None
    ts_max: int | None = None


class PartitionIngest:
    """The ingest of one month × symbol, one landing file at a time, in the order files are added.

    Validation state (last seq per stream, the GX run) carries across files, so adding the
    partition's files one by one — as ``thunderline live`` does when each lands — writes the
    same batches (same ids, same lake files) and quarantine rows as one pass over all of them.
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
        self.written: set[str] = set()
        self._batches: list[dict] = []
        self._quarantine: list[dict] = []

    def add_file(self, f: dict) -> None:
        """Read landing file ``f`` (a ``landing_files`` row) and keep this partition's valid ticks."""
        summary, pkey = self.summary, self.summary.partition
        summary.files += 1
        for i, chunk in enumerate(iter_tick_chunks(Path(f["path"]), self.tenant, chunk_rows=self.chunk_rows)):
            b = chunk.batch
            mine = pc.and_(pc.equal(b.column("symbol"), self.symbol),
                           pc.and_(pc.greater_equal(b.column("ts"), self.lo), pc.less(b.column("ts"), self.hi)))
            # parse rejects are quarantined by every partition of the file; ids make that idempotent
            self._quarantine += quarantine_rows(chunk.rejects, "raw_ticks", None)
            summary.rows_read += len(chunk.rejects)
            summary.rows_rejected += len(chunk.rejects)
            for r in chunk.rejects:
                summary.reject_reasons[r.reason.split(":")[0]] = summary.reject_reasons.get(r.reason.split(":")[0], 0) + 1
            own = b.filter(mine)
            summary.rows_other_partitions += b.num_rows - own.num_rows
            if own.num_rows == 0:
                continue
            summary.rows_read += own.num_rows
            if self.expectations:
                self.expectations.add(own)
            res = self.validator.validate(own)
            summary.numpy_rules = _merge_counts(summary.numpy_rules, rule_summary(res))
            kept = own.filter(pa.array(res.keep))
            summary.crossed_or_locked += sum(res.flag_counts.values())
            rejects = res.rejects(own)
            self._quarantine += quarantine_rows(rejects, "raw_ticks", pkey)
            summary.rows_rejected += len(rejects)
            for r in rejects:
                summary.reject_reasons[r.reason.split(":")[0]] = summary.reject_reasons.get(r.reason.split(":")[0], 0) + 1
            if kept.num_rows == 0:
                continue
            summary.rows_kept += kept.num_rows
            row = _write_batch(self.lake, self.tenant, self.month, self.symbol, f, i, kept)
            self.written.add(Path(row["path"]).name)
            self._batches.append(row)
            summary.batches += 1
            summary.ts_min = row["ts_min"] if summary.ts_min is None else min(summary.ts_min, row["ts_min"])
            summary.ts_max = row["ts_max"] if summary.ts_max is None else max(summary.ts_max, row["ts_max"])
            if self.progress:
                self.progress(own.num_rows)

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
    mark_processed(session, [f["id"] for f in files])
    # the new state is in the transaction; stale files go after commit (see finalize_lake)
    summary._keep_files = ingest.written  # type: ignore[attr-defined]
    return summary


class _ExpectationRun:
    """Great Expectations over a partition's chunks: one suite, seq continuity carried across chunks."""

    def __init__(self, lo: int, hi: int) -> None:
        from thunderline.market.validation import GxTickSuite

        self.suite = GxTickSuite(lo, hi)
        self.prev_seq: dict[str, int] = {}
        self.totals: dict[str, dict] = {}

    def add(self, batch: pa.RecordBatch) -> None:
        from thunderline.market.validation import gx_frame

        df = gx_frame(batch, self.prev_seq)
        res = self.suite.validate(df)
        for k, v in res.items():
            t = self.totals.setdefault(k, {"success": True, "unexpected_count": 0, "element_count": 0})
            t["success"] = t["success"] and v["success"]
            t["unexpected_count"] += v["unexpected_count"]
            t["element_count"] += v["element_count"]
        key = (df["venue"].astype(str) + "\x1f" + df["symbol"].astype(str))
        for k, m in df.groupby(key, sort=False)["seq"].max().items():
            self.prev_seq[k] = max(int(m), self.prev_seq.get(k, int(m)))

    def summary(self) -> dict[str, dict]:
        return dict(sorted(self.totals.items()))


def _merge_counts(acc: dict, new: dict) -> dict:
    for k, v in new.items():
        a = acc.setdefault(k, {"success": True, "unexpected_count": 0})
        a["unexpected_count"] += v["unexpected_count"]
        a["success"] = a["unexpected_count"] == 0
    return acc


def finalize_lake(lake: Lake, tenant: str, month: str, symbol: str, summary: TickPartitionSummary) -> int:
    """After commit: remove lake files of the partition that the new state no longer references."""
    return lake.clear_partition(tenant, month, symbol, keep=getattr(summary, "_keep_files", set()))


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
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    return dict(id=batch_id, venue=venue, symbol=symbol, month=month, source=f["format"], source_file=f["path"],
                path=str(path), seq_min=int(seq.min()), seq_max=int(seq.max()), ts_min=int(ts.min()),
                ts_max=int(ts.max()), rows=kept.num_rows, sha256=sha)


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
    return summary


def window_row(w) -> dict:
    """A FeatureWindow as a feature_windows row. JSON has no NaN (jsonb refuses it): NaN is stored as null."""
    feats = {k: (None if v != v else v) for k, v in w.features.items()}
    return dict(id=w.id, tenant_id=w.tenant_id, kind=w.kind, key=w.key, window_start=w.window_start_us,
                window_end=w.window_end_us, available_at=w.available_at_us,
                feature_schema_version=w.feature_schema_version, recipe_version=w.recipe_version, status=w.status,
                features=feats, provenance=w.provenance, label_spec=w.label_spec or None,
                content_hash=w.content_hash)


def row_to_window(r: dict):
    """The inverse of :func:`window_row` (null features back to NaN), so hashes survive a round trip."""
    from thunderline.contracts import FeatureWindow

    w = FeatureWindow(
        tenant_id=r["tenant_id"], kind=r["kind"], key=r["key"], window_start_us=int(r["window_start"]),
        window_end_us=int(r["window_end"]), available_at_us=int(r["available_at"]),
        recipe_version=r["recipe_version"],
        features={k: (float("nan") if v is None else float(v)) for k, v in r["features"].items()},
        provenance=r["provenance"], status=r["status"], feature_schema_version=r["feature_schema_version"],
        label_spec=r["label_spec"] or {},
    )
    if r.get("id"):
        w.__dict__["id"] = r["id"]  # the stored id was derived from these same columns; re-deriving costs µs per window
    return w
