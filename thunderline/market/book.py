"""An L2 order book state for incremental (diff) feeds: absolute level sizes, top-N snapshots.

Prices are exact ``Decimal`` keys, so two decimal strings that denote the same
price always hit the same level; sizes are stored as given (absolute, 0 ⇒ delete).
"""

from __future__ import annotations

from decimal import Decimal

from sortedcontainers import SortedDict

NAN = float("nan")


class L2Book:
    """Bids and asks as sorted price → size maps; ``top(n)`` gives best-first levels padded with NaN / 0."""

    def __init__(self) -> None:
        self.bids: SortedDict = SortedDict()
        self.asks: SortedDict = SortedDict()

    def clear(self) -> None:
        self.bids.clear()
        self.asks.clear()

    def apply(self, is_bid: bool, price: Decimal, size: Decimal) -> None:
        """Set the absolute size at ``price`` (0 removes the level)."""
        side = self.bids if is_bid else self.asks
        if size == 0:
            side.pop(price, None)
        else:
            side[price] = size

    def top(self, n: int) -> tuple[list[float], list[float], list[float], list[float]]:
        """(bid_px, bid_sz, ask_px, ask_sz), each of length ``n``, best level first."""
        bpx: list[float] = []
        bsz: list[float] = []
        apx: list[float] = []
        asz: list[float] = []
        nb = len(self.bids)
        for i in range(min(n, nb)):
            p, q = self.bids.peekitem(nb - 1 - i)
            bpx.append(float(p))
            bsz.append(float(q))
        for i in range(min(n, len(self.asks))):
            p, q = self.asks.peekitem(i)
            apx.append(float(p))
            asz.append(float(q))
        for lst_px, lst_sz in ((bpx, bsz), (apx, asz)):
            while len(lst_px) < n:
                lst_px.append(NAN)
                lst_sz.append(0.0)
        return bpx, bsz, apx, asz
