"""Columnar readers for incremental L2 files: Tardis incremental_book_L2 and Binance depth.

Same ticks and rejects (file, 1-based line, field, reason, raw) as the row readers
:func:`~thunderline.market.crypto.iter_tardis_incremental_rows` / ``iter_binance_depth_rows``:

* blocks of ``chunk_rows`` whole lines (compressed files streamed; :mod:`thunderline.market.columnar`)
  are read by one compiled pass over their bytes (:mod:`thunderline.market.csv_tokens`: fields split,
  checked against the row rule's grammar, numbers converted exactly, text columns coded) and checked
  column-wise; a block without rejects is one chunk, cut where the row readers cut theirs
  (:mod:`thunderline.market.row_chunks`), so lake batches are the same; every row a check flags is
  judged by the row readers' stateless rule (``crypto.tardis_l2_fields`` / ``binance_depth_fields``),
  which rejects it naming the field or gives its exact values;
* the kept rows rebuild the books in one numba pass (:mod:`thunderline.market.l2_kernel`);
* float price keys equal the row rule's ``Decimal`` keys only while no two distinct decimals can
  share a float64. A kept price of more than 15 significant digits (conservatively: a text of 16
  or more bytes) or below float64's normal range, or a non-zero amount that rounds to 0, hands the
  books to the row rule, which reads the rest of the file (exact; vendor files never get there).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa

from thunderline.contracts import DEFAULT_BOOK_DEPTH, EVENT_QUOTE
from thunderline.market import crypto
from thunderline.market._build import RowError, TickChunk, reject
from thunderline.market.columnar import LineReader, Piece, open_bytes, split_lines
from thunderline.market.columnar_lines import LineFormat, assemble, fields_of, row_rule
from thunderline.market.csv_tokens import DEC, DICT, EXPONENT, INT, PRICE, SKIP, Layout, Tokens, tokenize
from thunderline.market.l2_kernel import L2Books
from thunderline.market.rejects import Reject
from thunderline.market.row_chunks import RowChunks

_DBL_MIN = 2.2250738585072014e-308


@dataclass(frozen=True)
class _Format:
    names: list[str]
    layout: Layout  # DICT slots: the key columns first; INT slot 0: timestamp
    key_cols: int  # how many DICT columns name a book
    side: int  # the DICT slots of the side and of the snapshot flag
    snap: int
    binance: bool


# the row rule reads a line holding '"' with the csv module: such lines go to it (quotes_bad)
TARDIS = _Format(crypto.TARDIS_INCREMENTAL, Layout((DICT, DICT, INT, SKIP, DICT, DICT, DEC, DEC),
                                                   (0, 0, 0, 0, 0, 0, PRICE, 0), quotes_bad=True), 2, 3, 2, False)
BINANCE = _Format(crypto.BINANCE_DEPTH, Layout((DICT, INT, INT, INT, DICT, DICT, DEC, DEC, INT),
                                               (0, 0, 0, 0, 0, 0, PRICE, 0, 0), quotes_bad=True), 1, 1, 2, True)


def codes(t: Tokens, slot: int, values: dict[str, int]) -> np.ndarray:
    """A DICT column as small codes: ``values[text]``, 0 for any other text."""
    lut = np.array([values.get(v, 0) for v in t.dicts[slot]], np.int8)
    return lut[t.codes[slot]]


def unsure(t: Tokens) -> np.ndarray:
    """Rows whose float price or size may not stand for its decimal (see the module docstring): a price of
    16 bytes of text or more or below float64's normal range, a size of 0 written with an exponent or in
    more than 300 bytes (it may be a nonzero decimal that underflowed)."""
    px, sz = t.decs[0], t.decs[1]
    with np.errstate(invalid="ignore"):
        out = (t.dwidth[0] >= 16) | (px < _DBL_MIN)
        zero = sz == 0
    if zero.any():
        out |= zero & ((t.dwidth[1] > 300) | ((t.dflag[1] & EXPONENT) != 0))
    return out


def unsure_decimals(price: Decimal, size: Decimal) -> bool:
    """The row rule's exact values, judged as ``numbers`` judges text: may float keys differ from them?"""
    digits = "".join(map(str, price.as_tuple().digits)).strip("0")
    return len(digits) > 15 or float(price) < _DBL_MIN or (size != 0 and float(size) == 0)


@dataclass
class _Rows:
    """Kept rows of a piece, in line order, as the kernel wants them."""

    idx: np.ndarray  # index of the row within the piece
    key: np.ndarray
    ts: np.ndarray
    is_bid: np.ndarray
    px: np.ndarray
    sz: np.ndarray
    snap: np.ndarray
    luid: np.ndarray
    unsure: np.ndarray

    def head(self, k: int) -> "_Rows":
        return _Rows(*(getattr(self, f)[:k] for f in self.__dataclass_fields__))



