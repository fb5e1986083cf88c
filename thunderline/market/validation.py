"""Tick validation: vectorised rules → a keep-mask, reasons per rejected row, flags and counts.

Rules (a row breaking any is rejected, with the first rule it breaks as the reason):

* ``size_non_negative``      — bid/ask/trade sizes and book level sizes are ≥ 0 and finite (NaN = absent);
* ``price_positive_finite``  — bid/ask/trade prices and book level prices, when present, are finite and > 0;
* ``trade_has_price``        — trade rows (EVENT_TRADE) carry a price and a size > 0;
* ``duplicate_seq``          — (venue, symbol, source, seq) was already seen (earlier in the batch or as
  the last seq of an earlier batch);
* ``seq_not_increasing``     — seq is not above the running max of earlier rows of its
  (venue, symbol, source);
* ``ts_in_partition``        — ``ts`` lies in the partition's [start, end) (UTC µs);
* ``ts_not_decreasing``      — ``ts`` is not below the running max of the earlier rows of its
  (venue, symbol, source) that every other rule keeps: time never runs backwards while ``seq`` rises,
  so each source's kept stream is time-ordered (the partition's sources are merged by time for the
  windows). (Not in the GX suite: GX has no "running max over kept rows".) A single row whose
  time jumps ahead inside the partition makes the rows after it, until time catches up, rejects —
  the rule cannot tell which side is wrong, and the kept stream stays ordered either way.

Before any of these, :func:`screen_chunk` (called by every reader through
``thunderline.market.iter_tick_chunks``) moves rows whose venue/symbol is not a valid
identifier (``thunderline.identifiers``) or whose ``ts`` has no partition
(``thunderline.timebounds``) to the chunk's rejects: such a value never becomes a partition
key or a lake path.

Flags (counted and reported, the rows are kept): ``crossed`` (bid > ask) and ``locked`` (bid == ask),
counted over kept rows. (The GX-comparable ``bid_le_ask`` column count covers every row, as GX does.)

:class:`TickValidator` carries the last seq per (venue, symbol) across chunks so a chunked stream
is validated exactly like the whole. A *source* is one delivered file (the ``source`` column): a
vendor's sequence only orders ticks inside its own file (LOBSTER's is the row number), so a second
day, or the afternoon half of a day, starts its own sequence. Whether two files hold the same
events is decided by content, not seq (``thunderline.market.identity``). :func:`gx_validate` runs the same expectations through
Great Expectations 1.x for the asset's check results; :func:`rule_summary` gives the numpy
counts under the same keys, so the two can be compared.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from thunderline.contracts import EVENT_TRADE
from thunderline.market.rejects import Reject
from thunderline.partitioning import month_bounds_us  # noqa: F401  (the partition bounds ticks are checked against)

RULES = ("size_non_negative", "price_positive_finite", "trade_has_price", "duplicate_seq",
         "seq_not_increasing", "ts_in_partition", "ts_not_decreasing")
FLAGS = ("crossed", "locked")
FLOAT_MAX = sys.float_info.max
_SIZES = ("bid_sz", "ask_sz", "trade_sz")
_PRICES = ("bid_px", "ask_px", "trade_px")


@dataclass
class TickValidation:
    """Outcome for one batch: ``keep`` (bool per row), the rejected rows with field and reason,
    violation counts per rule (a row may break several), flag counts, and per-column counts
    used to compare with Great Expectations."""

    keep: np.ndarray
    reject_index: np.ndarray
    reject_field: list[str]
    reject_reason: list[str]
    rule_counts: dict[str, int]
    flag_counts: dict[str, int]
    column_counts: dict[str, int] = field(default_factory=dict)

    @property
    def n_rejected(self) -> int:
        return int(self.reject_index.shape[0])

    def rejects(self, batch: pa.RecordBatch | pa.Table) -> list[Reject]:
        """Rejected rows as :class:`Reject` records (stage "validate"; raw = the row as JSON)."""
        if not self.n_rejected:
            return []
        rows = batch.take(pa.array(self.reject_index)).to_pylist()
        return [
            Reject(str(r.get("source", "")), int(r.get("source_row") or 0), f, why,
                   json.dumps(r, default=str, allow_nan=True), stage="validate")
            for r, f, why in zip(rows, self.reject_field, self.reject_reason)
        ]


def _f64(batch, name: str) -> np.ndarray:
    col = batch.column(name)
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if col.null_count:
        col = col.fill_null(np.nan)
    return col.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)


def _i64(batch, name: str) -> np.ndarray:
    col = batch.column(name)
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if col.null_count:
        col = col.fill_null(0)
    return col.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)


def _list_row_any(batch, name: str, bad_value) -> np.ndarray:
    """Rows whose list column ``name`` holds at least one value for which ``bad_value`` is True."""
    n = batch.num_rows
    col = batch.column(name)
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    out = np.zeros(n, dtype=bool)
    if col.null_count == n:
        return out
    vals = col.flatten().to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore"):
        bad = bad_value(vals)
    if bad.any():
        parents = pc.list_parent_indices(col).to_numpy(zero_copy_only=False)
        out[parents[bad]] = True
    return out


def _constant(col) -> bool:
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    return len(col) > 0 and col.null_count == 0 and bool(pc.all(pc.equal(col, col[0])).as_py())


def stream_keys(batch) -> tuple[np.ndarray, list[str]]:
    """An int code per row for its (venue, symbol, source), and the key names (``venue␟symbol␟source``)."""
    venue, symbol, source = batch.column("venue"), batch.column("symbol"), batch.column("source")
    if _constant(venue) and _constant(symbol) and _constant(source):  # the common case: one stream per batch
        return np.zeros(batch.num_rows, np.int64), [f"{venue[0].as_py()}\x1f{symbol[0].as_py()}\x1f{source[0].as_py()}"]
    key = pc.binary_join_element_wise(venue, symbol, source, "\x1f")
    enc = pc.dictionary_encode(key)
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()
    return enc.indices.to_numpy(zero_copy_only=False).astype(np.int64), enc.dictionary.to_pylist()


class TickValidator:
    """Validates chunks of one partition [start_us, end_us), carrying the last seq per stream."""

    def __init__(self, start_us: int, end_us: int) -> None:
        if end_us <= start_us:
            raise ValueError("partition end must be after its start")
        self.start_us = int(start_us)
        self.end_us = int(end_us)
        self.last_seq: dict[str, int] = {}
        self.last_ts: dict[str, int] = {}
        self.totals: dict[str, int] = {k: 0 for k in (*RULES, *FLAGS, "rows", "kept", "rejected")}

    def validate(self, batch: pa.RecordBatch | pa.Table) -> TickValidation:
        n = batch.num_rows
        found = _RuleFindings(n)
        px = _value_rules(batch, found)
        codes, names = stream_keys(batch)
        self._seq_rules(_i64(batch, "seq"), codes, names, found)
        self._ts_rules(_i64(batch, "ts"), codes, names, found)
        bid, ask = px["bid_px"], px["ask_px"]
        with np.errstate(invalid="ignore"):
            crossed = bid > ask
            locked = bid == ask
        found.colc["bid_le_ask[bid_px,ask_px]"] = int((crossed | locked).sum())
        keep, idx, fields, reasons = found.rejects()
        res = TickValidation(
            keep=keep, reject_index=idx, reject_field=fields, reject_reason=reasons,
            rule_counts={r: int(found.masks[r].sum()) for r in RULES},
            flag_counts={"crossed": int((crossed & keep).sum()), "locked": int((locked & keep).sum())},
            column_counts=found.colc,
        )
        self._tally(res, n)
        return res

    def _seq_rules(self, seq: np.ndarray, codes: np.ndarray, names: list, found: _RuleFindings) -> None:
        """``duplicate_seq`` and ``seq_not_increasing`` per stream, carrying each stream's last seq."""
        n = seq.shape[0]
        dup = np.zeros(n, bool)
        not_inc = np.zeros(n, bool)
        dup_group_rows = 0
        for g, name in enumerate(names):
            idx = np.flatnonzero(codes == g)
            s = seq[idx]
            carry = self.last_seq.get(name)
            prev = np.empty_like(s)
            prev[0] = np.iinfo(np.int64).min if carry is None else carry
            if s.shape[0] > 1:
                prev[1:] = np.maximum.accumulate(s[:-1])
                if carry is not None:
                    prev[1:] = np.maximum(prev[1:], carry)
            bad = s <= prev
            _, first, counts = np.unique(s, return_index=True, return_counts=True)
            seen_before = np.ones(s.shape[0], bool)
            seen_before[first] = False
            dup_group_rows += int(counts[counts > 1].sum())
            d = seen_before | ((s == carry) if carry is not None else False)
            dup[idx] = d
            not_inc[idx] = bad & ~d
            top = int(s.max())
            self.last_seq[name] = top if carry is None else max(top, carry)
        found.add("duplicate_seq", dup, "seq")
        found.add("seq_not_increasing", not_inc, "seq")
        found.colc["seq_increasing[seq]"] = int((dup | not_inc).sum())
        found.colc["unique[venue,symbol,source,seq]"] = dup_group_rows

    def _ts_rules(self, ts: np.ndarray, codes: np.ndarray, names: list, found: _RuleFindings) -> None:
        """``ts_in_partition``, then ``ts_not_decreasing`` over the rows every other rule keeps."""
        out_ts = (ts < self.start_us) | (ts >= self.end_us)
        found.add("ts_in_partition", out_ts, "ts")
        found.colc["ts_in_partition[ts]"] = int(out_ts.sum())
        # time order over the rows every other rule keeps: a row already rejected (say, a ts beyond the
        # partition) neither raises the running max nor is counted twice
        other = np.zeros(ts.shape[0], bool)
        for r in RULES[:-1]:
            other |= found.masks[r]
        back = np.zeros(ts.shape[0], bool)
        for g, name in enumerate(names):
            idx = np.flatnonzero((codes == g) & ~other)
            if idx.size:
                back[idx] = _below_running_max(ts[idx], self.last_ts.get(name))
                t_top = int(ts[idx].max())
                self.last_ts[name] = max(t_top, self.last_ts.get(name, t_top))
        found.add("ts_not_decreasing", back, "ts")

    def _tally(self, res: TickValidation, n: int) -> None:
        """Adds one chunk's counts to the partition totals."""
        for r in RULES:
            self.totals[r] += res.rule_counts[r]
        for f in FLAGS:
            self.totals[f] += res.flag_counts[f]
        self.totals["rows"] += n
        self.totals["kept"] += int(res.keep.sum())
        self.totals["rejected"] += res.n_rejected


