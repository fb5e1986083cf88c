"""Columnar reading of vendor CSVs: compressed streams, line-aligned blocks, pyarrow.csv parsing.

Why: a full-depth day is millions of rows; parsing them one Python row at a time costs ~20 µs a
row. Here a file is cut into blocks of whole lines (bounded memory), each block is parsed by
``pyarrow.csv`` into typed columns and validated column-wise by the format's reader; only a
block that pyarrow cannot type (a malformed line somewhere in it) is cut in halves until the
pieces are small, and those pieces alone go through the exact row path, which names file, line,
field and reason as before. So the rows, ticks and rejects are the same as the row path's.

Compression is detected from the first bytes (gzip, zstd, zip with one member), not from the
name, and streamed: nothing is decompressed to disk.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from thunderline.market.line_scan import after_nth_line, count_lines

BLOCK_BYTES = 8 << 20
MIN_SPLIT_LINES = 64
_GZIP = b"\x1f\x8b"
_ZSTD = b"\x28\xb5\x2f\xfd"
_ZIP = b"PK\x03\x04"
COMPRESSED_SUFFIXES = (".gz", ".zst", ".zstd", ".zip")
_LONE_CR = re.compile(rb"\r(?!\n)")


def compression_of(path: str | Path) -> str | None:
    """"gzip", "zstd", "zip" or None, from the file's magic bytes."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head[:2] == _GZIP:
        return "gzip"
    if head == _ZSTD:
        return "zstd"
    if head == _ZIP:
        return "zip"
    return None


def open_bytes(path: str | Path) -> IO[bytes]:
    """A binary stream of the file's (decompressed) bytes."""
    kind = compression_of(path)
    if kind in ("gzip", "zstd"):
        return pa.input_stream(str(path), compression=kind)  # type: ignore[return-value]
    if kind == "zip":
        zf = zipfile.ZipFile(path)
        names = [n for n in zf.namelist() if not n.endswith("/")]
        if len(names) != 1:
            raise ValueError(f"{path}: a zip tick file must hold exactly one file, found {len(names)}: {names[:5]}")
        return zf.open(names[0])
    return open(path, "rb")


def open_text(path: str | Path) -> IO[str]:
    """A text stream (UTF-8, a leading byte-order mark dropped, undecodable bytes as U+FFFD, line ends
    kept) of the file's decompressed bytes."""
    return io.TextIOWrapper(open_bytes(path), encoding="utf-8-sig", errors="replace", newline="")


class LineReader:
    """Reads whole lines from a byte stream in bounded blocks; counts lines (1-based numbering).

    Each byte is copied once after the read (when a block is assembled): what is not yet handed out
    is kept as a memoryview of the chunk it was read in, and line ends are found by compiled scans
    (:mod:`thunderline.market.line_scan`)."""

    def __init__(self, stream: IO[bytes], block_bytes: int | None = None, *, pooled: bool = False) -> None:
        self.stream = stream
        self.block_bytes = block_bytes or BLOCK_BYTES
        self._pooled = pooled  # lines() returns a memoryview of a pooled buffer (see lines)
        self._buf: bytes | memoryview = b""  # read, normalised, not yet handed out
        self._eof = False
        self._held = b""  # a chunk's trailing CR, until we know whether LF follows
        self._first = True
        self._ends_lf = True  # the bytes read so far end in LF (or there are none)
        self.next_line = 1  # number of the first line not yet handed out

    def _norm(self, chunk: bytes) -> bytes:
        """Line ends as the row path's text reader sees them: LF, CRLF and a lone CR each end a line
        (a lone CR becomes LF); a leading UTF-8 byte-order mark is dropped."""
        if self._first:
            self._first = False
            if chunk.startswith(b"\xef\xbb\xbf"):
                chunk = chunk[3:]
        chunk = self._held + chunk if self._held else chunk
        self._held = b""
        if chunk.endswith(b"\r") and not self._eof:
            self._held, chunk = b"\r", chunk[:-1]
        if b"\r" in chunk:
            chunk = _LONE_CR.sub(b"\n", chunk)
        return chunk

    def _chunk(self) -> bytes:
        """The next normalised chunk (b"" at the end); the stream's last line always ends in LF."""
        while not self._eof:
            raw = self.stream.read(max(self.block_bytes, 3 if self._first else 1))  # the whole BOM in the first
            if not raw:
                self._eof = True
            chunk = self._norm(raw)
            if self._eof and not (chunk.endswith(b"\n") if chunk else self._ends_lf):
                chunk += b"\n"  # a last line without its newline is still a line
            if chunk:
                self._ends_lf = chunk.endswith(b"\n")
                return chunk
        return b""

    def block(self) -> tuple[bytes, int]:
        """About ``block_bytes`` of whole lines and their count (b"", 0 at the end)."""
        while True:
            chunk = self._chunk()
            if not chunk:
                out, self._buf = bytes(self._buf), b""
                break
            cut = chunk.rfind(b"\n") + 1
            if cut:
                rest = memoryview(chunk)[cut:]
                out = b"".join((self._buf, memoryview(chunk)[:cut])) if len(self._buf) or rest else chunk
                self._buf = rest if rest else b""
                break
            self._buf = bytes(self._buf) + chunk  # no line end in a whole chunk: a line longer than a block
        n = count_lines(out)
        self.next_line += n
        return out, n

    def lines(self, n: int) -> tuple[bytes | memoryview, int]:
        """The next ``n`` lines (fewer at the end of the stream) and how many were read. With ``pooled``, a
        memoryview of a buffer in Arrow's memory pool. Why: a block of ``chunk_rows`` lines runs to
        100 MB; a fresh ``bytes`` per call is mapped and zero-filled page by page (measured: a quarter
        of the canonical reader's CPU), while the pool hands back pages already mapped."""
        parts: list[bytes | memoryview] = []
        got = 0
        while got < n:
            if not len(self._buf):
                self._buf = self._chunk()
                if not self._buf:
                    break
            cut, k = after_nth_line(self._buf, n - got)
            if k == 0:  # a line longer than what is buffered: read on
                more = self._chunk()
                if not more:
                    break
                self._buf = bytes(self._buf) + more
                continue
            view = memoryview(self._buf)
            parts.append(view[:cut])
            self._buf = view[cut:] if cut < len(view) else b""
            got += k
        self.next_line += got
        if self._pooled:
            return self._into(parts), got
        if len(parts) == 1 and isinstance(parts[0].obj, bytes) and len(parts[0]) == len(parts[0].obj):
            return parts[0].obj, got
        return b"".join(parts), got

    def _into(self, parts: list) -> memoryview:
        """``parts`` one after another in a buffer of Arrow's memory pool, which reuses the pages of blocks
        already consumed (a Python ``bytes`` of tens of MB is mapped afresh and zero-filled page by page)."""
        buf = pa.allocate_buffer(sum(len(p) for p in parts))
        out = memoryview(buf).cast("B")
        at = 0
        for p in parts:
            out[at:at + len(p)] = p
            at += len(p)
        return out

    def header(self) -> bytes:
        """The first line (without its end), consumed."""
        data, n = self.lines(1)
        return bytes(data).rstrip(b"\r\n") if n else b""