class _Lines:
    """A piece's lines, split only when a row needs its text (most pieces never do)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._lines: list[bytes] | None = None

    def __getitem__(self, i):
        if self._lines is None:
            self._lines = split_lines(self.data)
        return self._lines[i]


class _Reader:
    """One file's reading state: the kernel's books, the key names, and the row rule once it took over."""

    def __init__(self, fmt: _Format, src: str, tenant_id: str, depth: int, venue: str) -> None:
        self.fmt, self.src, self.tenant_id, self.depth, self.venue = fmt, src, tenant_id, depth, venue
        self.books = L2Books(depth, fmt.binance)
        self.key_ids: dict[tuple[str, ...], int] = {}
        self.rule: crypto.TardisL2Rows | crypto.BinanceDepthRows | None = None
        self.fields = crypto.binance_depth_fields if fmt.binance else crypto.tardis_l2_fields

    def key(self, names: tuple[str, ...]) -> int:
        k = self.key_ids.get(names)
        if k is None:
            k = self.key_ids[names] = len(self.key_ids)
        return k

    def keys(self, t: Tokens) -> np.ndarray:
        """Each row's book number, from the key columns' codes (a Python step per distinct key)."""
        nk = self.fmt.key_cols
        dicts = t.dicts[:nk]
        comb = np.zeros(t.bad.size, np.int64)
        for j, d in enumerate(dicts):
            comb = comb * len(d) + t.codes[j]
        uniq, inv = np.unique(comb, return_inverse=True)
        ids = []
        for u in uniq.tolist():
            parts = []
            for d in reversed(dicts):
                u, r = divmod(u, len(d))
                parts.append(d[r])
            ids.append(self.key(tuple(reversed(parts))))
        return np.asarray(ids, np.int64)[inv.reshape(-1)]

    def vectorised(self, t: Tokens) -> tuple[dict, np.ndarray]:
        """Every row's values, and the rows the checks flag (the row rule judges those): the tokenizer's
        (grammar, field count, price > 0, size >= 0, empty) and the columns' sets and ranges."""
        ts = t.ints[0]
        side = codes(t, self.fmt.side, {"b": 1, "a": 2} if self.fmt.binance else {"bid": 1, "ask": 2})
        snap = codes(t, self.fmt.snap, {"snap": 1, "set": 2} if self.fmt.binance else {"true": 1, "false": 2})
        bad = t.bad | (side == 0) | (snap == 0)
        if self.fmt.binance:
            luid = t.ints[2]
            bad |= (ts < -crypto._MS_LIMIT) | (ts > crypto._MS_LIMIT) | (luid < 0) | (luid > crypto._LUID_LIMIT)
            ts = ts * 1000
        else:
            luid = np.zeros(t.bad.size, np.int64)
        return dict(key=self.keys(t), ts=ts, is_bid=side == 1, px=t.decs[0], sz=t.decs[1], snap=snap == 1,
                    luid=luid, unsure=unsure(t)), bad

    def exact(self, line: bytes, lineno: int) -> Reject | tuple:
        """The row rule's stateless verdict on one line: a reject, or (key, ts, is_bid, px, sz, snap, luid, unsure)."""
        raw = line.decode("utf-8", "replace")
        f = fields_of(raw)
        try:
            if len(f) != len(self.fmt.names):
                raise RowError("*", f"expected {len(self.fmt.names)} columns, got {len(f)} (truncated or malformed line)")
            v = self.fields(f)
        except RowError as exc:
            return reject(self.src, lineno, exc, raw)
        if self.fmt.binance:
            ms, luid, is_bid, snap, price, size = v
            return self.key((f[0],)), ms * 1000, is_bid, float(price), float(size), snap, luid, \
                unsure_decimals(price, size)
        ts, snap, is_bid, price, size = v
        return self.key((f[0], f[1])), ts, is_bid, float(price), float(size), snap, 0, unsure_decimals(price, size)

    def kept(self, piece: Piece, tokens: Tokens, lines: _Lines) -> tuple[_Rows, list[Reject]]:
        """The piece's kept rows (column checks, the row rule for flagged rows) and its rejects."""
        cols, flagged = self.vectorised(tokens)
        keep = ~flagged
        rejects: list[Reject] = []
        order = ("key", "ts", "is_bid", "px", "sz", "snap", "luid", "unsure")
        if flagged.any():
            cols = {c: v if v.flags.writeable else v.copy() for c, v in cols.items()}
        for i in np.flatnonzero(flagged).tolist():
            out = self.exact(lines[i], piece.first_line + i)
            if isinstance(out, Reject):
                rejects.append(out)
                continue
            keep[i] = True
            for name, value in zip(order, out):
                cols[name][i] = value
        idx = np.flatnonzero(keep)
        return _Rows(idx, *(np.ascontiguousarray(cols[c][idx]) for c in order)), rejects

    def batch(self, rows: _Rows, piece: Piece, lines: _Lines) -> tuple[pa.RecordBatch, list[Reject]]:
        """The kernel over kept rows: their ticks, and the rows it rejects (Binance: one update id too long)."""
        bpx, bsz, apx, asz, seq, ok = self.books.apply(rows.key, rows.is_bid, rows.px, rows.sz, rows.snap, rows.luid)
        lineno = rows.idx + piece.first_line
        rejects = [reject(self.src, int(lineno[i]), crypto.too_many_rows(int(rows.luid[i])),
                          lines[rows.idx[i]].decode("utf-8", "replace")) for i in np.flatnonzero(~ok).tolist()]
        names = list(self.key_ids)
        k = len(rows.key)
        keys = pa.array(rows.key)
        cols = {"symbol": pa.array([x[-1] for x in names], pa.string()).take(keys),
                "venue": self.venue if self.fmt.binance else pa.array([x[0] for x in names], pa.string()).take(keys),
                "ts": rows.ts, "event_type": np.full(k, EVENT_QUOTE, np.int8),
                "bid_px": bpx[:, 0].copy(), "bid_sz": bsz[:, 0].copy(), "ask_px": apx[:, 0].copy(),
                "ask_sz": asz[:, 0].copy(), "trade_px": np.full(k, np.nan), "trade_sz": np.zeros(k),
                "trade_side": np.zeros(k, np.int8), "book": [bpx, bsz, apx, asz]}
        if self.fmt.binance:
            cols["seq"] = seq
        return assemble(self.tenant_id, self.src, cols, lineno, ok), rejects

    def hand_over(self) -> None:
        """From here on the row rule reads: it gets the kernel's books and per-book state."""
        b = self.books
        if self.fmt.binance:
            rule = crypto.BinanceDepthRows(self.depth, self.venue)
            for (sym,), k in self.key_ids.items():
                rule.books[sym] = b.l2book(k)
                if b.st_has[k]:
                    rule.state[sym] = [int(b.st_luid[k]), int(b.st_k[k]), "snap" if b.st_snap[k] else "set"]
        else:
            rule = crypto.TardisL2Rows(self.depth)
            for name, k in self.key_ids.items():
                rule.books[name] = b.l2book(k)  # type: ignore[index]
                rule.in_snapshot[name] = bool(b.st_snap[k])  # type: ignore[index]
        self.rule = rule

    def by_rule(self, lines: list[bytes], first_line: int) -> tuple[pa.RecordBatch, list[Reject]]:
        assert self.rule is not None
        fmt = LineFormat(self.fmt.names, {}, lambda t: ({}, np.zeros(0, bool)), self.rule.handle)
        return row_rule(fmt, self.tenant_id, self.src, lines, first_line)

    def piece(self, piece: Piece) -> list[tuple[pa.RecordBatch, list[Reject]]]:
        lines = _Lines(piece.data[0])
        if self.rule is not None:
            return [self.by_rule(lines[:], piece.first_line)]
        rows, rejects = self.kept(piece, tokenize(piece.data[0], piece.n, self.fmt.layout), lines)
        unsure = np.flatnonzero(rows.unsure)
        if not unsure.size:
            batch, more = self.batch(rows, piece, lines)
            return [(batch, sorted(rejects + more, key=lambda r: r.source_row))]
        cut = int(unsure[0])
        at = int(rows.idx[cut])  # the line (within the piece) from which the row rule reads
        batch, more = self.batch(rows.head(cut), piece, lines)
        before = sorted([r for r in rejects if r.source_row < piece.first_line + at] + more, key=lambda r: r.source_row)
        self.hand_over()
        return [(batch, before), self.by_rule(lines[at:], piece.first_line + at)]


