"""Numba kernel: L2 books rebuilt from incremental updates (Tardis incremental_book_L2, Binance depth).

Why: the row readers keep a ``Decimal``-keyed book per row in Python (~20 µs a row). Here the
updates of a block, already validated column-wise, go through one compiled loop over float64
levels that emits every row's top-``depth`` book.

Per key (an (exchange, symbol) pair or a Binance symbol, numbered by the reader) each side is a
sorted run of levels in a (keys, capacity) array: bids by price and asks by −price, both
ascending, so the best level is the last one and updates, which crowd the top of the book, shift
few levels. An absolute size of 0 removes the level. The same rules as
:class:`thunderline.market.crypto.TardisL2Rows` / ``BinanceDepthRows``:

* Tardis: a snapshot row after a non-snapshot row of its key clears the book first;
* Binance: ``seq = last_update_id × BINANCE_SEQ_FACTOR + k``, ``k`` counting the kept rows of that
  update id; the ``BINANCE_SEQ_FACTOR``-th row of one id is rejected (state unchanged); a ``snap``
  row clears the book unless the key's last kept row was a ``snap`` of the same update id.

Float price keys equal the row reader's ``Decimal`` keys as long as no two distinct decimals share
a float64 — guaranteed for prices of at most 15 significant digits in the normal range, which the
reader checks before it lets a row in here (it hands the state to the row rule otherwise).
"""

from __future__ import annotations

from decimal import Decimal

import numba as nb
import numpy as np
import pyarrow as pa

from thunderline.market.book import L2Book

SEQ_FACTOR = 100_000  # crypto.BINANCE_SEQ_FACTOR (literal for numba; a test keeps them equal)


@nb.njit(cache=True)
def _find(v, c, x):  # pragma: no cover - compiled
    """The first of the ``c`` sorted levels ``v`` that is not below ``x`` (``c`` when none). Branch-free
    halving (a conditional move per step): where an update lands is unpredictable, a branch per step
    mispredicted about every other time."""
    if c == 0:
        return 0
    base = 0
    n = c
    while n > 1:
        half = n >> 1
        base = base + half if v[base + half] < x else base
        n -= half
    return base + (v[base] < x)


@nb.njit(cache=True)
def _fits(v, c, x, size):  # pragma: no cover - compiled
    """False when applying (x, size) would insert a level into a full side."""
    if size == 0 or c < v.shape[0]:
        return True
    p = _find(v, c, x)
    return p < c and v[p] == x


@nb.njit(cache=True)
def _set(v, s, c, x, size):  # pragma: no cover - compiled
    """Set the absolute size at key x of one side holding c levels (0 removes); returns the new count."""
    p = _find(v, c, x)
    found = p < c and v[p] == x
    if size == 0:
        if found:
            for j in range(p, c - 1):
                v[j] = v[j + 1]
                s[j] = s[j + 1]
            return c - 1
        return c
    if found:
        s[p] = size
        return c
    for j in range(c, p, -1):
        v[j] = v[j - 1]
        s[j] = s[j - 1]
    v[p] = x
    s[p] = size
    return c + 1


@nb.njit(cache=True)
def apply_updates(start, key, is_bid, px, sz, snap, luid, binance, bv, bs, bn, av, as_, an,
                  st_has, st_luid, st_k, st_snap, depth, o_bpx, o_bsz, o_apx, o_asz, seq, ok):  # pragma: no cover
    """Apply rows ``start…`` in order; row i's book after it goes to ``o_*[i]``, its seq to ``seq[i]``,
    ``ok[i]`` False when rejected (Binance: too many rows of one update id). Returns the number of rows
    done: less than ``len(key)`` when a side is full (the caller grows it and calls again from there)."""
    n = key.shape[0]
    for i in range(start, n):
        k = key[i]
        if binance:
            same = st_has[k] == 1 and st_luid[k] == luid[i]
            j = st_k[k] + 1 if same else 0
            if j >= SEQ_FACTOR:
                ok[i] = False
                continue
            reset = snap[i] and not (st_has[k] == 1 and st_snap[k] == 1 and st_luid[k] == luid[i])
        else:
            j = 0
            reset = snap[i] and st_snap[k] == 0
        if not reset:
            if is_bid[i]:
                if not _fits(bv[k], bn[k], px[i], sz[i]):
                    return i
            elif not _fits(av[k], an[k], -px[i], sz[i]):
                return i
        if binance:
            st_has[k] = 1
            st_luid[k] = luid[i]
            st_k[k] = j
            seq[i] = luid[i] * SEQ_FACTOR + j
        st_snap[k] = 1 if snap[i] else 0
        if reset:
            bn[k] = 0
            an[k] = 0
        if is_bid[i]:
            bn[k] = _set(bv[k], bs[k], bn[k], px[i], sz[i])
        else:
            an[k] = _set(av[k], as_[k], an[k], -px[i], sz[i])
        cb, ca = bn[k], an[k]
        for d in range(depth):
            if d < cb:
                o_bpx[i, d] = bv[k, cb - 1 - d]
                o_bsz[i, d] = bs[k, cb - 1 - d]
            else:
                o_bpx[i, d] = np.nan
                o_bsz[i, d] = 0.0
            if d < ca:
                o_apx[i, d] = -av[k, ca - 1 - d]
                o_asz[i, d] = as_[k, ca - 1 - d]
            else:
                o_apx[i, d] = np.nan
                o_asz[i, d] = 0.0
        ok[i] = True
    return n