class _RuleFindings:
    """What the rules found in one chunk: a mask per rule, the (mask, column) pairs that name the
    field of a rejected row, and the GX-comparable per-column counts."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.masks: dict[str, np.ndarray] = {}
        self.field_of: dict[str, list[tuple[np.ndarray, str]]] = {r: [] for r in RULES}
        self.colc: dict[str, int] = {}

    def add(self, rule: str, mask: np.ndarray, column: str) -> None:
        self.masks[rule] = mask
        self.field_of[rule].append((mask, column))

    def rejects(self) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
        """The keep-mask, the rejected row indices and, per rejected row, the field and reason of the
        first rule (in ``RULES`` order) it breaks."""
        rejected = np.zeros(self.n, bool)
        for r in RULES:
            rejected |= self.masks[r]
        idx = np.flatnonzero(rejected)
        fields: list[str] = []
        reasons: list[str] = []
        if idx.size:
            assigned = np.zeros(self.n, bool)
            f_arr = np.empty(self.n, dtype=object)
            r_arr = np.empty(self.n, dtype=object)
            for r in RULES:
                for m, c in self.field_of[r]:
                    new = m & ~assigned
                    f_arr[new] = c
                    r_arr[new] = _REASON[r]
                    assigned |= new
            fields = f_arr[idx].tolist()
            reasons = r_arr[idx].tolist()
        return ~rejected, idx, fields, reasons


def _value_rules(batch: pa.RecordBatch | pa.Table, found: _RuleFindings) -> dict[str, np.ndarray]:
    """``size_non_negative``, ``price_positive_finite`` and ``trade_has_price``, row by row (no state);
    returns the price columns as float64 for the crossed/locked flags."""
    n = batch.num_rows
    size_bad = np.zeros(n, bool)
    for c in _SIZES:
        x = _f64(batch, c)
        with np.errstate(invalid="ignore"):
            m = (x < 0) | np.isinf(x)
        found.colc[f"size_non_negative[{c}]"] = int(m.sum())
        found.field_of["size_non_negative"].append((m, c))
        size_bad |= m
    for c in ("book_bid_sz", "book_ask_sz"):
        m = _list_row_any(batch, c, lambda v: (v < 0) | np.isinf(v))
        found.field_of["size_non_negative"].append((m, c))
        size_bad |= m
    found.masks["size_non_negative"] = size_bad

    px_bad = np.zeros(n, bool)
    px = {}
    for c in _PRICES:
        x = _f64(batch, c)
        px[c] = x
        with np.errstate(invalid="ignore"):
            m = (x <= 0) | np.isinf(x)
        found.colc[f"price_positive_finite[{c}]"] = int(m.sum())
        found.field_of["price_positive_finite"].append((m, c))
        px_bad |= m
    for c in ("book_bid_px", "book_ask_px"):
        m = _list_row_any(batch, c, lambda v: (v <= 0) | np.isinf(v))
        found.field_of["price_positive_finite"].append((m, c))
        px_bad |= m
    found.masks["price_positive_finite"] = px_bad

    is_trade = _i64(batch, "event_type") == EVENT_TRADE
    tsz = _f64(batch, "trade_sz")
    no_px = is_trade & np.isnan(px["trade_px"])
    with np.errstate(invalid="ignore"):
        no_sz = is_trade & ~(tsz > 0)
    found.colc["trade_has_price[trade_px]"] = int(no_px.sum())
    found.colc["trade_has_price[trade_sz]"] = int(no_sz.sum())
    found.field_of["trade_has_price"] += [(no_px, "trade_px"), (no_sz, "trade_sz")]
    found.masks["trade_has_price"] = no_px | no_sz
    return px


_REASON = {
    "size_non_negative": "size_non_negative: size must be finite and >= 0",
    "price_positive_finite": "price_positive_finite: price must be finite and > 0 when present",
    "trade_has_price": "trade_has_price: a trade needs a price and a size > 0",
    "duplicate_seq": "duplicate_seq: (venue, symbol, source, seq) already seen",
    "seq_not_increasing": "seq_not_increasing: seq must increase strictly per (venue, symbol, source file)",
    "ts_in_partition": "ts_in_partition: ts outside the partition [start, end)",
    "ts_not_decreasing": "ts_not_decreasing: ts went backwards while seq rose (per venue, symbol, source file)",
}


def _below_running_max(ts: np.ndarray, carry: int | None) -> np.ndarray:
    """Rows whose ts is below the max ts of the earlier rows of the same stream (seeded by ``carry``)."""
    prev = np.empty_like(ts)
    prev[0] = np.iinfo(np.int64).min if carry is None else carry
    if ts.shape[0] > 1:
        prev[1:] = np.maximum.accumulate(ts[:-1])
        if carry is not None:
            prev[1:] = np.maximum(prev[1:], carry)
    return ts < prev


def validate_ticks(batch: pa.RecordBatch | pa.Table, start_us: int, end_us: int) -> TickValidation:
    """Validate one self-contained batch (no carried seq state)."""
    return TickValidator(start_us, end_us).validate(batch)


def rule_summary(v: TickValidation) -> dict[str, dict[str, Any]]:
    """The numpy counts in :func:`gx_validate`'s shape: key → {success, unexpected_count}."""
    return {k: {"success": c == 0, "unexpected_count": c} for k, c in sorted(v.column_counts.items())}


