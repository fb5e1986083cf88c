"""Synthetic incremental L2 files (Tardis incremental_book_L2, Binance depth) for tests and benchmarks.

A book per key is seeded by a snapshot (levels around a random-walk mid), then absolute-size updates
land at geometric distances from the mid (a third of them delete a level), so books hold a few
hundred levels per side and move; prices are exact decimal text on a tick grid (written from
integer ticks, never from floats). Deterministic for a seed; numpy and pyarrow only (a million
rows in about a second).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from thunderline.market import crypto


def _decimal_text(units: np.ndarray, places: int) -> pa.Array:
    """Integer multiples of 10**-places as decimal text with exactly ``places`` decimals ("20377.00")."""
    scale = 10 ** places
    whole = pc.cast(pa.array(units // scale), pa.string())
    if not places:
        return whole
    frac = pc.utf8_lpad(pc.cast(pa.array(units % scale), pa.string()), places, "0")
    return pc.binary_join_element_wise(whole, frac, ".")


def _updates(n: int, snapshot: int, rng: np.random.Generator, mid0: int) -> dict[str, np.ndarray]:
    """Per row: is_bid, price in ticks, is_snapshot (the first ``snapshot`` rows), size units (0 deletes)."""
    mid = mid0 + np.cumsum(rng.choice([-1, 0, 1], n, p=[0.03, 0.94, 0.03]))
    off = np.where(np.arange(n) < snapshot, np.arange(n) // 2 % max(snapshot // 2, 1), rng.geometric(0.12, n) - 1)
    is_bid = np.where(np.arange(n) < snapshot, np.arange(n) % 2 == 0, rng.random(n) < 0.5)
    price = np.where(is_bid, mid - 1 - off, mid + 1 + off)
    size = np.where((rng.random(n) < 0.33) & (np.arange(n) >= snapshot), 0, rng.integers(1, 50_000, n))
    return {"is_bid": is_bid, "price": price, "size": size, "snap": np.arange(n) < snapshot}


def _write(table: pa.Table, header: list[str], out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as fh:
        fh.write((",".join(header) + "\n").encode())
        pacsv.write_csv(table, fh, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return out


def write_tardis_incremental(out: Path, n: int, *, seed: int = 1, snapshot: int = 400,
                             exchange: str = "deribit", symbol: str = "BTC-PERPETUAL",
                             start_us: int = 1_585_699_200_245_000) -> Path:
    """A Tardis incremental_book_L2 CSV of ``n`` rows: price tick 0.5, amounts in whole contracts."""
    rng = np.random.default_rng(seed)
    u = _updates(n, snapshot, rng, 12_800)
    ts = start_us + np.cumsum(rng.integers(0, 2_000, n))
    t = pa.table({"exchange": pa.array([exchange] * n), "symbol": pa.array([symbol] * n),
                  "timestamp": pc.cast(pa.array(ts), pa.string()),
                  "local_timestamp": pc.cast(pa.array(ts + 110_000), pa.string()),
                  "is_snapshot": pa.array(np.where(u["snap"], "true", "false")),
                  "side": pa.array(np.where(u["is_bid"], "bid", "ask")),
                  "price": _decimal_text(u["price"] * 5, 1), "amount": pc.cast(pa.array(u["size"]), pa.string())})
    return _write(t, crypto.TARDIS_INCREMENTAL, out)


def write_binance_depth(out: Path, n: int, *, seed: int = 1, snapshot: int = 400, symbol: str = "BTCUSDT",
                        start_ms: int = 1_667_346_579_146, first_update_id: int = 2_098_021_528_332) -> Path:
    """A Binance depth CSV of ``n`` rows: a ``snap`` of ``snapshot`` rows, then ``set`` rows in updates of
    1-20 rows sharing an update id; price tick 0.10 (two decimals), quantities with three decimals."""
    rng = np.random.default_rng(seed)
    u = _updates(n, snapshot, rng, 203_770)
    new_update = np.concatenate([[True], (rng.random(n - 1) < 0.1) & ~u["snap"][1:]])
    new_update[snapshot:snapshot + 1] = True
    uid = first_update_id + np.cumsum(new_update) * 7
    first = np.maximum.accumulate(np.where(new_update, uid - 3, 0))
    pu = np.where(u["snap"], -1, uid - 7)
    ms = start_ms + np.cumsum(new_update) * 100
    t = pa.table({"symbol": pa.array([symbol] * n), "timestamp": pc.cast(pa.array(ms), pa.string()),
                  "first_update_id": pc.cast(pa.array(first), pa.string()),
                  "last_update_id": pc.cast(pa.array(uid), pa.string()),
                  "side": pa.array(np.where(u["is_bid"], "b", "a")),
                  "update_type": pa.array(np.where(u["snap"], "snap", "set")),
                  "price": _decimal_text(u["price"] * 10, 2), "qty": _decimal_text(u["size"], 3),
                  "pu": pc.cast(pa.array(pu), pa.string())})
    return _write(t, crypto.BINANCE_DEPTH, out)
