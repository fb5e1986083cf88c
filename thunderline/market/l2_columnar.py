"""Columnar readers for incremental L2 files: Tardis incremental_book_L2 and Binance depth.

Same ticks and rejects (file, 1-based line, field, reason, raw) as the row readers
:func:`~thunderline.market.crypto.iter_tardis_incremental_rows` / ``iter_binance_depth_rows``:

* blocks of ``chunk_rows`` whole lines (compressed files streamed; :mod:`thunderline.market.columnar`)
  are typed by ``pyarrow.csv`` and checked column-wise; a block without rejects is one chunk, cut where
  the row readers cut theirs (:mod:`thunderline.market.row_chunks`), so lake batches are the same; every row a check flags, and every line of a piece
  pyarrow cannot type, is judged by the row readers' stateless rule (``crypto.tardis_l2_fields`` /
  ``binance_depth_fields``), which rejects it naming the field or gives its exact values;
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
import pyarrow.compute as pc

from thunderline.contracts import DEFAULT_BOOK_DEPTH, EVENT_QUOTE
from thunderline.market import crypto
from thunderline.market._build import RowError, TickChunk, reject
from thunderline.market.columnar import LineReader, Piece, open_bytes, parse_block, split_lines, typed_pieces
from thunderline.market.columnar_lines import (
    LineFormat,
    assemble,
    column,
    fields_of,
    guarded_rows,
    nulls,
    row_rule,
)
from thunderline.market.l2_kernel import L2Books
from thunderline.market.rejects import Reject
from thunderline.market.row_chunks import RowChunks

_DICT = pa.dictionary(pa.int32(), pa.string())
_DBL_MIN = 2.2250738585072014e-308
_DEC_RE = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"  # _build._DEC_RE


@dataclass(frozen=True)
class _Format:
    names: list[str]
    types: dict[str, pa.DataType]
    key_cols: tuple[str, ...]  # the columns naming a book
    binance: bool


TARDIS = _Format(crypto.TARDIS_INCREMENTAL, {
    "exchange": _DICT, "symbol": _DICT, "timestamp": pa.int64(), "local_timestamp": pa.string(),
    "is_snapshot": _DICT, "side": _DICT, "price": pa.string(), "amount": pa.string()}, ("exchange", "symbol"), False)
BINANCE = _Format(crypto.BINANCE_DEPTH, {
    "symbol": _DICT, "timestamp": pa.int64(), "first_update_id": pa.int64(), "last_update_id": pa.int64(),
    "side": _DICT, "update_type": _DICT, "price": pa.string(), "qty": pa.string(), "pu": pa.int64()},
    ("symbol",), True)


def codes(col: pa.ChunkedArray, values: dict[str, int], n: int) -> np.ndarray:
    """A dictionary column as small codes: ``values[text]``, 0 for any other text."""
    out = np.empty(n, np.int8)
    lo = 0
    for ch in col.chunks:
        lut = np.array([values.get(v, 0) for v in ch.dictionary.to_pylist()] or [0], np.int8)
        out[lo:lo + len(ch)] = lut[ch.indices.to_numpy()]
        lo += len(ch)
    return out


def numbers(col: pa.ChunkedArray, *, price: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A text column of decimals: (float64 values, rows breaking the price > 0 / size >= 0 rule or not a
    finite decimal, rows whose float may not stand for the decimal; see the module docstring)."""
    try:
        x = pc.cast(col, pa.float64())
        bad = None
    except pa.ArrowInvalid:  # some text is not a number: the row rule names it
        ok = pc.match_substring_regex(col, _DEC_RE)
        x = pc.cast(pc.if_else(ok, col, "1"), pa.float64())
        bad = ~ok.to_numpy(zero_copy_only=False)
    x = x.to_numpy()
    width = pc.binary_length(col).to_numpy()
    with np.errstate(invalid="ignore"):
        wrong = ~np.isfinite(x) | ((x <= 0) if price else (x < 0))
    bad = wrong if bad is None else bad | wrong
    if price:
        unsure = (width >= 16) | (x < _DBL_MIN)
    else:
        zero = x == 0
        unsure = zero & (width > 300)
        if zero.any():
            unsure |= zero & (pc.match_substring(col, "e").to_numpy(zero_copy_only=False)
                              | pc.match_substring(col, "E").to_numpy(zero_copy_only=False))
    return x, bad, unsure


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

    def keys(self, t: pa.Table) -> np.ndarray:
        """Each row's book number, from the key columns' dictionaries (a Python step per distinct key)."""
        out = np.empty(t.num_rows, np.int64)
        lo = 0
        for batch in t.to_batches():
            cols = [batch.column(c) for c in self.fmt.key_cols]
            dicts = [c.dictionary.to_pylist() for c in cols]
            comb = np.zeros(batch.num_rows, np.int64)
            for d, c in zip(dicts, cols):
                comb = comb * len(d) + c.indices.to_numpy()
            uniq, inv = np.unique(comb, return_inverse=True)
            ids = []
            for u in uniq.tolist():
                parts = []
                for d in reversed(dicts):
                    u, r = divmod(u, len(d))
                    parts.append(d[r])
                ids.append(self.key(tuple(reversed(parts))))
            out[lo:lo + batch.num_rows] = np.asarray(ids, np.int64)[inv.reshape(-1)]
            lo += batch.num_rows
        return out

    def vectorised(self, t: pa.Table) -> tuple[dict, np.ndarray]:
        """Every row's values, and the rows the column checks flag (the row rule judges those)."""
        n = t.num_rows
        ts = column(t, "timestamp", 0)
        bad = nulls(t, "timestamp")
        side = codes(t.column("side"), {"b": 1, "a": 2} if self.fmt.binance else {"bid": 1, "ask": 2}, n)
        px, b1, u1 = numbers(t.column("price"), price=True)
        sz, b2, u2 = numbers(t.column("qty" if self.fmt.binance else "amount"), price=False)
        bad |= (side == 0) | b1 | b2
        if self.fmt.binance:
            bad |= (ts < -crypto._MS_LIMIT) | (ts > crypto._MS_LIMIT) | nulls(t, "first_update_id") | nulls(t, "pu")
            luid = column(t, "last_update_id", 0)
            bad |= nulls(t, "last_update_id") | (luid < 0) | (luid > crypto._LUID_LIMIT)
            snap = codes(t.column("update_type"), {"snap": 1, "set": 2}, n)
            ts = ts * 1000
        else:
            luid = np.zeros(n, np.int64)
            snap = codes(t.column("is_snapshot"), {"true": 1, "false": 2}, n)
        bad |= snap == 0
        return dict(key=self.keys(t), ts=ts, is_bid=side == 1, px=px, sz=sz, snap=snap == 1, luid=luid,
                    unsure=u1 | u2), bad

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

    def kept(self, piece: Piece, table: pa.Table | None, lines: _Lines) -> tuple[_Rows, list[Reject]]:
        """The piece's kept rows (column checks, the row rule for flagged rows and untyped pieces) and its rejects."""
        n = piece.n
        if table is None:
            cols = dict(key=np.zeros(n, np.int64), ts=np.zeros(n, np.int64), is_bid=np.zeros(n, bool),
                        px=np.zeros(n), sz=np.zeros(n), snap=np.zeros(n, bool), luid=np.zeros(n, np.int64),
                        unsure=np.zeros(n, bool))
            flagged = np.ones(n, bool)
        else:
            cols, flagged = self.vectorised(table)
            flagged |= guarded_rows(piece.data[0], n)
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
        fmt = LineFormat(self.fmt.names, self.fmt.types, lambda t: ({}, np.zeros(0, bool)), self.rule.handle)
        return row_rule(fmt, self.tenant_id, self.src, lines, first_line)

    def piece(self, piece: Piece, table: pa.Table | None) -> list[tuple[pa.RecordBatch, list[Reject]]]:
        lines = _Lines(piece.data[0])
        if self.rule is not None:
            return [self.by_rule(lines[:], piece.first_line)]
        rows, rejects = self.kept(piece, table, lines)
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

    def parse(data: tuple[bytes, ...], n: int):
        t = parse_block(data[0], fmt.names, fmt.types, lines=n)
        return None if t is None else (t,)

    with open_bytes(path) as fh:
        lr = LineReader(fh)
        lr.header()
        while True:
            first = lr.next_line
            data, n = lr.lines(chunk_rows)  # a clean block is one chunk: emitted as built, never concatenated
            if n == 0:
                break
            whole = Piece(first, n, (data,))
            pieces = [(whole, None)] if rd.rule is not None else typed_pieces(whole, parse)
            for piece, tables in pieces:
                for batch, rejects in rd.piece(piece, None if tables is None else tables[0]):
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
