"""Synthetic LOBSTER level-1 days with microstructures unlike AMZN: a held-out check for the experts.

Why: the only real book the project holds is one AMZN day (mid tick, ~2.5 events a second). Experts
are judged on symbols never seen — large-tick stocks (INTC, MSFT: spread one tick, queues of tens of
thousands of shares, mid moves rare, queue imbalance the dominant predictor) and small-tick ones
(AAPL, GOOG: spreads of many ticks, small queues, the mid moves on most events). These generators
write such days as real LOBSTER message + orderbook level-1 CSV pairs, so they go through
``thunderline ingest`` and ``thunderline evaluate`` exactly like the AMZN files.

``queue_reactive``
    A large-tick queue-reactive book (after Huang, Lehalle & Rosenbaum 2015 and Cont & de Larrard
    2013). Limit orders join the best queues, cancellations are proportional to queue size, market
    orders eat a queue; the mid moves only when a queue is depleted (the price steps one tick and the
    gap is closed by a new queue inside the spread). The next mid move therefore follows
    queue imbalance at the touch and queue depletion; a slow latent pressure ``z`` (an
    Ornstein–Uhlenbeck process, 60 s) tilts market-order direction and where limit orders join, so
    order flow carries some of it too.
``small_tick``
    A small-tick book: an efficient price follows a random walk with the same latent pressure as
    drift; quotes sit several ticks around it and each side re-quotes towards it with lag, so the
    quoted mid trails the efficient price. The touch sizes and the market-order side lean towards
    the efficient price: queue imbalance, microprice deviation and order-flow imbalance predict the
    next mid move, and the mid moves on most events.

Guarantees: deterministic in ``(kind, seed, parameters)``; times strictly inside the session on one
New York day; every orderbook row is the book after its message (ask > bid, sizes > 0);
message prices are the affected order's price, executions are type 4 with Direction the resting
order's side (LOBSTER's convention). Nothing here looks at any real day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import numba as nb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

KINDS = ("queue_reactive", "small_tick")
_NY = ZoneInfo("America/New_York")


@dataclass(frozen=True)
class SimDay:
    """One synthetic day: which microstructure, the session (seconds after New York midnight), its seed."""

    kind: str = "queue_reactive"
    symbol: str = "QRLT"
    date: str = "2012-06-21"
    start_s: int = 34_200  # 09:30
    end_s: int = 45_000  # 12:30
    seed: int = 0
    event_rate: float = 6.0  # events a second on average (queue_reactive: before queue feedback)
    pressure_tau_s: float = 60.0  # latent pressure's mean-reversion time
    pressure_tilt: float = 0.35  # how far pressure tilts market-order direction, in probability

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown synthetic microstructure {self.kind!r} (known: {KINDS})")
        if not 0 <= self.start_s < self.end_s <= 86_400:
            raise ValueError(f"session {self.start_s}..{self.end_s} s is not inside one day")


# columns of the event arrays: time (ns after midnight), type, size, price (ticks), direction, then the book
T_NS, TYPE, SIZE, PRICE, DIR, ASK, ASK_SZ, BID, BID_SZ = range(9)
NCOL = 9


@nb.njit(cache=True)
def _pressure_step(z, dt_s, tau, rng_normal):
    """One exact OU step of the latent pressure (unit stationary variance)."""
    a = np.exp(-dt_s / tau)
    return z * a + np.sqrt(1.0 - a * a) * rng_normal


@nb.njit(cache=True)
def _queue_reactive(out, seed, t0_ns, t1_ns, rate, tau, tilt):
    """Large-tick queue-reactive book in lots of 100; returns the number of events written to ``out``."""
    np.random.seed(seed)
    bid = 2600
    ask = 2601
    qb = 60
    qa = 60
    z = 0.0
    t = float(t0_ns)
    n = 0
    while n < out.shape[0]:
        spread = ask - bid
        lim = 0.45 * rate  # limit-order arrivals per side
        canc = 0.0114 * rate  # cancellation intensity per lot
        mo = 0.06 * rate  # market orders per side
        fill = 40.0 if spread > 1 else 0.0  # the gap after a depletion closes fast
        p_buy = 0.5 + tilt * np.tanh(z)
        r = np.array([lim * (1.0 + 0.3 * np.tanh(z)), lim * (1.0 - 0.3 * np.tanh(z)), canc * qb, canc * qa,
                      mo * 2.0 * (1.0 - p_buy), mo * 2.0 * p_buy, fill])
        total = r.sum()
        dt_s = np.random.exponential(1.0 / total)
        t += dt_s * 1e9
        if t >= t1_ns:
            break
        z = _pressure_step(z, dt_s, tau, np.random.normal())
        u = np.random.random() * total
        k = 0
        acc = r[0]
        while u > acc and k < 6:
            k += 1
            acc += r[k]
        typ, size, px, d = 1, 1, bid, 1
        if k == 0:  # limit buy joins the bid
            size = np.random.geometric(0.25)
            qb += size
            px, d = bid, 1
        elif k == 1:
            size = np.random.geometric(0.25)
            qa += size
            typ, px, d = 1, ask, -1
        elif k == 2 or k == 3:  # cancellation (may deplete the queue)
            q = qb if k == 2 else qa
            size = min(q, np.random.geometric(0.3))
            typ, px, d = 3, (bid if k == 2 else ask), (1 if k == 2 else -1)
            if k == 2:
                qb -= size
            else:
                qa -= size
        elif k == 4 or k == 5:  # market sell hits the bid / market buy lifts the ask
            q = qb if k == 4 else qa
            size = min(q, np.random.geometric(0.2))
            typ, px, d = 4, (bid if k == 4 else ask), (1 if k == 4 else -1)
            if k == 4:
                qb -= size
            else:
                qa -= size
        else:  # a small queue fills the gap inside the spread, more likely on the pressure's side
            size = 10 + np.random.geometric(0.05)  # a queue like any other (Cont & de Larrard)
            if np.random.random() < 0.5 + 0.3 * np.tanh(z):
                bid += 1
                qb = size
                px, d = bid, 1
            else:
                ask -= 1
                qa = size
                px, d = ask, -1
        if qb == 0:  # bid depleted: the price behind it becomes the best bid with a fresh queue
            bid -= 1
            qb = 20 + np.random.geometric(0.03)
        if qa == 0:
            ask += 1
            qa = 20 + np.random.geometric(0.03)
        out[n, T_NS] = t
        out[n, TYPE] = typ
        out[n, SIZE] = size * 100
        out[n, PRICE] = px
        out[n, DIR] = d
        out[n, ASK] = ask
        out[n, ASK_SZ] = qa * 100
        out[n, BID] = bid
        out[n, BID_SZ] = qb * 100
        n += 1
    return n


@nb.njit(cache=True)
def _small_tick(out, seed, t0_ns, t1_ns, rate, tau, tilt):
    """Small-tick book (price ~ 580.00, spreads of several cents); returns the number of events."""
    np.random.seed(seed)
    p = 58000.0  # efficient price, ticks
    bid = 57995
    ask = 58005
    z = 0.0
    t = float(t0_ns)
    n = 0
    while n < out.shape[0]:
        dt_s = np.random.exponential(1.0 / rate)
        t += dt_s * 1e9
        if t >= t1_ns:
            break
        z = _pressure_step(z, dt_s, tau, np.random.normal())
        p += 0.8 * np.tanh(z) * dt_s * 6.0 + np.sqrt(dt_s) * 3.0 * np.random.normal()
        mid = 0.5 * (bid + ask)
        gap = p - mid  # how far the quotes trail the efficient price, ticks
        lean = np.tanh(gap / 4.0)
        u = np.random.random()
        typ, d = 1, 1
        if u < 0.18:  # a market order, on the side the efficient price leans to
            buy = np.random.random() < 0.5 + tilt * lean
            typ, d = 4, (-1 if buy else 1)
            size = 100 * np.random.geometric(0.5)
            px = ask if buy else bid
            if np.random.random() < 0.4:  # it took the whole touch: that side steps away
                if buy:
                    ask += np.random.geometric(0.5)
                else:
                    bid -= np.random.geometric(0.5)
        else:  # one side re-quotes towards the efficient price (with lag and noise)
            half = 3.0 + 4.0 * np.random.random()
            if np.random.random() < 0.5:
                new = int(np.floor(p - half + np.random.normal()))
                bid = min(new, ask - 1)
                d, px, size = 1, bid, 100 * np.random.geometric(0.4)
                typ = 1 if bid >= new else 3
            else:
                new = int(np.ceil(p + half + np.random.normal()))
                ask = max(new, bid + 1)
                d, px, size = -1, ask, 100 * np.random.geometric(0.4)
                typ = 1 if ask <= new else 3
        mid = 0.5 * (bid + ask)
        w = 1.0 / (1.0 + np.exp(-(p - mid) / 6.0))  # touch sizes lean towards the efficient price
        base = 100 * (1 + np.random.geometric(0.3))
        nb_, na_ = np.exp(0.7 * np.random.normal()), np.exp(0.7 * np.random.normal())
        out[n, T_NS] = t
        out[n, TYPE] = typ
        out[n, SIZE] = size
        out[n, PRICE] = px
        out[n, DIR] = d
        out[n, ASK] = ask
        out[n, ASK_SZ] = max(100.0, np.round(base * 2.0 * (1.0 - w) * na_ / 100.0) * 100.0)
        out[n, BID] = bid
        out[n, BID_SZ] = max(100.0, np.round(base * 2.0 * w * nb_ / 100.0) * 100.0)
        n += 1
    return n


def simulate(day: SimDay) -> np.ndarray:
    """The day's events: an (n, 9) float64 array (see the column constants), time in ns after midnight."""
    cap = int((day.end_s - day.start_s) * day.event_rate * 3 + 1000)
    out = np.empty((cap, NCOL))
    fn = _queue_reactive if day.kind == "queue_reactive" else _small_tick
    seed = int(day.seed) * 2 + KINDS.index(day.kind)
    n = fn(out, seed, day.start_s * 10**9, day.end_s * 10**9, float(day.event_rate),
           float(day.pressure_tau_s), float(day.pressure_tilt))
    ev = out[:n]
    ev[:, T_NS] = np.floor(ev[:, T_NS])
    return ev


