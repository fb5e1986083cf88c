"""Sliding-window market features: recipes, a streaming window builder, FeatureWindow output.

Windows: width ``w`` (default 250 ms) and step ``s = w·(1 − overlap)`` (default 50 %
overlap → 125 ms); ``w / s`` must be an integer ``r``. Window ``k`` covers
``[k·s, k·s + w)`` in UTC µs, so every tick lies in exactly ``r`` windows. Only windows
holding at least one tick are emitted. A window is final once a tick at or after its end
has been seen (or at :meth:`WindowBuilder.flush`); its ``available_at_us`` is its end.

Features (all over the ticks in the window, in tick order; "book rows" have a finite bid
and ask; see ``kernels`` for the conventions on empty levels and out-of-order time):

=====================  =========================================================================
mid_return             log(last mid / first mid)
spread, spread_bps     mean of ask − bid and of (ask − bid)/mid·10⁴ over book rows
spread_twa             time-weighted spread over the window (the spread in force at the window
                       start comes from before it; no look-ahead)
imbalance_top1         mean of (bid_sz₁ − ask_sz₁)/(bid_sz₁ + ask_sz₁)
imbalance_topn         same with sizes summed over all book levels
ofi_1 … ofi_5          Cont–Kukanov–Stoikov order-flow imbalance per level, summed over events
                       (levels beyond the book depth are 0)
order_flow_imbalance   ofi_1 + … + ofi_5
realized_vol           sqrt of the sum of squared log mid returns between consecutive book rows
                       inside the window
trade_count, volume,   count, Σ size, Σ px·size / Σ size, Σ side·size over trades
vwap, signed_volume
tick_rate              ticks per second of window width
microburst             1 if tick_rate > burst_factor × EWMA(tick_rate of earlier emitted windows)
imbalance_top1_end     (bid_sz₁ − ask_sz₁)/(bid_sz₁ + ask_sz₁) at the window's last book row: the queue
                       imbalance in force at the decision (``imbalance_top1`` is its window mean)
microprice_dev_bps     (microprice − mid)/mid·10⁴ at that row, microprice = (ask·bid_sz₁ + bid·ask_sz₁)/
                       (bid_sz₁ + ask_sz₁), i.e. spread_bps/2 × imbalance
mid_age_log_ms         log(1 + ms from the last mid change to the window end); the change may lie in
                       an earlier window (carried state), never after the window
ofi_1_ewm_1s, _5s      top-of-book OFI summed over step buckets with weights exp(−age/τ), τ = 1 s / 5 s,
                       age from each bucket's end to the window's end: OFI over longer lookbacks
=====================  =========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from thunderline.contracts import FeatureWindow, book_level_column
from thunderline.lake_codec import decimal_floats, decimals_of
from thunderline.market import kernels as K


# --------------------------------------------------------------------------- recipes
@dataclass(frozen=True)
class Recipe:
    """What a feature window means: the ordered feature names and every parameter that
    changes a value. ``recipe_version`` is derived from all of them."""

    name: str
    feature_names: tuple[str, ...]
    width_us: int = 250_000
    step_us: int = 125_000
    full: bool = True
    ofi_levels: int = K.MAX_OFI_LEVELS
    burst_factor: float = 4.0
    ewma_alpha: float = 0.1
    version: int = 1

    def __post_init__(self) -> None:
        if self.width_us <= 0 or self.step_us <= 0 or self.width_us % self.step_us:
            raise ValueError(f"window width {self.width_us} µs must be a positive multiple of step {self.step_us} µs")
        unknown = [f for f in self.feature_names if f not in K.FEATURES_ALL]
        if unknown:
            raise ValueError(f"unknown features {unknown}; known: {K.FEATURES_ALL}")
        if not 1 <= self.ofi_levels <= K.MAX_OFI_LEVELS:
            raise ValueError(f"ofi_levels must be in 1..{K.MAX_OFI_LEVELS}")

    @property
    def windows_per_tick(self) -> int:
        return self.width_us // self.step_us

    @property
    def recipe_version(self) -> str:
        extra = f":ofi{self.ofi_levels}:burst{self.burst_factor:g}x:a{self.ewma_alpha:g}" if self.full else ""
        return f"market.{self.name}.v{self.version}:w{self.width_us}us:s{self.step_us}us{extra}"

    @property
    def columns(self) -> np.ndarray:
        return np.array([K.FEATURES_ALL.index(f) for f in self.feature_names], dtype=np.intp)


FULL_FEATURES = K.FEATURES_ALL
COARSE_FEATURES = ("mid_return", "spread", "trade_count", "volume", "vwap")


def market_recipe(kind: str = "full", *, width_ms: float = 250.0, overlap: float = 0.5, **params: Any) -> Recipe:
    """The standard recipes: ``"full"`` (every feature) or ``"coarse"`` (core price/volume,
    for the backpressure ladder). ``overlap`` in [0, 1) must make width/step an integer."""
    width_us = int(round(width_ms * 1000))
    step = width_us * (1.0 - overlap)
    step_us = int(round(step))
    if not 0.0 <= overlap < 1.0 or abs(step - step_us) > 1e-9 or step_us <= 0:
        raise ValueError(f"overlap {overlap} with width {width_ms} ms does not give an integer step in µs")
    if kind == "full":
        return Recipe("full", FULL_FEATURES, width_us, step_us, full=True, **params)
    if kind == "coarse":
        return Recipe("coarse", COARSE_FEATURES, width_us, step_us, full=False, **params)
    raise ValueError(f"unknown recipe kind {kind!r}: 'full' or 'coarse'")


FULL_RECIPE = market_recipe("full")
COARSE_RECIPE = market_recipe("coarse")


# --------------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class TickArrays:
    """Kernel input: numpy columns of one (venue, symbol) stream; book levels as (n, D) arrays."""

    ts: np.ndarray
    seq: np.ndarray
    event_type: np.ndarray
    bid_px: np.ndarray
    bid_sz: np.ndarray
    ask_px: np.ndarray
    ask_sz: np.ndarray
    trade_px: np.ndarray
    trade_sz: np.ndarray
    trade_side: np.ndarray

    def __len__(self) -> int:
        return self.ts.shape[0]


def _np(col: pa.Array | pa.ChunkedArray, dtype, fill=None, field: pa.Field | None = None) -> np.ndarray:
    """``col`` as a contiguous numpy array of ``dtype``, nulls as ``fill``; a lake price column stored as
    decimal ticks (:mod:`thunderline.lake_codec`) is divided back into float64 in the same pass."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    k = decimals_of(field) if field is not None else None
    if k is not None:
        return decimal_floats(col, k, null=np.nan if fill is None else fill)
    if fill is not None and col.null_count:
        col = col.fill_null(fill)
    return np.ascontiguousarray(col.to_numpy(zero_copy_only=False), dtype=dtype)