def _pooled(shape: tuple[int, int]) -> np.ndarray:
    """An uninitialised float64 array in Arrow's memory pool. Why: the book outputs (tens of MB a chunk) live
    on in the tick batch; numpy would mmap each afresh and fault in every page, while the pool reuses the
    pages of chunks already consumed (measured: the page faults cost more CPU than the kernel itself)."""
    return np.frombuffer(pa.allocate_buffer(shape[0] * shape[1] * 8), np.float64).reshape(shape)


class L2Books:
    """The books and per-key state the kernel carries from block to block (grown as keys and levels come)."""

    def __init__(self, depth: int, binance: bool, levels: int = 256) -> None:
        self.depth, self.binance = depth, binance
        self.nkeys = 0
        self._alloc(4, levels)

    def _alloc(self, keys: int, levels: int) -> None:
        old = getattr(self, "bv", None)
        side = [np.zeros((keys, levels)) for _ in range(4)]
        counts = [np.zeros(keys, np.int64) for _ in range(2)]
        state = [np.zeros(keys, np.int64) for _ in range(4)]
        if old is not None:
            k, L = self.bv.shape
            for new, cur in zip(side, (self.bv, self.bs, self.av, self.as_)):
                new[:k, :L] = cur
            for new, cur in zip(counts + state, (self.bn, self.an, self.st_has, self.st_luid, self.st_k, self.st_snap)):
                new[:k] = cur
        self.bv, self.bs, self.av, self.as_ = side
        self.bn, self.an = counts
        self.st_has, self.st_luid, self.st_k, self.st_snap = state

    def ensure_keys(self, nkeys: int) -> None:
        if nkeys > self.bv.shape[0]:
            self._alloc(max(nkeys, 2 * self.bv.shape[0]), self.bv.shape[1])
        self.nkeys = max(self.nkeys, nkeys)

    def apply(self, key, is_bid, px, sz, snap, luid) -> tuple[np.ndarray, ...]:
        """Run the kernel over one block of kept rows: (bid px, bid sz, ask px, ask sz) as (n, depth)
        arrays, seq (Binance) and ok (False: rejected by the kernel)."""
        n = key.shape[0]
        out = [_pooled((n, self.depth)) for _ in range(4)]
        seq, ok = np.zeros(n, np.int64), np.zeros(n, np.bool_)
        done = 0
        while done < n:
            done = apply_updates(done, key, is_bid, px, sz, snap, luid, self.binance, self.bv, self.bs, self.bn,
                                 self.av, self.as_, self.an, self.st_has, self.st_luid, self.st_k, self.st_snap,
                                 self.depth, *out, seq, ok)
            if done < n:
                self._alloc(self.bv.shape[0], 2 * self.bv.shape[1])
        return (*out, seq, ok)

    def l2book(self, k: int) -> L2Book:
        """Key ``k``'s book as the row rule's ``Decimal``-keyed L2Book (exact: every float price here came
        from a decimal of at most 15 significant digits, which ``repr`` gives back)."""
        book = L2Book()
        for side, v, s, c, sign in ((book.bids, self.bv, self.bs, self.bn, 1.0), (book.asks, self.av, self.as_,
                                                                               self.an, -1.0)):
            for j in range(int(c[k])):
                side.set(Decimal(repr(sign * float(v[k, j]))), Decimal(repr(float(s[k, j]))))
        return book