def write_sim_day(day: SimDay, directory: str | Path) -> Path:
    """Write ``day`` as a LOBSTER level-1 pair ``{SYM}_{date}_{start ms}_{end ms}_{message|orderbook}_1.csv``
    in ``directory``; returns the message file's path. Prices are integer dollars × 10⁴ (tick = 0.01)."""
    dt.date.fromisoformat(day.date)  # refuse a malformed date before writing anything
    ev = simulate(day)
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    stem = f"{day.symbol}_{day.date}_{day.start_s * 1000}_{day.end_s * 1000}_{{}}_1.csv"
    ns = ev[:, T_NS].astype(np.int64)
    secs = pa.array(ns // 10**9).cast(pa.string())
    frac = pc.utf8_lpad(pa.array(ns % 10**9).cast(pa.string()), 9, "0")
    tick = 100  # price ticks → LOBSTER's dollars × 10⁴
    msg = pa.table({
        "t": pc.binary_join_element_wise(secs, frac, "."), "type": ev[:, TYPE].astype(np.int64),
        "id": np.arange(1, len(ev) + 1, dtype=np.int64), "size": ev[:, SIZE].astype(np.int64),
        "price": ev[:, PRICE].astype(np.int64) * tick, "dir": ev[:, DIR].astype(np.int64),
    })
    book = pa.table({
        "ap": ev[:, ASK].astype(np.int64) * tick, "as": ev[:, ASK_SZ].astype(np.int64),
        "bp": ev[:, BID].astype(np.int64) * tick, "bs": ev[:, BID_SZ].astype(np.int64),
    })
    opts = pacsv.WriteOptions(include_header=False, quoting_style="none")
    msg_path = d / stem.format("message")
    pacsv.write_csv(msg, str(msg_path), opts)
    pacsv.write_csv(book, str(d / stem.format("orderbook")), opts)
    return msg_path
