"""Which ticks of a month are the same market event: content keys and per-source overlap rules.

A vendor's sequence numbers only order ticks *inside one delivery*: LOBSTER's is the row
number of its file, a Tardis or Binance day file restarts nothing but is one file of many.
So ordering and duplicate rules are per source (venue, symbol, source file), and identity
*across* files is decided by content, never by ``seq``:

* :func:`tick_content_keys` gives every tick a 64-bit key over what the market said —
  venue, symbol, ``ts``, event type, top of book, trade, book levels — and not over where or
  how it was delivered (``seq``, ``source``, ``source_row``, ``tenant_id``). The same event
  delivered twice (a re-delivered file, a renamed copy, the same day gzip'd) has the same key.
* :class:`SourceLedger` holds, per partition and per (format, venue), the keys and time ranges
  of the files already accepted, in the order they were added. A later file's tick whose key
  is already held (as a multiset: two identical events stay two) is a **duplicate**: dropped,
  counted, never double-counted. A later file that brings *different* ticks strictly inside the
  time range of an earlier file of the same format and venue **conflicts** with it (two
  deliveries disagree about the same interval); it is refused whole, with a reason naming
  both files. Files that only touch at a boundary timestamp (a day split in two files) or
  do not overlap (two days) are neither.

Guarantees: keys are deterministic (no Python ``hash``, no randomisation); memory is 8 bytes
per accepted tick of the partition (≈80 MB for a 10 M-tick symbol-month).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_GOLD = np.uint64(0x9E3779B97F4A7C15)
_S33 = np.uint64(33)
_SCALARS = ("ts", "event_type", "bid_px", "bid_sz", "ask_px", "ask_sz", "trade_px", "trade_sz", "trade_side")
_BOOK = ("book_bid_px", "book_bid_sz", "book_ask_px", "book_ask_sz")
_CANON_NAN = np.float64(np.nan).view(np.uint64)


def tick_identity_prefix(path: str | Path, chunk_size: int = 1 << 20, *,
                         partner_sha: str | None | bool = False) -> bytes:
    """What a tick file's name means beyond its bytes, as the bytes hashed before its content.

    LOBSTER rows hold seconds after midnight; the day and symbol are only in the file name. So
    the same bytes landed under another day are another file, and the content store must file
    them under another id (its hash is seeded with this prefix). Empty for formats whose rows
    carry their own time and symbol.

    A LOBSTER delivery is a *pair*: the message file says what happened, the orderbook what the
    book was after it, and the reader reads them together. So a message file's prefix also names
    its orderbook partner's sha256 (``absent`` until it has landed): a corrected orderbook next to a
    byte-identical message file is another delivery of the day, not a duplicate of the first.

    ``partner_sha``: the orderbook's sha256 as the caller already read it (None: absent), so a caller
    that copies the pair hashes what it copied (:meth:`thunderline.store.content.ContentStore.put`);
    by default the orderbook is read here."""
    from thunderline.market.lobster import lobster_pair, parse_lobster_name

    info = parse_lobster_name(path)
    if info is None:
        return b""
    name = f"lobster|{info['symbol']}|{info['date']}|{info['kind']}|{info['level']}\n"
    if info["kind"] != "message":
        return name.encode()
    if partner_sha is not False:
        partner = partner_sha or "absent"
    else:
        try:
            partner = _sha256_of(lobster_pair(path)[1], hashlib.sha256(), chunk_size)
        except FileNotFoundError:
            partner = "absent"
    return f"{name}orderbook|{partner}\n".encode()


def _sha256_of(path: str | Path, h, chunk_size: int) -> str:
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_size):
            h.update(chunk)
    return h.hexdigest()


def tick_file_identity(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """The landing identity of a tick file: sha256 of :func:`tick_identity_prefix` then its bytes —
    the same bytes delivered as another day are another file, the same bytes renamed within the
    same meaning are the same file, and a LOBSTER message file's identity covers its orderbook's
    bytes too (the pair is one delivery)."""
    return _sha256_of(path, hashlib.sha256(tick_identity_prefix(path, chunk_size)), chunk_size)


def _fmix(h: np.ndarray) -> np.ndarray:
    """murmur3's 64-bit finaliser, element-wise (wrapping uint64 arithmetic)."""
    h = h ^ (h >> _S33)
    h = h * _M1
    h = h ^ (h >> _S33)
    h = h * _M2
    return h ^ (h >> _S33)