# --------------------------------------------------------------------------- Great Expectations
def _gx():
    os.environ["GX_ANALYTICS_ENABLED"] = "False"  # never send usage analytics from the platform
    import great_expectations as gx  # deferred: importing GX takes seconds

    return gx


GX_COLUMNS = ["venue", "symbol", "source", "ts", "seq", "event_type", *_PRICES, *_SIZES]


def gx_frame(batch: pa.RecordBatch | pa.Table, prev_seq: dict[str, int] | None = None) -> pd.DataFrame:
    """The scalar columns GX validates, plus ``prev_seq_max``: the running max of earlier seqs of the
    same (venue, symbol, source) (seeded from ``prev_seq``), computed independently with pandas.

    venue/symbol/source are pandas categoricals (Arrow dictionary → codes, no per-row Python
    strings): GX's compound-unique check and the grouping below run on integer codes."""
    t = batch.select(GX_COLUMNS)
    t = t if isinstance(t, pa.Table) else pa.Table.from_batches([t])
    df = t.to_pandas(strings_to_categorical=True)
    for c in (*_PRICES, *_SIZES):
        df[c] = df[c].astype("float64")
    codes, keys = source_groups(df)
    seq = df["seq"]
    prev = seq.groupby(codes, sort=False).cummax().groupby(codes, sort=False).shift(1).astype("float64")
    if prev_seq:
        seed = np.array([prev_seq.get(k, np.nan) for k in keys], dtype="float64")
        prev = np.fmax(prev, seed[codes]) if len(keys) else prev
    df["prev_seq_max"] = prev
    return df


