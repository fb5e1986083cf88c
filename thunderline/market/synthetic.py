"""Deterministic synthetic tick streams for tests and benchmarks.

Guarantees:

* the same :class:`SyntheticSpec` gives byte-identical ticks, whatever ``chunk_rows`` is:
  values are drawn in fixed internal blocks, each from its own generator seeded by
  ``(seed, block index)``, with the state that links blocks (time, price, regime, bursts)
  carried in order; ``chunk_rows`` only decides where batches are cut;
* memory is bounded by ``chunk_rows`` and the block size, never by ``n_ticks``;
* rows follow TICK_SCHEMA: quotes and trades (``trade_side`` ±1, trade at the touch),
  a ``depth``-level book on a price grid, strictly increasing ``seq`` (1-based), ``ts``
  non-decreasing UTC µs; ``source`` is ``synthetic:<symbol>:seed=<seed>``.

The stream has two regimes (calm / volatile: more and larger price moves, wider spreads,
1.5× rate), short microbursts (≈50 ticks at 20× rate) and longer 10× rate spikes.

With ``ofi_impact`` > 0 the stream also has something to learn, the structure real books have:
in the calm regime the direction of a mid move follows a persistent top-of-book imbalance
(an AR(1) per tick, φ = 0.999, shown in the best-level sizes; ``P(up | move) = ½ + ofi_impact ·
imbalance``: order-flow experts are right there); in the volatile regime it follows a latent
trend of the same persistence that the book does not show (momentum experts are right there). ``ofi_impact = 0`` (the default) gives the original
driftless stream, byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa

from thunderline.contracts import DEFAULT_BOOK_DEPTH, EVENT_QUOTE, EVENT_TRADE, TICK_SCHEMA
from thunderline.market._build import const_strings

_BLOCK = 1 << 16


@dataclass(frozen=True)
class SyntheticSpec:
    n_ticks: int = 1_000_000
    seed: int = 0
    symbol: str = "SYN"
    venue: str = "SYNTH"
    start_us: int = 1_704_205_800_000_000  # 2024-01-02 14:30:00 UTC (09:30 New York)
    depth: int = DEFAULT_BOOK_DEPTH
    base_rate: float = 2_000.0  # ticks per second in the calm regime
    price_scale: int = 100  # prices are integer ticks / price_scale (tick = 0.01)
    start_price_ticks: int = 10_000  # 100.00
    trade_prob: float = 0.15
    regime_switch_prob: float = 2e-5  # per tick
    microburst_prob: float = 2e-4  # per tick; lasts microburst_len ticks at 20× rate
    microburst_len: int = 50
    spike_prob: float = 2e-5  # per tick; lasts spike_len ticks at 10× rate
    spike_len: int = 5_000
    ofi_impact: float = 0.0  # planted structure (see the module docstring); 0 = driftless random walk


def _active(starts: np.ndarray, length: int, carry: int) -> tuple[np.ndarray, int]:
    """Rows covered by events starting at ``starts`` that last ``length`` rows (plus ``carry`` rows
    left from the previous block); returns (mask, rows left for the next block)."""
    n = starts.shape[0]
    c = np.concatenate(([0], np.cumsum(starts, dtype=np.int64)))
    lo = np.maximum(np.arange(n) - length + 1, 0)
    mask = (c[np.arange(n) + 1] - c[lo]) > 0
    if carry:
        mask[: min(carry, n)] = True
    idx = np.flatnonzero(starts)
    left = max(carry - n, 0)
    if idx.size:
        left = max(left, int(idx[-1]) + length - n)
    return mask, left


class _State:
    def __init__(self, spec: SyntheticSpec) -> None:
        self.t = spec.start_us
        self.bid = spec.start_price_ticks
        self.regime = 0
        self.burst_left = 0
        self.spike_left = 0
        self.row = 0
        self.trend = 0.0
        self.last_imbalance = 0.0


def _block(spec: SyntheticSpec, st: _State, b: int, n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([spec.seed, b])
    D = spec.depth
    switch = rng.random(n) < spec.regime_switch_prob
    regime = (st.regime + np.cumsum(switch)) % 2  # 0 calm, 1 volatile
    st.regime = int(regime[-1])
    burst, st.burst_left = _active(rng.random(n) < spec.microburst_prob, spec.microburst_len, st.burst_left)
    spike, st.spike_left = _active(rng.random(n) < spec.spike_prob, spec.spike_len, st.spike_left)
    mult = np.where(regime == 1, 1.5, 1.0) * np.where(burst, 20.0, 1.0) * np.where(spike, 10.0, 1.0)
    dt = np.floor(rng.exponential(1.0, n) * (1e6 / spec.base_rate) / mult).astype(np.int64)
    ts = st.t + np.cumsum(dt)
    st.t = int(ts[-1])
    move_p = np.where(regime == 1, 0.12, 0.04)
    u = rng.random(n)
    size = np.where(regime == 1, rng.integers(1, 4, n), 1)
    if spec.ofi_impact > 0:
        step, planted_sizes = _planted_steps(spec, st, b, n, regime, u, move_p, size)
    else:
        step = np.where(u < move_p / 2, -size, np.where(u < move_p, size, 0))
        planted_sizes = None
    bid = st.bid + np.cumsum(step)
    bid = np.maximum(bid, 100)  # keep the price positive (floor at 1.00)
    st.bid = int(bid[-1])
    spread = np.where(regime == 1, rng.integers(1, 6, n), rng.choice(np.array([1, 1, 1, 2]), n))
    ask = bid + spread
    lv = np.arange(D)
    scale = float(spec.price_scale)
    bpx = (bid[:, None] - lv[None, :]) / scale
    apx = (ask[:, None] + lv[None, :]) / scale
    if planted_sizes is None:
        bsz = rng.integers(1, 50, (n, D)).astype(np.float64) * 100.0
        asz = rng.integers(1, 50, (n, D)).astype(np.float64) * 100.0
    else:
        bsz, asz = planted_sizes
    is_trade = rng.random(n) < spec.trade_prob
    side = np.where(rng.random(n) < 0.5, 1, -1).astype(np.int8)
    tpx = np.where(is_trade, np.where(side == 1, apx[:, 0], bpx[:, 0]), np.nan)
    tsz = np.where(is_trade, rng.integers(1, 20, n) * 100.0, 0.0)
    side = np.where(is_trade, side, 0).astype(np.int8)
    seq = np.arange(st.row + 1, st.row + n + 1, dtype=np.int64)
    st.row += n
    return {
        "ts": ts, "seq": seq, "event_type": np.where(is_trade, EVENT_TRADE, EVENT_QUOTE).astype(np.int8),
        "bpx": bpx, "bsz": bsz, "apx": apx, "asz": asz, "trade_px": tpx, "trade_sz": tsz, "trade_side": side,
    }


def _planted_steps(spec: SyntheticSpec, st: _State, b: int, n: int, regime, u, move_p, size):
    """Price steps whose direction a persistent book imbalance (calm regime) or a latent trend (volatile
    regime) predicts, and the book sizes that show the imbalance (drawn from their own stream)."""
    from scipy.signal import lfilter

    rng2 = np.random.default_rng([spec.seed, b, 0x0F1])
    D = spec.depth
    phi = 0.999  # per tick: persists over seconds, so window features can see it
    lat, _ = lfilter([1.0], [1.0, -phi], rng2.standard_normal(n) * 0.06, zi=[phi * st.last_imbalance])
    st.last_imbalance = float(lat[-1])
    trend, _ = lfilter([1.0], [1.0, -phi], rng2.standard_normal(n) * 0.06, zi=[phi * st.trend])
    st.trend = float(trend[-1])
    imb = np.tanh(lat)
    bsz = rng2.integers(1, 50, (n, D)).astype(np.float64)
    asz = rng2.integers(1, 50, (n, D)).astype(np.float64)
    bsz[:, 0] = np.maximum(1.0, np.round(bsz[:, 0] * (1.0 + 0.8 * imb)))
    asz[:, 0] = np.maximum(1.0, np.round(asz[:, 0] * (1.0 - 0.8 * imb)))
    bias = np.where(regime == 1, np.tanh(trend), imb)
    p_up = np.clip(0.5 + spec.ofi_impact * bias, 0.02, 0.98)
    up = rng2.random(n) < p_up
    step = np.where(u < move_p, np.where(up, size, -size), 0)
    return step, (bsz * 100.0, asz * 100.0)


def _to_batch(spec: SyntheticSpec, c: dict[str, np.ndarray], tenant_id: str) -> pa.RecordBatch:
    n = c["ts"].shape[0]
    D = spec.depth
    offsets = pa.array(np.arange(0, n * D + 1, D, dtype=np.int32))

    def lists(x: np.ndarray) -> pa.Array:
        return pa.ListArray.from_arrays(offsets, pa.array(np.ascontiguousarray(x).reshape(-1)))

    src = f"synthetic:{spec.symbol}:seed={spec.seed}"
    arrays = [
        const_strings(tenant_id, n),
        const_strings(spec.venue, n),
        const_strings(spec.symbol, n),
        pa.array(c["ts"]),
        pa.array(c["seq"]),
        pa.array(c["event_type"]),
        pa.array(np.ascontiguousarray(c["bpx"][:, 0])),
        pa.array(np.ascontiguousarray(c["bsz"][:, 0])),
        pa.array(np.ascontiguousarray(c["apx"][:, 0])),
        pa.array(np.ascontiguousarray(c["asz"][:, 0])),
        pa.array(c["trade_px"]),
        pa.array(c["trade_sz"]),
        pa.array(c["trade_side"]),
        lists(c["bpx"]), lists(c["bsz"]), lists(c["apx"]), lists(c["asz"]),
        const_strings(src, n),
        pa.array(c["seq"]),
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=TICK_SCHEMA)


def synthetic_ticks(spec: SyntheticSpec = SyntheticSpec(), tenant_id: str = "default",
                    chunk_rows: int = 65_536) -> Iterator[pa.RecordBatch]:
    """Stream ``spec.n_ticks`` synthetic ticks as TICK_SCHEMA RecordBatches of ``chunk_rows`` rows
    (the last may be shorter)."""
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be >= 1")
    st = _State(spec)
    pending: list[dict[str, np.ndarray]] = []
    have = 0
    b = 0
    made = 0
    while made < spec.n_ticks or have:
        if made < spec.n_ticks and have < chunk_rows:
            n = min(_BLOCK, spec.n_ticks - made)
            pending.append(_block(spec, st, b, n))
            b += 1
            made += n
            have += n
            continue
        cat = pending[0] if len(pending) == 1 else {k: np.concatenate([p[k] for p in pending]) for k in pending[0]}
        take = min(chunk_rows, have)
        yield _to_batch(spec, {k: v[:take] for k, v in cat.items()}, tenant_id)
        have -= take
        pending = [{k: v[take:] for k, v in cat.items()}] if have else []


def write_lobster_day(spec: SyntheticSpec, directory: str | Path, *, compression: str | None = None,
                      chunk_rows: int = 262_144) -> Path:
    """Write ``spec``'s ticks as one LOBSTER day (message + orderbook, ``spec.depth`` levels), as a
    vendor would ship it; returns the message file's path. Streams in chunks (bounded memory).

    Quotes become type-1 messages on the bid, trades type-4 executions of the resting order on the
    side opposite the aggressor; ``Time`` is seconds after local (New York) midnight with 9 decimals;
    prices are integer × 10⁻⁴. ``compression``: None, "gzip" or "zstd" (``.gz`` / ``.zst`` suffix).
    All ticks must fall on one New York day (the file name carries the date)."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    ny = ZoneInfo("America/New_York")
    day = dt.datetime.fromtimestamp(spec.start_us / 1e6, tz=ny).date()
    midnight_us = int(dt.datetime.combine(day, dt.time(), tzinfo=ny).timestamp()) * 1_000_000
    suffix = {None: "", "gzip": ".gz", "zstd": ".zst"}[compression]
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    stem = f"{spec.symbol}_{day.isoformat()}_34200000_57600000_{{}}_{spec.depth}.csv{suffix}"
    msg_path, ob_path = d / stem.format("message"), d / stem.format("orderbook")
    opts = pacsv.WriteOptions(include_header=False, quoting_style="none")
    with pa.output_stream(str(msg_path), compression=compression) as fm, \
            pa.output_stream(str(ob_path), compression=compression) as fo:
        for b in synthetic_ticks(spec, "lobster", chunk_rows):
            ns = (b.column("ts").to_numpy() - midnight_us) * 1000
            if ns.size and (ns.min() < 0 or ns.max() >= 86_400 * 10**9):
                raise ValueError(f"{spec.symbol}: ticks leave the New York day {day}")
            secs = pa.array(ns // 10**9).cast(pa.string())
            frac = pc.utf8_lpad(pa.array(ns % 10**9).cast(pa.string()), 9, "0")
            time_txt = pc.binary_join_element_wise(secs, frac, ".")
            trade = b.column("event_type").to_numpy(zero_copy_only=False) == EVENT_TRADE
            side = b.column("trade_side").to_numpy(zero_copy_only=False).astype(np.int64)
            bid1 = b.column("bid_px").to_numpy()
            size = np.where(trade, b.column("trade_sz").to_numpy(), b.column("bid_sz").to_numpy())
            price = np.where(trade, b.column("trade_px").to_numpy(), bid1)
            n = b.num_rows
            msg = pa.table({
                "t": time_txt, "type": np.where(trade, 4, 1), "id": b.column("seq").to_numpy(),
                "size": np.rint(size).astype(np.int64), "price": np.rint(price * 10_000).astype(np.int64),
                "dir": np.where(trade, -side, 1),
            })
            D = spec.depth
            cols = {}
            levels = {k: b.column(k).flatten().to_numpy().reshape(n, D)
                      for k in ("book_ask_px", "book_ask_sz", "book_bid_px", "book_bid_sz")}
            for lv in range(D):
                cols[f"ap{lv}"] = np.rint(levels["book_ask_px"][:, lv] * 10_000).astype(np.int64)
                cols[f"as{lv}"] = np.rint(levels["book_ask_sz"][:, lv]).astype(np.int64)
                cols[f"bp{lv}"] = np.rint(levels["book_bid_px"][:, lv] * 10_000).astype(np.int64)
                cols[f"bs{lv}"] = np.rint(levels["book_bid_sz"][:, lv]).astype(np.int64)
            pacsv.write_csv(msg, fm, opts)
            pacsv.write_csv(pa.table(cols), fo, opts)
    return msg_path
