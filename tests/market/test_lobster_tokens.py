"""The compiled LOBSTER tokenizers equal the row rules and the pyarrow path on generated files: lines of
the real AMZN day (and a 3-level synthetic book) with hypothesis-chosen damage — truncated lines, bad
numbers and times, extra or missing fields, signs, dummy levels — CRLF line ends, unequal file lengths
and gzip / zstd / zip compression, at any block size. Same ticks (hash), same quarantine rows."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thunderline.market import columnar, lobster
from thunderline.market.canonical import ticks_sha256

_NUMBERS = ["", "x", "1.5", "+3", "-0", "0", " 1", "0x1", "99999999999999999999", "1234567890123456789", "1e3",
            "9999999999", "-9999999999", "-5", "\u00e9"]
_TIMES = ["34200", "34200.", "86400.1", "86399.999999999", "0034200.1", "34200.1234567891", ".5", "34200.000000001",
          "1e4", "-1", "57599.5"]


def _mutate(line: str, how: int, pick: int, token: str, time_token: str) -> str:
    f = line.split(",")
    if how == 1:
        return line[:pick % (len(line) + 1)]            # truncated
    if how == 2:
        return line + ",7"                               # an extra field
    if how == 3:
        return ",".join(f[:-1])                          # a field missing
    if how == 4:
        f[pick % len(f)] = token                         # a bad (or odd but valid) number
    if how == 5 and "." in f[0]:
        f[0] = time_token                                # a time off (or at the edge of) the grammar
    return ",".join(f)


_DAMAGE = st.tuples(st.integers(0, 12), st.integers(0, 400), st.sampled_from(_NUMBERS), st.sampled_from(_TIMES))


def _synthetic_book(i: int, level: int) -> str:
    out = []
    for k in range(level):
        ap = 9_999_999_999 if k == level - 1 and i % 5 == 0 else 2_238_100 + 100 * (k + 1)
        out += [ap, 100 + i + k, 2_238_000 - 100 * k, 200 + k]
    return ",".join(map(str, out))


def _write(path: Path, lines: list[str], crlf: bool, kind: str) -> Path:
    data = (("\r\n" if crlf else "\n").join(lines) + "\n").encode()
    if kind == "gzip":
        out = path.with_name(path.name + ".gz")
        out.write_bytes(gzip.compress(data, mtime=0))
    elif kind == "zstd":
        out = path.with_name(path.name + ".zst")
        sink = pa.BufferOutputStream()
        with pa.CompressedOutputStream(sink, "zstd") as s:
            s.write(data)
        out.write_bytes(sink.getvalue().to_pybytes())
    elif kind == "zip":
        out = path.with_name(path.name + ".zip")
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(path.name, data)
    else:
        out = path
        out.write_bytes(data)
    return out


def _all(chunks) -> tuple[str, list]:
    chunks = list(chunks)
    return ticks_sha256([c.batch for c in chunks]), [r for c in chunks for r in c.rejects]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), n=st.integers(1, 40), level=st.sampled_from([1, 3]), crlf=st.booleans(),
       kind=st.sampled_from(["plain", "gzip", "zstd", "zip"]), block=st.sampled_from([64, 700, 1 << 20]),
       drop=st.sampled_from([0, 0, 0, 1, -1]))
def test_compiled_tokenizer_equals_row_rules_on_damaged_files(lobster_message, tmp_path_factory, data, n, level, crlf,
                                                              kind, block, drop):
    real_m = lobster_message.read_text().splitlines()[:n]
    real_o = lobster_message.with_name(lobster_message.name.replace("_message_", "_orderbook_")).read_text().splitlines()
    msgs, books = [], []
    for i, m in enumerate(real_m):
        o = real_o[i] if level == 1 else _synthetic_book(i, level)
        msgs.append(_mutate(m, *data.draw(_DAMAGE)))
        books.append(_mutate(o, *data.draw(_DAMAGE)))
    if drop > 0:
        books = books[:-1]                                # the orderbook file ends early
    elif drop < 0:
        msgs = msgs[:-1]                                  # the message file ends early
    d = tmp_path_factory.mktemp("lob")
    stem = f"XYZ_2012-06-21_34200000_57600000_{{}}_{level}.csv"
    msg = _write(d / stem.format("message"), msgs, crlf, kind)
    _write(d / stem.format("orderbook"), books, crlf, kind)
    old = columnar.BLOCK_BYTES
    columnar.BLOCK_BYTES = block
    try:
        got = _all(lobster.iter_lobster(msg, "t", 16))
        verify = _all(lobster.iter_lobster(msg, "t", 16, tokenizer="pyarrow"))
    finally:
        columnar.BLOCK_BYTES = old
    want = _all(lobster.iter_lobster_rows(msg, "t", 16))
    assert got == want
    assert verify == want


def test_every_odd_token_in_every_field(lobster_message, tmp_path):
    """Each odd number in each message and orderbook field, each odd time: the compiled tokenizer and
    the row rules read the same ticks and quarantine the same rows."""
    m0 = lobster_message.read_text().splitlines()[0]
    o0 = lobster_message.with_name(lobster_message.name.replace("_message_", "_orderbook_")).read_text().splitlines()[0]
    msgs, books = [], []
    for token in _NUMBERS:
        for k in range(6):
            msgs.append(_mutate(m0, 4, k, token, ""))
            books.append(o0)
        for k in range(4):
            msgs.append(m0)
            books.append(_mutate(o0, 4, k, token, ""))
    for t in _TIMES:
        msgs.append(_mutate(m0, 5, 0, "", t))
        books.append(o0)
    stem = "XYZ_2012-06-21_34200000_57600000_{}_1.csv"
    msg = _write(tmp_path / stem.format("message"), msgs, False, "plain")
    _write(tmp_path / stem.format("orderbook"), books, False, "plain")
    want = _all(lobster.iter_lobster_rows(msg, "t", 64))
    assert _all(lobster.iter_lobster(msg, "t", 64)) == want
    assert len(want[1]) > 100
