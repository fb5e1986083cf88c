"""An L2 order book state for incremental (diff) feeds: absolute level sizes, top-N snapshots.

Prices are exact ``Decimal`` keys, so two decimal strings that denote the same
price always hit the same level; sizes are stored as given (absolute, 0 ⇒ delete).
Standard library only (a dict per side plus a sorted price list kept with ``bisect``):
books hold at most a few thousand levels, so O(levels) inserts are cheap.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from decimal import Decimal

NAN = float("nan")


class _Side:
    def __init__(self) -> None:
        self.size: dict[Decimal, Decimal] = {}
        self.prices: list[Decimal] = []  # ascending
        self.floats: dict[Decimal, tuple[float, float]] = {}  # price → (float price, float size), for top()

    def __len__(self) -> int:
        return len(self.prices)

    def clear(self) -> None:
        self.size.clear()
        self.prices.clear()
        self.floats.clear()

    def set(self, price: Decimal, size: Decimal) -> None:
        if size == 0:
            if self.size.pop(price, None) is not None:
                del self.prices[bisect_left(self.prices, price)]
                del self.floats[price]
        else:
            if price not in self.size:
                insort(self.prices, price)
            self.size[price] = size
            self.floats[price] = (float(price), float(size))  # converted once per update, not per top()


class L2Book:
    """Bids and asks as price → size maps; ``top(n)`` gives best-first levels padded with NaN / 0."""

    def __init__(self) -> None:
        self.bids = _Side()
        self.asks = _Side()

    def clear(self) -> None:
        self.bids.clear()
        self.asks.clear()

    def apply(self, is_bid: bool, price: Decimal, size: Decimal) -> None:
        """Set the absolute size at ``price`` (0 removes the level)."""
        (self.bids if is_bid else self.asks).set(price, size)

    def top(self, n: int) -> tuple[list[float], list[float], list[float], list[float]]:
        """(bid_px, bid_sz, ask_px, ask_sz), each of length ``n``, best level first."""
        bf, af = self.bids.floats, self.asks.floats
        bl = [bf[p] for p in self.bids.prices[: -n - 1 : -1]]  # the n highest, best first
        al = [af[p] for p in self.asks.prices[:n]]
        bpx, bsz = [x for x, _ in bl], [y for _, y in bl]
        apx, asz = [x for x, _ in al], [y for _, y in al]
        for lst_px, lst_sz in ((bpx, bsz), (apx, asz)):
            while len(lst_px) < n:
                lst_px.append(NAN)
                lst_sz.append(0.0)
        return bpx, bsz, apx, asz