def _levels(batch, name: str, top: np.ndarray, depth: int, fill: float) -> np.ndarray:
    """(n, depth) levels from a list column, or from the plain level columns of a lake file in layout
    ``levels`` (:mod:`thunderline.store.lake`: one vectorised copy per level, no per-tick work); rows
    without a list use the top-of-book value at level 1, levels a book lacks are ``fill``."""
    n = top.shape[0]
    if name not in batch.schema.names:
        # filled level by level into a (depth, n) buffer (contiguous writes; a (n, depth) C array would be
        # written with a stride per level, ~5x slower) and handed over as its (n, depth) Fortran-order view
        have = _level_count(batch.schema.names, name)
        out = np.empty((depth, n)) if have >= depth else np.full((depth, n), fill)
        if not have:
            out[0] = top
        for lv in range(min(depth, have)):
            col = batch.column(book_level_column(name, lv + 1))
            if isinstance(col, pa.ChunkedArray):
                col = col.combine_chunks()
            k = decimals_of(batch.schema.field(book_level_column(name, lv + 1)))
            if k is not None:
                decimal_floats(col, k, out=out[lv], null=fill)  # straight into the kernel's buffer
            else:
                out[lv] = (col.fill_null(fill) if col.null_count else col).to_numpy(zero_copy_only=False)
        return out.T
    col = batch.column(name)
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if col.null_count == n:
        out = np.full((n, depth), fill)
        out[:, 0] = top
        return out
    lens = pc.list_value_length(col).fill_null(0).to_numpy(zero_copy_only=False)
    vals = col.flatten().to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    if col.null_count == 0 and lens.size and (lens == depth).all():
        return vals.reshape(n, depth)
    out = np.full((n, depth), fill)
    starts = np.concatenate(([0], np.cumsum(lens)[:-1]))
    for lv in range(depth):
        has = lens > lv
        out[has, lv] = vals[starts[has] + lv]
    nolist = col.is_null().to_numpy(zero_copy_only=False)
    out[nolist, 0] = top[nolist]
    return out