def source_groups(df: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Per row the code of its (venue, symbol, source) and per code its ``venue\x1fsymbol\x1fsource``
    key (the key ``prev_seq`` is indexed by), codes in order of first appearance."""
    g = df.groupby(["venue", "symbol", "source"], sort=False, observed=True, dropna=False)
    codes = g.ngroup().to_numpy()
    first = df.iloc[np.unique(codes, return_index=True)[1]]
    keys = [f"{v}\x1f{s}\x1f{src}" for v, s, src in zip(first["venue"], first["symbol"], first["source"])]
    return codes, keys


class GxTickSuite:
    """The validation rules as one GX 1.x expectation suite on an ephemeral context.

    Build once per partition (context creation costs ~1 s) and call :meth:`validate` per frame.
    Analytics are off (``GX_ANALYTICS_ENABLED=False``) and progress bars disabled.
    """

    def __init__(self, start_us: int, end_us: int) -> None:
        gx = _gx()
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.ctx = gx.get_context(mode="ephemeral")
        self.ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        ds = self.ctx.data_sources.add_pandas("thunderline_ticks")
        asset = ds.add_dataframe_asset("ticks")
        self.batch_definition = asset.add_batch_definition_whole_dataframe("chunk")
        E = gx.expectations
        ex: dict[str, Any] = {}
        for c in _SIZES:
            ex[f"size_non_negative[{c}]"] = E.ExpectColumnValuesToBeBetween(column=c, min_value=0, max_value=FLOAT_MAX)
        for c in _PRICES:
            ex[f"price_positive_finite[{c}]"] = E.ExpectColumnValuesToBeBetween(
                column=c, min_value=0, strict_min=True, max_value=FLOAT_MAX)
        from great_expectations.expectations.row_conditions import Column

        is_trade = Column("event_type") == EVENT_TRADE
        ex["trade_has_price[trade_px]"] = E.ExpectColumnValuesToNotBeNull(column="trade_px", row_condition=is_trade)
        ex["trade_has_price[trade_sz]"] = E.ExpectColumnValuesToBeBetween(
            column="trade_sz", min_value=0, strict_min=True, row_condition=is_trade)
        ex["seq_increasing[seq]"] = E.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="seq", column_B="prev_seq_max", or_equal=False, ignore_row_if="either_value_is_missing")
        ex["unique[venue,symbol,source,seq]"] = E.ExpectCompoundColumnsToBeUnique(column_list=["venue", "symbol", "source", "seq"])
        ex["ts_in_partition[ts]"] = E.ExpectColumnValuesToBeBetween(column="ts", min_value=int(start_us),
                                                                    max_value=int(end_us) - 1)
        ex["bid_le_ask[bid_px,ask_px]"] = E.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="ask_px", column_B="bid_px", or_equal=False, ignore_row_if="either_value_is_missing")
        self.keys = list(ex)
        self.suite = self.ctx.suites.add(gx.ExpectationSuite(name="thunderline_ticks"))
        for k in self.keys:
            ex[k].meta = {"thunderline_key": k}
            self.suite.add_expectation(ex[k])

    def validate(self, df: pd.DataFrame, result_format: str = "COMPLETE") -> dict[str, dict[str, Any]]:
        """key → {success, unexpected_count, element_count, unexpected_index_list}.

        ``result_format="BASIC"`` (the ingest's) gives the same success and counts without the row
        index lists, which GX builds per row (a third of its time on a clean chunk)."""
        batch = self.batch_definition.get_batch(batch_parameters={"dataframe": df})
        res = batch.validate(self.suite, result_format=result_format)
        out: dict[str, dict[str, Any]] = {}
        for r in res.results:
            key = (r.expectation_config.meta or {}).get("thunderline_key")
            rr = r.result or {}
            out[key] = {
                "success": bool(r.success),
                "unexpected_count": int(rr.get("unexpected_count") or 0),
                "element_count": int(rr.get("element_count") or 0),
                "unexpected_index_list": list(rr.get("unexpected_index_list") or []),
            }
        return dict(sorted(out.items()))


def gx_validate(batch: pa.RecordBatch | pa.Table, start_us: int, end_us: int,
                suite: GxTickSuite | None = None, prev_seq: dict[str, int] | None = None) -> dict[str, dict[str, Any]]:
    """Run the tick expectations through GX on one batch; see :class:`GxTickSuite`."""
    suite = suite or GxTickSuite(start_us, end_us)
    return suite.validate(gx_frame(batch, prev_seq))


# --------------------------------------------------------------------------- admission (every reader)
def screen_chunk(chunk, now_s: float | None = None):
    """The chunk with rows that must never reach a partition moved to its rejects.

    A row is screened out when its venue or symbol is not a valid identifier
    (:mod:`thunderline.identifiers`: no path separators, ``|``, control bytes …) or its ``ts``
    lies outside the times that have a partition (:mod:`thunderline.timebounds`). The
    reject names the file, the row (``source_row``), the field and the rule. Vectorised:
    distinct names are checked once, times as one comparison.
    """
    from thunderline.identifiers import invalid_mask, rule_of
    from thunderline.market._build import TickChunk
    from thunderline.timebounds import out_of_range_reason, supported_range_us

    b = chunk.batch
    n = b.num_rows
    if n == 0:
        return chunk
    bad_venue = invalid_mask(b.column("venue"), "venue")
    bad_symbol = invalid_mask(b.column("symbol"), "symbol")
    lo, hi = supported_range_us(now_s)
    ts = _i64(b, "ts")
    bad_ts = (ts < lo) | (ts >= hi)
    bad = bad_venue | bad_symbol | bad_ts
    if not bad.any():
        return chunk
    idx = np.flatnonzero(bad)
    rows = b.take(pa.array(idx)).to_pylist()
    ts_reason = out_of_range_reason(lo, hi)
    extra = []
    for i, r in zip(idx, rows):
        if bad_venue[i]:
            f, why = "venue", f"identifier: {rule_of('venue')}"
        elif bad_symbol[i]:
            f, why = "symbol", f"identifier: {rule_of('symbol')}"
        else:
            f, why = "ts", ts_reason
        extra.append(Reject(str(r.get("source", "")), int(r.get("source_row") or 0), f, why,
                            json.dumps(r, default=str, allow_nan=True), stage="parse"))
    return TickChunk(b.filter(pa.array(~bad)), tuple(chunk.rejects) + tuple(extra))


def admissible_mask(symbol, ts, now_s: float | None = None) -> np.ndarray:
    """Rows whose symbol is a valid identifier and whose ts (nulls excluded) has a partition."""
    from thunderline.identifiers import invalid_mask
    from thunderline.timebounds import supported_range_us

    lo, hi = supported_range_us(now_s)
    if isinstance(ts, pa.ChunkedArray):
        ts = ts.combine_chunks()
    valid = ts.is_valid().to_numpy(zero_copy_only=False)
    t = ts.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    return valid & (t >= lo) & (t < hi) & ~invalid_mask(symbol, "symbol")