def _bits(col: pa.Array | pa.ChunkedArray, float_fill: float | int) -> np.ndarray:
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if col.null_count:
        col = col.fill_null(float_fill)
    x = col.to_numpy(zero_copy_only=False)
    if x.dtype.kind == "f":
        x = x.astype(np.float64, copy=False)
        x = np.where(x == 0.0, 0.0, x)  # -0.0 and 0.0 are the same price/size
        u = x.view(np.uint64).copy()
        u[np.isnan(x)] = _CANON_NAN
        return u
    return x.astype(np.int64, copy=False).view(np.uint64)


def _string_codes(col: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A stable 64-bit value per row from its string (sha256 of each distinct value)."""
    enc = pc.dictionary_encode(col)
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()
    words = np.array([int.from_bytes(hashlib.sha256((s or "").encode()).digest()[:8], "little")
                      for s in enc.dictionary.to_pylist()] or [0], dtype=np.uint64)
    return words[enc.indices.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)]


@numba.njit(cache=True)
def _nb_fmix(h):
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    h ^= h >> np.uint64(33)
    return h


@numba.njit(cache=True)
def _mix_lists(h, offsets, fvals, vals, valid, canon_nan):
    """h[i] ← fmix(h[i] ^ chain over row i's list values) in one pass (order- and length-sensitive;
    every NaN is one value and -0.0 is 0.0)."""
    for i in range(h.shape[0]):
        if valid[i]:
            acc = np.uint64(offsets[i + 1] - offsets[i]) + np.uint64(0x9E3779B97F4A7C15)
            for j in range(offsets[i], offsets[i + 1]):
                x = fvals[j]
                if x != x:
                    v = canon_nan
                elif x == 0.0:
                    v = np.uint64(0)
                else:
                    v = vals[j]
                acc = _nb_fmix(acc ^ v)
        else:
            acc = np.uint64(0x5851F42D4C957F2D)
        h[i] = _nb_fmix(h[i] ^ acc)


def _mix_list_column(h: np.ndarray, col: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Mix a list<float64> column into ``h`` (per row): values, their order, the length, null-ness."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    n = h.shape[0]
    if col.null_count == n:
        valid = np.zeros(n, np.bool_)
        offsets = np.zeros(n + 1, np.int64)
        fvals = np.zeros(0, np.float64)
    else:
        valid = col.is_valid().to_numpy(zero_copy_only=False)
        offsets = col.offsets.to_numpy().astype(np.int64)
        v = col.values
        fvals = (v.fill_null(np.nan) if v.null_count else v).to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    _mix_lists(h, offsets, fvals, fvals.view(np.uint64), valid, _CANON_NAN)
    return h


def tick_content_keys(batch: pa.RecordBatch | pa.Table) -> np.ndarray:
    """A uint64 per tick over what the market said (see module docstring); equal events, equal keys."""
    n = batch.num_rows
    h = np.full(n, _GOLD, np.uint64)
    with np.errstate(over="ignore"):
        for name in ("venue", "symbol"):
            h = _fmix(h ^ _string_codes(batch.column(name)))
        for name in _SCALARS:
            h = _fmix(h ^ _bits(batch.column(name), np.nan if name.endswith(("_px", "_sz")) else 0))
        for name in _BOOK:
            h = _mix_list_column(h, batch.column(name))
    return h


@dataclass
class _Accepted:
    path: str
    ts_min: int
    ts_max: int


@dataclass
class _Stream:
    keys: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))  # sorted unique
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    used: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # by the file being checked
    files: list[_Accepted] = field(default_factory=list)


@dataclass
class FileCheck:
    """What the ledger says about a file's chunk: which rows duplicate accepted ticks, which conflict."""

    duplicate: np.ndarray
    conflict_with: str | None = None
    conflicting_rows: int = 0


class SourceLedger:
    """Per-partition memory of accepted files, keyed by (format, venue); see the module docstring.

    Use per file: :meth:`begin`, :meth:`check` on each chunk (in file order), then
    :meth:`commit` when the file is accepted or :meth:`abandon` when it is refused.
    """

    def __init__(self) -> None:
        self._streams: dict[tuple[str, str], _Stream] = {}
        self._pending: dict[tuple[str, str], list[np.ndarray]] = {}
        self._pending_range: dict[tuple[str, str], list[int]] = {}
        self._path = ""

    def begin(self, path: str) -> None:
        self._pending, self._pending_range, self._path = {}, {}, path
        for st in self._streams.values():
            st.used = np.zeros(st.counts.size, np.int64)

    def check(self, fmt: str, batch: pa.RecordBatch) -> FileCheck:
        """Mark the rows of ``batch`` (one stream, or several venues) already held by earlier files."""
        n = batch.num_rows
        dup = np.zeros(n, bool)
        if n == 0:
            return FileCheck(dup)
        keys = tick_content_keys(batch)
        ts = batch.column("ts").to_numpy(zero_copy_only=False).astype(np.int64)
        venue = batch.column("venue")
        venues = pc.unique(venue).to_pylist()
        conflict_with, conflicting = None, 0
        for v in venues:
            rows = np.arange(n) if len(venues) == 1 else np.flatnonzero(pc.equal(venue, v).to_numpy(zero_copy_only=False))
            sk = (fmt, v)
            st = self._streams.get(sk)
            k = keys[rows]
            if st is not None and st.keys.size:
                d = _multiset_hits(k, st.keys, st.counts - st.used)
                np.add.at(st.used, np.searchsorted(st.keys, k[d]), 1)
                dup[rows] = d
                new_ts = ts[rows][~d]
                for a in st.files:
                    inside = int(((new_ts > a.ts_min) & (new_ts < a.ts_max)).sum())
                    if inside and conflict_with is None:
                        conflict_with, conflicting = a.path, inside
                    elif inside and a.path == conflict_with:
                        conflicting += inside
                k = k[~d]
            self._pending.setdefault(sk, []).append(k)
            t = ts[rows]
            r = self._pending_range.setdefault(sk, [int(t.min()), int(t.max())])
            r[0], r[1] = min(r[0], int(t.min())), max(r[1], int(t.max()))
        return FileCheck(dup, conflict_with, conflicting)

    def commit(self) -> None:
        """The file was accepted: its new ticks join the ledger."""
        for sk, parts in self._pending.items():
            st = self._streams.setdefault(sk, _Stream())
            new = np.concatenate(parts) if parts else np.zeros(0, np.uint64)
            if new.size:
                allk = np.concatenate([np.repeat(st.keys, st.counts), new])
                st.keys, st.counts = np.unique(allk, return_counts=True)
            st.used = np.zeros(st.counts.size, np.int64)
            lo, hi = self._pending_range[sk]
            st.files.append(_Accepted(self._path, lo, hi))
        self._pending, self._pending_range = {}, {}

    def abandon(self) -> None:
        self._pending, self._pending_range = {}, {}
        for st in self._streams.values():
            st.used = np.zeros(st.counts.size, np.int64)


def _multiset_hits(keys: np.ndarray, held: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """True for the first ``held count`` occurrences (in row order) of each key of ``keys`` in ``held``."""
    pos = np.searchsorted(held, keys)
    pos_c = np.minimum(pos, held.size - 1)
    found = held[pos_c] == keys
    avail = np.where(found, counts[pos_c], 0)
    if not found.any():
        return found
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    first = np.ones(sk.size, bool)
    first[1:] = sk[1:] != sk[:-1]
    grp_start = np.maximum.accumulate(np.where(first, np.arange(sk.size), 0))
    occ = np.empty(sk.size, np.int64)
    occ[order] = np.arange(sk.size) - grp_start
    return occ < avail