def _level_count(names, name: str) -> int:
    """How many plain level columns of list field ``name`` a lake batch in layout ``levels`` has."""
    k = 0
    while book_level_column(name, k + 1) in names:
        k += 1
    return k


def book_depth(batch: pa.RecordBatch | pa.Table) -> int:
    """The largest number of book levels any row of ``batch`` carries (1 when there are no lists)."""
    if "book_bid_px" not in batch.schema.names:
        return max(1, _level_count(batch.schema.names, "book_bid_px"))
    col = batch.column("book_bid_px")
    lens = pc.list_value_length(col)
    m = pc.max(lens).as_py()
    return max(1, int(m or 0))


def tick_arrays(batch: pa.RecordBatch | pa.Table, depth: int | None = None) -> TickArrays:
    """TICK_SCHEMA rows → kernel arrays. ``depth=1`` uses only top of book (no list columns read);
    ``None`` uses the deepest book present. Shorter books are padded with NaN price / 0 size."""
    def col(name: str, dtype, fill=None) -> np.ndarray:
        return _np(batch.column(name), dtype, fill, batch.schema.field(name))

    bid_px, bid_sz = col("bid_px", np.float64, np.nan), col("bid_sz", np.float64, np.nan)
    ask_px, ask_sz = col("ask_px", np.float64, np.nan), col("ask_sz", np.float64, np.nan)
    if depth is None:
        depth = book_depth(batch)
    if depth == 1:
        bpx, bsz, apx, asz = (x.reshape(-1, 1) for x in (bid_px, bid_sz, ask_px, ask_sz))
    else:
        bpx = _levels(batch, "book_bid_px", bid_px, depth, np.nan)
        bsz = _levels(batch, "book_bid_sz", bid_sz, depth, 0.0)
        apx = _levels(batch, "book_ask_px", ask_px, depth, np.nan)
        asz = _levels(batch, "book_ask_sz", ask_sz, depth, 0.0)
    return TickArrays(
        ts=col("ts", np.int64), seq=col("seq", np.int64), event_type=col("event_type", np.int8),
        bid_px=bpx, bid_sz=bsz, ask_px=apx, ask_sz=asz,
        trade_px=col("trade_px", np.float64, np.nan), trade_sz=col("trade_sz", np.float64, 0.0),
        trade_side=col("trade_side", np.int8, 0),
    )


# --------------------------------------------------------------------------- outputs
@dataclass
class WindowResult:
    """Windows in increasing start order: bounds (UTC µs), features (n × len(feature_names)),
    first/last ``seq`` and tick count per window."""

    window_start_us: np.ndarray
    window_end_us: np.ndarray
    features: np.ndarray
    first_seq: np.ndarray
    last_seq: np.ndarray
    tick_count: np.ndarray
    feature_names: tuple[str, ...]
    recipe_version: str

    def __len__(self) -> int:
        return self.window_start_us.shape[0]

    @classmethod
    def empty(cls, recipe: Recipe) -> "WindowResult":
        z = np.zeros(0, np.int64)
        return cls(z, z.copy(), np.zeros((0, len(recipe.feature_names))), z.copy(), z.copy(), z.copy(),
                   recipe.feature_names, recipe.recipe_version)

    @classmethod
    def concat(cls, parts: Sequence["WindowResult"], recipe: Recipe) -> "WindowResult":
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty(recipe)
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                     ("window_start_us", "window_end_us", "features", "first_seq", "last_seq", "tick_count")),
                   recipe.feature_names, recipe.recipe_version)

    def to_dict(self) -> dict[str, np.ndarray]:
        d = {"window_start_us": self.window_start_us, "window_end_us": self.window_end_us,
             "first_seq": self.first_seq, "last_seq": self.last_seq, "tick_count": self.tick_count}
        for i, name in enumerate(self.feature_names):
            d[name] = self.features[:, i]
        return d


def _read_only(x: np.ndarray) -> np.ndarray:
    """A read-only view: the kernel's tick inputs have one numba signature whatever their origin.

    Why: Arrow-backed columns arrive read-only, padded or filled ones writable, and numba
    specialises on the difference — a stream whose first batch differs from the warm-up (a
    Binance book of partial depth after synthetic full-depth ticks) loaded a second compiled
    kernel inside the first micro-batch's latency (measured ~0.2 s under load).
    """
    if not x.flags.writeable:
        return x
    v = x.view()
    v.flags.writeable = False
    return v