def split_lines(data: bytes | memoryview) -> list[bytes]:
    """The lines of a block, without their ends."""
    data = data if isinstance(data, bytes) else bytes(data)
    return [ln[:-1] if ln.endswith(b"\r") else ln for ln in data.split(b"\n")[:-1]]


def halves(data: bytes) -> tuple[bytes, bytes, int]:
    """Cut a block of whole lines in two at a line boundary: (first, second, lines in first)."""
    nl = np.flatnonzero(np.frombuffer(data, np.uint8) == 10)
    k = nl.size // 2
    cut = int(nl[k - 1]) + 1
    return data[:cut], data[cut:], k


PARSE_BLOCK_BYTES = 1 << 20  # pyarrow's own block: a block that fits the cache parses ~2x faster than 8 MB


def parse_block(data: bytes, names: list[str], types: dict[str, pa.DataType], *,
                use_threads: bool = False, lines: int | None = None) -> pa.Table | None:
    """``data`` (whole lines, no header) as a typed table, or None when a line does not type.

    Only the empty string is null (so "NaN"/"inf" arrive as values and are judged by the reader),
    quoting is off (vendor files do not quote), and a line with the wrong number of fields fails
    the block rather than being skipped. pyarrow parses in 1 MB blocks (measured: 2-2.5x less CPU
    than one block of the whole piece); a line longer than that is parsed as one block. ``lines``: how
    many line ends ``data`` holds when the caller already counted them (else they are counted here).
    """
    for block_size in (PARSE_BLOCK_BYTES, len(data) + 1):
        try:
            t = pacsv.read_csv(
                pa.py_buffer(data),
                read_options=pacsv.ReadOptions(column_names=names, use_threads=use_threads, block_size=block_size),
                parse_options=pacsv.ParseOptions(quote_char=False, double_quote=False, escape_char=False,
                                                 ignore_empty_lines=False),
                convert_options=pacsv.ConvertOptions(column_types=types, null_values=[""], true_values=[],
                                                     false_values=[], strings_can_be_null=False,
                                                     quoted_strings_can_be_null=False),
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            if "straddl" in str(exc) and block_size < len(data) + 1:
                continue  # a line longer than pyarrow's block, not a bad line
            return None
        # one row per line, or the row path decides (pyarrow would skip or split lines the row path keeps)
        return t if t.num_rows == (data.count(b"\n") if lines is None else lines) else None
    return None


@dataclass(frozen=True)
class Piece:
    """A run of lines: ``first_line`` is the 1-based number of its first line."""

    first_line: int
    n: int
    data: tuple[bytes, ...]  # one byte block per aligned file (LOBSTER: message, orderbook)


def typed_pieces(piece: Piece, parse) -> Iterator[tuple[Piece, tuple[pa.Table, ...] | None]]:
    """Parse ``piece`` with ``parse`` (bytes per file and the piece's line count → tables or None); pieces
    that do not parse are halved until they are at most MIN_SPLIT_LINES lines, then yielded with None
    (row path)."""
    tables = parse(piece.data, piece.n)
    if tables is not None or piece.n <= MIN_SPLIT_LINES:
        yield piece, tables
        return
    firsts, seconds = [], []
    for d in piece.data:
        a, b, _ = _halves_at(d, piece.n // 2)
        firsts.append(a)
        seconds.append(b)
    k = piece.n // 2
    yield from typed_pieces(Piece(piece.first_line, k, tuple(firsts)), parse)
    yield from typed_pieces(Piece(piece.first_line + k, piece.n - k, tuple(seconds)), parse)


def _halves_at(data: bytes, k: int) -> tuple[bytes, bytes, int]:
    nl = np.flatnonzero(np.frombuffer(data, np.uint8) == 10)
    if nl.size < k or k == 0:
        return data, b"", nl.size
    cut = int(nl[k - 1]) + 1
    return data[:cut], data[cut:], k