def _iter(fmt: _Format, path: Path, tenant_id: str, chunk_rows: int, depth: int, venue: str) -> Iterator[TickChunk]:
    rd = _Reader(fmt, str(path), tenant_id, depth, venue)
    out = RowChunks(chunk_rows)  # the row readers' chunks, so the lake batches are theirs too

    with open_bytes(path) as fh:
        lr = LineReader(fh, pooled=True)
        lr.header()
        while True:
            first = lr.next_line
            data, n = lr.lines(chunk_rows)  # a clean block is one chunk: emitted as built, never concatenated
            if n == 0:
                break
            for batch, rejects in rd.piece(Piece(first, n, (data,))):
                yield from out.add(batch, rejects)
    yield from out.finish()


def iter_tardis_incremental(path: Path, tenant_id: str, chunk_rows: int,
                            depth: int = DEFAULT_BOOK_DEPTH) -> Iterator[TickChunk]:
    """Tardis incremental_book_L2, columnar; equals :func:`crypto.iter_tardis_incremental_rows`."""
    return _iter(TARDIS, path, tenant_id, chunk_rows, depth, "")


def iter_binance_depth(path: Path, tenant_id: str, chunk_rows: int, depth: int = DEFAULT_BOOK_DEPTH,
                       venue: str = "binance-futures") -> Iterator[TickChunk]:
    """Binance depth snapshot / diff rows, columnar; equals :func:`crypto.iter_binance_depth_rows`."""
    return _iter(BINANCE, path, tenant_id, chunk_rows, depth, venue)