class WindowBuilder:
    """Streaming window features for one (venue, symbol) tick stream.

    Feed chunks in stream order with :meth:`update` (each returns the windows that became
    final); call :meth:`flush` once at the end. Open buckets, the last book, the last mid,
    the spread in force and the microburst EWMA are carried across chunks, so any chunking
    yields bitwise-identical windows to one call over the whole stream.
    """

    def __init__(self, recipe: Recipe = FULL_RECIPE, *, depth: int | None = None) -> None:
        self.recipe = recipe
        self.depth = depth
        self._si, self._sf, self._book, self._obi, self._obf = K.new_state()
        self._pend_bi = np.zeros((0, K.NBI), np.int64)
        self._pend_bf = np.zeros((0, K.NBF))
        self._prior_end_spread = np.nan
        self._next_k = K.NO_BUCKET
        self._ewma = np.zeros(2)
        self._ofi_ewm = np.zeros(4)
        self._closed = False

    def update(self, ticks: pa.RecordBatch | pa.Table | TickArrays) -> WindowResult:
        if self._closed:
            raise RuntimeError("WindowBuilder.update after flush(): start a new builder")
        a = ticks if isinstance(ticks, TickArrays) else tick_arrays(ticks, self.depth)
        n = len(a)
        if n == 0:
            return WindowResult.empty(self.recipe)
        step = self.recipe.step_us
        t0 = int(a.ts[0])
        if self._si[K.S_HAS_T]:
            t0 = max(t0, int(self._si[K.S_TMAX]))
        cap = int(min(n, (int(a.ts.max()) - t0) // step + 2)) if int(a.ts.max()) >= t0 else 1
        out_bi = np.empty((cap, K.NBI), np.int64)
        out_bf = np.empty((cap, K.NBF))
        ins = [_read_only(x) for x in (a.ts, a.seq, a.event_type, a.bid_px, a.bid_sz, a.ask_px, a.ask_sz,
                                       a.trade_px, a.trade_sz, a.trade_side)]
        lv1 = [_read_only(np.ascontiguousarray(x[:, 0])) for x in ins[3:7]]
        nout = K.bucket_pass(*ins, step, self.recipe.ofi_levels,
                             self.recipe.full, self._si, self._sf, self._book, self._obi, self._obf,
                             out_bi, out_bf, *lv1)
        if nout:
            K.ofi_ewm_pass(out_bi, out_bf, nout, step, self._ofi_ewm)
            self._pend_bi = np.concatenate([self._pend_bi, out_bi[:nout]])
            self._pend_bf = np.concatenate([self._pend_bf, out_bf[:nout]])
        k_limit = int(self._obi[K.I_IDX]) - self.recipe.windows_per_tick + 1
        return self._emit(k_limit)

    def flush(self) -> WindowResult:
        """Close the open bucket and emit every remaining window."""
        if self._closed:
            return WindowResult.empty(self.recipe)
        self._closed = True
        if not self._si[K.S_HAS_OPEN]:
            return WindowResult.empty(self.recipe)
        ob = np.empty((1, K.NBI), np.int64)
        of = np.empty((1, K.NBF))
        K.close_open_bucket(self._si, self._sf, self._obi, self._obf, ob, of, 0)
        K.ofi_ewm_pass(ob, of, 1, self.recipe.step_us, self._ofi_ewm)
        self._pend_bi = np.concatenate([self._pend_bi, ob])
        self._pend_bf = np.concatenate([self._pend_bf, of])
        return self._emit(int(ob[0, K.I_IDX]) + 1)

    def _emit(self, k_limit: int) -> WindowResult:
        r = self.recipe.windows_per_tick
        nb_ = self._pend_bi.shape[0]
        if k_limit <= self._next_k or nb_ == 0:
            return WindowResult.empty(self.recipe)
        cap = nb_ * r
        out_k = np.empty(cap, np.int64)
        out_f = np.empty((cap, K.NFEAT))
        fs = np.empty(cap, np.int64)
        ls = np.empty(cap, np.int64)
        cnt = np.empty(cap, np.int64)
        nw = K.combine_windows(self._pend_bi, self._pend_bf, nb_, r, self.recipe.step_us, self._next_k, k_limit,
                               self._prior_end_spread, self._ewma, self.recipe.ewma_alpha,
                               self.recipe.burst_factor, self.recipe.width_us / 1e6,
                               out_k, out_f, fs, ls, cnt)
        self._next_k = k_limit
        drop = int(np.searchsorted(self._pend_bi[:, K.I_IDX], k_limit))
        if drop:
            self._prior_end_spread = float(self._pend_bf[drop - 1, K.F_END_SPREAD])
            self._pend_bi = self._pend_bi[drop:].copy()
            self._pend_bf = self._pend_bf[drop:].copy()
        start = out_k[:nw] * self.recipe.step_us
        return WindowResult(start, start + self.recipe.width_us, out_f[:nw][:, self.recipe.columns],
                            fs[:nw].copy(), ls[:nw].copy(), cnt[:nw].copy(),
                            self.recipe.feature_names, self.recipe.recipe_version)


def build_windows(chunks: Iterable[pa.RecordBatch | pa.Table | TickArrays], recipe: Recipe = FULL_RECIPE,
                  *, depth: int | None = None) -> WindowResult:
    """All windows of one (venue, symbol) stream given as chunks in stream order."""
    b = WindowBuilder(recipe, depth=depth)
    parts = [b.update(c) for c in chunks]
    parts.append(b.flush())
    return WindowResult.concat(parts, recipe)


# --------------------------------------------------------------------------- FeatureWindow
@dataclass(frozen=True)
class BatchRef:
    """A tick batch that fed the windows: its id and the seq range it holds (inclusive)."""

    batch_id: str
    seq_min: int
    seq_max: int


def to_feature_windows(result: WindowResult, *, tenant_id: str, symbol: str,
                       batches: Sequence[BatchRef | Mapping[str, Any]] = (),
                       venue: str | None = None,
                       spans: Sequence[list[dict]] | None = None) -> list[FeatureWindow]:
    """``contracts.FeatureWindow`` objects (kind "market", key = symbol, status "filled",
    available at the window end). ``provenance`` lists the batches whose seq range overlaps the
    window's [first_seq, last_seq] with the overlapping sub-range, plus the window's own range.

    ``spans`` (one list per window of ``{"batch_id", "seq_min", "seq_max"}``, in stream order)
    replaces the seq-range lookup where the stream merges several sources, whose seqs are only
    meaningful inside their own batch; ``seq_first``/``seq_last`` are then the first span's
    ``seq_min`` and the last span's ``seq_max``."""
    cols = _WindowColumns(result)
    if spans is not None:
        return [_window(cols, i, tenant_id, symbol, venue, list(spans[i]), spans[i][0]["seq_min"],
                        spans[i][-1]["seq_max"]) for i in range(len(result))]
    refs = [b if isinstance(b, BatchRef) else BatchRef(str(b["batch_id"]), int(b["seq_min"]), int(b["seq_max"]))
            for b in batches]
    refs.sort(key=lambda b: (b.seq_min, b.batch_id))
    out: list[FeatureWindow] = []
    for i in range(len(result)):
        lo, hi = int(result.first_seq[i]), int(result.last_seq[i])
        cited = [{"batch_id": b.batch_id, "seq_min": max(lo, b.seq_min), "seq_max": min(hi, b.seq_max)}
                 for b in refs if b.seq_min <= hi and b.seq_max >= lo]
        out.append(_window(cols, i, tenant_id, symbol, venue, cited, lo, hi))
    return out


class _WindowColumns:
    """A WindowResult's columns as Python lists, converted once (``tolist``) rather than element by element."""

    def __init__(self, result: WindowResult) -> None:
        self.start, self.end = result.window_start_us.tolist(), result.window_end_us.tolist()
        self.ticks, self.features = result.tick_count.tolist(), result.features.tolist()
        self.names, self.recipe_version = result.feature_names, result.recipe_version


def _window(cols: _WindowColumns, i: int, tenant_id: str, symbol: str, venue: str | None, cited: list[dict],
            lo: int, hi: int) -> FeatureWindow:
    prov: dict[str, Any] = {"batches": cited, "seq_first": int(lo), "seq_last": int(hi),
                            "tick_count": int(cols.ticks[i])}
    if venue is not None:
        prov["venue"] = venue
    end = int(cols.end[i])
    return FeatureWindow(
        tenant_id=tenant_id, kind="market", key=symbol,
        window_start_us=int(cols.start[i]), window_end_us=end, available_at_us=end,
        recipe_version=cols.recipe_version,
        features=dict(zip(cols.names, cols.features[i])),
        provenance=prov, status="filled",
    )

