"""The columnar readers equal the exact row path: same ticks (hash), same rejects (file, line, field,
reason, raw), whatever the block size, and read gzip / zstd / zip files directly."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from thunderline.market import columnar, lobster
from thunderline.market.canonical import ticks_sha256
from thunderline.market.readers import iter_tick_chunks


def _all(chunks) -> tuple[str, list]:
    chunks = list(chunks)
    return ticks_sha256([c.batch for c in chunks]), [r for c in chunks for r in c.rejects]


def _lobster_pair(tmp_path: Path, level: int, n: int, bad_every: int, seed: int = 3) -> Path:
    """A LOBSTER pair with ``n`` rows, every ``bad_every``-th row broken in one of several ways."""
    rng = np.random.default_rng(seed)
    msg_lines, ob_lines = [], []
    breaks = [
        lambda m, o: (m.replace(",1,", ",9,", 1), o),                  # unknown type
        lambda m, o: (m.rsplit(",", 1)[0], o),                         # missing column
        lambda m, o: (m, o.replace(",", ",-", 1)),                     # negative ask size
        lambda m, o: (m.replace(",", "x,", 1), o),                     # bad time
        lambda m, o: (m, o + ",5"),                                    # extra orderbook column
        lambda m, o: ("1e3" + m[m.index(","):], o),                    # time in exponent form
        lambda m, o: (m, o.replace(o.split(",")[0], "abc", 1)),       # non-integer price
        lambda m, o: (m, o.replace(",", ", ", 1)),                     # a space (pyarrow would trim it)
        lambda m, o: (m.replace(",", ",0x", 2).replace(",0x", ",", 1), o),  # hex order id (pyarrow reads 0x…)
    ]
    t = 34_200.0
    for i in range(1, n + 1):
        t += float(rng.exponential(0.05))
        typ = int(rng.choice([1, 2, 3, 4, 5, 7], p=[0.4, 0.2, 0.2, 0.1, 0.05, 0.05]))
        secs = f"{t:.9f}".rstrip("0").rstrip(".")
        price = 2_238_100 + int(rng.integers(-50, 50)) * 100
        m = f"{secs},{typ},{i},{int(rng.integers(1, 500))},{price if typ != 7 else -1},{int(rng.choice([1, -1]))}"
        book = []
        for k in range(level):
            ap = 9_999_999_999 if k == level - 1 and i % 17 == 0 else price + 100 * (k + 1)
            book += [ap, int(rng.integers(1, 900)), price - 100 * k, int(rng.integers(1, 900))]
        o = ",".join(str(x) for x in book)
        if bad_every and i % bad_every == 0:
            m, o = breaks[(i // bad_every) % len(breaks)](m, o)
        msg_lines.append(m)
        ob_lines.append(o)
    msg = tmp_path / f"XYZ_2012-06-21_34200000_57600000_message_{level}.csv"
    msg.write_text("\n".join(msg_lines) + "\n")
    msg.with_name(msg.name.replace("_message_", "_orderbook_")).write_text("\n".join(ob_lines) + "\n")
    return msg


@pytest.mark.parametrize("tokenizer", ["compiled", "pyarrow"])
@pytest.mark.parametrize("block", [2_048, 1 << 20])
@pytest.mark.parametrize("level", [1, 10])
def test_lobster_columnar_equals_row_path(tmp_path, monkeypatch, block, level, tokenizer):
    monkeypatch.setattr(columnar, "BLOCK_BYTES", block)
    msg = _lobster_pair(tmp_path, level, 3_000, 37)
    h_col, r_col = _all(lobster.iter_lobster(msg, "t", 500, tokenizer=tokenizer))
    h_row, r_row = _all(lobster.iter_lobster_rows(msg, "t", 500))
    assert len(r_col) > 50
    assert h_col == h_row
    assert r_col == r_row
    assert {r.field for r in r_col} >= {"type", "*", "orderbook.ask_sz_1", "time", "orderbook.orderbook", "orderbook.ask_px_1"}


def test_lobster_columnar_on_the_real_amzn_day(lobster_message):
    want = _all(lobster.iter_lobster_rows(lobster_message, "t", 10_000))
    assert _all(lobster.iter_lobster(lobster_message, "t", 10_000)) == want
    assert _all(lobster.iter_lobster(lobster_message, "t", 10_000, tokenizer="pyarrow")) == want


def test_lobster_unequal_files_name_the_missing_partner(tmp_path, monkeypatch):
    monkeypatch.setattr(columnar, "BLOCK_BYTES", 1_024)
    msg = _lobster_pair(tmp_path, 2, 400, 0)
    ob = msg.with_name(msg.name.replace("_message_", "_orderbook_"))
    lines = ob.read_text().splitlines()
    ob.write_text("\n".join(lines[:350]) + "\n")
    h_col, r_col = _all(lobster.iter_lobster(msg, "t", 64))
    assert (h_col, r_col) == _all(lobster.iter_lobster_rows(msg, "t", 64))
    assert [r.source_row for r in r_col] == list(range(351, 401))
    msg.write_text("\n".join(msg.read_text().splitlines()[:300]) + "\n")
    h_col, r_col = _all(lobster.iter_lobster(msg, "t", 64))
    assert (h_col, r_col) == _all(lobster.iter_lobster_rows(msg, "t", 64))
    assert [r.source_row for r in r_col] == list(range(301, 351)) and r_col[0].source == str(ob)


def _compress(path: Path, kind: str) -> Path:
    data = path.read_bytes()
    out = path.with_name(path.name + {"gzip": ".gz", "zstd": ".zst", "zip": ".zip"}[kind])
    if kind == "gzip":
        out.write_bytes(gzip.compress(data, mtime=0))
    elif kind == "zstd":
        sink = pa.BufferOutputStream()
        with pa.CompressedOutputStream(sink, "zstd") as s:
            s.write(data)
        out.write_bytes(sink.getvalue().to_pybytes())
    else:
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(path.name, data)
    return out


@pytest.mark.parametrize("kind", ["gzip", "zstd", "zip"])
def test_compressed_vendor_files_are_read_directly(tmp_path, kind):
    msg = _lobster_pair(tmp_path, 5, 1_000, 41)
    ob = msg.with_name(msg.name.replace("_message_", "_orderbook_"))
    plain = _all(lobster.iter_lobster(msg, "t", 300))
    cmsg, _ = _compress(msg, kind), _compress(ob, kind)
    h, rejects = _all(iter_tick_chunks(cmsg, "t", 300))
    assert columnar.compression_of(cmsg) == kind
    # same ticks; rejects name the compressed file they came from
    assert [(r.source_row, r.field, r.reason, r.raw) for r in rejects] == [
        (r.source_row, r.field, r.reason, r.raw) for r in plain[1]]
    t = pa.Table.from_batches([c.batch for c in iter_tick_chunks(cmsg, "t", 300)])
    t0 = pa.Table.from_batches([c.batch for c in lobster.iter_lobster(msg, "t", 300)])
    i = t.schema.get_field_index("source")
    assert ticks_sha256([t.set_column(i, "source", t0.column("source"))]) == ticks_sha256([t0])
