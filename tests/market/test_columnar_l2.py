"""Columnar incremental L2 readers (Tardis incremental_book_L2, Binance depth) equal their exact row
readers: same ticks (hash) and the same quarantine rows (file, 1-based line, field, reason, raw) on the
real files in ../shared/datasets, on mutated copies, on generated books of hundreds of levels (any block
size, several books per file, compressed), where float keys would merge distinct decimal prices, and for
arbitrary generated lines (hypothesis). The numba book kernel is checked against a plain dict book."""

from __future__ import annotations

import gzip
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thunderline.market import columnar, crypto, l2_columnar, l2_kernel
from thunderline.market.canonical import ticks_sha256
from thunderline.market.readers import iter_tick_chunks
from thunderline.market.synthetic_l2 import write_binance_depth, write_tardis_incremental

READERS = {  # format: (row reader, columnar reader)
    "tardis": (crypto.iter_tardis_incremental_rows, l2_columnar.iter_tardis_incremental),
    "binance": (crypto.iter_binance_depth_rows, l2_columnar.iter_binance_depth),
}
REAL = {"tardis": ["tardis/deribit_incremental_book_L2_BTC-PERPETUAL.csv"],
        "binance": ["binance/btcusdt-depth-snap.csv", "binance/btcusdt-depth-update.csv"]}


def _all(chunks) -> tuple[str, list]:
    chunks = list(chunks)
    return ticks_sha256([c.batch for c in chunks]), [r for c in chunks for r in c.rejects]


def _same(kind: str, path: Path, chunk_rows: int = 7, depth: int = 10) -> tuple[str, list]:
    """Both readers give the same ticks and rejects, cut into the same chunks."""
    rows, cols = READERS[kind]
    want_chunks, got_chunks = list(rows(path, "t", chunk_rows, depth)), list(cols(path, "t", chunk_rows, depth))
    want, got = _all(want_chunks), _all(got_chunks)
    assert got[1] == want[1]
    assert got[0] == want[0]
    assert [(c.batch.num_rows, len(c.rejects)) for c in got_chunks] == [
        (c.batch.num_rows, len(c.rejects)) for c in want_chunks]
    return want


def test_the_kernel_keeps_the_row_readers_sequence_factor():
    assert l2_kernel.SEQ_FACTOR == crypto.BINANCE_SEQ_FACTOR


@pytest.mark.parametrize("kind", sorted(REAL))
def test_columnar_equals_row_path_on_the_real_files(market_data, kind):
    for name in REAL[kind]:
        path = market_data / "crypto" / name
        for depth in (1, 5, 10):
            assert _same(kind, path, 4, depth)[1] == []
        assert _all(iter_tick_chunks(path, "t", 4)) == _all(READERS[kind][0](path, "t", 4))  # detection reaches it


def test_binance_snapshot_then_update_file_keeps_one_book(market_data, tmp_path):
    snap = (market_data / "crypto/binance/btcusdt-depth-snap.csv").read_text().splitlines()
    upd = (market_data / "crypto/binance/btcusdt-depth-update.csv").read_text().splitlines()
    path = tmp_path / "both.csv"
    path.write_text("\n".join(snap + upd[1:] + snap[1:40]) + "\n")  # a snapshot, its updates, a new snapshot
    _same("binance", path, 16)


# one broken copy of a data line per entry; (tardis field index, binance field index) of what each breaks
MUTATIONS = [
    lambda f, p, a: f[:1] + ["0x10"] + f[2:],               # hex integer: pyarrow would read it
    lambda f, p, a: f[:2] + [" " + f[2]] + f[3:],           # a space: pyarrow would trim it
    lambda f, p, a: f[:2] + ["12.5"] + f[3:],               # not an integer
    lambda f, p, a: f[:3] + [""] + f[4:],                   # an empty integer (Binance update id)
    lambda f, p, a: f[:a] + ["-" + f[a]] + f[a + 1:],       # negative size
    lambda f, p, a: f[:a] + ["nan"] + f[a + 1:],
    lambda f, p, a: f[:p] + ["inf"] + f[p + 1:],
    lambda f, p, a: f[:a] + ["1e400"] + f[a + 1:],          # beyond float64
    lambda f, p, a: f[:a] + ["+" + f[a]] + f[a + 1:],       # a plus sign (the rule accepts it)
    lambda f, p, a: f[:p] + ["+" + f[p]] + f[p + 1:],
    lambda f, p, a: f[:a] + [""] + f[a + 1:],               # empty size
    lambda f, p, a: f[:p] + ["0"] + f[p + 1:],              # zero price
    lambda f, p, a: f[:p] + ["-0"] + f[p + 1:],
    lambda f, p, a: f[:a] + ["-0"] + f[a + 1:],             # minus zero size: a delete
    lambda f, p, a: f[:p] + ["1_0"] + f[p + 1:],
    lambda f, p, a: f[:p] + ["1e3"] + f[p + 1:],            # exponent form (the rule accepts it)
    lambda f, p, a: f[:-1],                                 # a column missing
    lambda f, p, a: f + ["7"],                              # a column too many
    lambda f, p, a: [f'"{f[0]}"'] + f[1:],                  # a quoted field
    lambda f, p, a: f[:4] + ["maybe"] + f[5:],              # bad is_snapshot / side
    lambda f, p, a: f[:5] + ["sell"] + f[6:],               # bad side / update_type
    lambda f, p, a: f[:p] + [f[p] + "0000000000000000"] + f[p + 1:],  # a long price: the row rule reads on
]
FIELDS = {"tardis": (6, 7), "binance": (6, 7)}


def _mutated(lines: list[str], kind: str, dst: Path) -> Path:
    """``lines`` with every mutation applied to a copy of a data line, plus CRLF, blank and broken-UTF-8 lines."""
    p, a = FIELDS[kind]
    out = [lines[0]]
    for i, mutate in enumerate(MUTATIONS):
        src = lines[1 + (7 * i) % (len(lines) - 1)]
        out += [src, ",".join(mutate(src.split(","), p, a))]
    data = ("\n".join(out) + "\n").encode()
    data += lines[1].encode() + b"\r\n\n" + lines[1].encode().replace(b",", b"\xff,", 1) + b"\n" + lines[2].encode()
    dst.write_bytes(data)
    return dst


@pytest.mark.parametrize("chunk_rows", [5, 64, 1_000])  # the columnar readers read a chunk's lines per block
@pytest.mark.parametrize("kind", sorted(REAL))
def test_mutated_copies_quarantine_the_same_rows(market_data, tmp_path, kind, chunk_rows):
    lines = (market_data / "crypto" / REAL[kind][-1]).read_text().splitlines()
    path = _mutated(lines, kind, tmp_path / f"{kind}.csv")
    _, rejects = _same(kind, path, chunk_rows)
    assert len(rejects) >= 15 and all(r.source == str(path) and r.source_row > 1 for r in rejects)
    assert {r.field for r in rejects} >= {"*", "price", "side"}


@pytest.mark.parametrize("kind", sorted(REAL))
def test_generated_books_of_hundreds_of_levels(tmp_path, monkeypatch, kind):
    """Generated files: books of ~400 levels (the kernel's sides grow past their first capacity), two books
    in one file, a snapshot after updates (a reset), bad rows, any block size, gzip / zip / zstd."""
    monkeypatch.setattr(columnar, "BLOCK_BYTES", 64 << 10)
    writer = write_tardis_incremental if kind == "tardis" else write_binance_depth
    a = writer(tmp_path / "a.csv", 6_000, seed=3).read_text().splitlines()
    b = writer(tmp_path / "b.csv", 3_000, seed=4, symbol="ETHUSD").read_text().splitlines()
    body = a[1:3_000] + b[1:] + a[3_000:] + a[1:500]
    body[4_000] = body[4_000].replace(",", ",x", 3)
    path = tmp_path / f"{kind}.csv"
    path.write_text("\n".join([a[0]] + body) + "\n")
    want = _same(kind, path, 1_000)
    assert len(want[1]) == 1
    data = path.read_bytes()
    for name, blob in (("gz", gzip.compress(data, mtime=0)), ("zst", None), ("zip", None)):
        out = tmp_path / f"{kind}.csv.{name}"
        if name == "zst":
            with pa.output_stream(str(out), compression="zstd") as fh:
                fh.write(data)
        elif name == "zip":
            with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
                zf.writestr(f"{kind}.csv", data)
        else:
            out.write_bytes(blob)
        chunks = list(READERS[kind][1](out, "t", 1_000, 10))
        got = _all(chunks)
        renamed = [c.batch.set_column(17, "source", pa.array([str(path)] * c.batch.num_rows)) for c in chunks]
        assert ticks_sha256(renamed) == want[0]
        assert [(r.source_row, r.field, r.reason, r.raw) for r in got[1]] == [
            (r.source_row, r.field, r.reason, r.raw) for r in want[1]]


def _reference_books(key, is_bid, px, sz, snap, depth):
    """Plain-dict Tardis books (the kernel's rules without its arrays): each row's top ``depth`` levels."""
    books: dict[int, tuple[dict, dict]] = {}
    in_snap: dict[int, bool] = {}
    out = np.zeros((len(key), 4, depth))
    for i in range(len(key)):
        bids, asks = books.setdefault(int(key[i]), ({}, {}))
        if snap[i] and not in_snap.get(int(key[i]), False):
            bids.clear()
            asks.clear()
        in_snap[int(key[i])] = bool(snap[i])
        side = bids if is_bid[i] else asks
        if sz[i] == 0:
            side.pop(px[i], None)
        else:
            side[px[i]] = sz[i]
        for j, (lv, best) in enumerate(((bids, sorted(bids, reverse=True)), (asks, sorted(asks)))):
            top = best[:depth] + [np.nan] * (depth - len(best[:depth]))
            out[i, 2 * j] = top
            out[i, 2 * j + 1] = [lv.get(p, 0.0) for p in top]
    return out


def test_book_kernel_equals_a_dict_book():
    rng = np.random.default_rng(5)
    n, depth = 20_000, 7
    key = rng.integers(0, 3, n)
    is_bid = rng.random(n) < 0.5
    px = np.round(np.where(is_bid, 100 - rng.geometric(0.01, n), 100 + rng.geometric(0.01, n)) * 0.25, 2)
    sz = np.where(rng.random(n) < 0.3, 0.0, rng.integers(1, 9, n).astype(float))
    snap = np.zeros(n, bool)
    snap[[0, 1, 9_000, 9_001, 15_000]] = True
    books = l2_kernel.L2Books(depth, False, levels=4)
    books.ensure_keys(3)
    bpx, bsz, apx, asz, _, ok = books.apply(key, is_bid, px, sz, snap, np.zeros(n, np.int64))
    assert books.bv.shape[1] >= 64 and ok.all()  # sides grew from 4 levels
    want = _reference_books(key, is_bid, px, sz, snap, depth)
    for j, got in enumerate((bpx, bsz, apx, asz)):
        np.testing.assert_array_equal(got, want[:, j])


def test_binance_update_id_with_too_many_rows_is_rejected_like_the_row_path(tmp_path):
    lines = write_binance_depth(tmp_path / "g.csv", 60, seed=2).read_text().splitlines()
    f = lines[-1].split(",")
    row = ",".join(f[:3] + ["2098021999999", "b", "set", "20000.00", "{}", "5"])
    many = [row.format(f"{1 + i % 997}.000") for i in range(crypto.BINANCE_SEQ_FACTOR + 2)]
    path = tmp_path / "many.csv"
    path.write_text("\n".join(lines + many + lines[-3:]) + "\n")
    _, rejects = _same("binance", path, 50_000, depth=2)
    assert [(r.source_row, r.field) for r in rejects] == [(len(lines) + crypto.BINANCE_SEQ_FACTOR + i, "last_update_id")
                                                          for i in (1, 2)]


def test_prices_that_share_a_float_are_read_as_the_row_rule_reads_them(tmp_path, monkeypatch):
    """0.1 and 0.10000000000000000001 are two levels to the row rule's Decimal book and one float, and an
    amount of 1e-400 keeps a level there: the columnar reader hands its books to the row rule at such a row
    (at the start of a file, or after a block of kernel rows) and reads on exactly."""
    monkeypatch.setattr(columnar, "BLOCK_BYTES", 2_048)
    head = "deribit,BTC-PERPETUAL,1585699200245000,1585699200355684"
    snap = [f"{head},true,bid,0.0{i},{i}" for i in range(1, 9)] + [f"{head},false,ask,0.2,3"]
    tricky = [f"{head},false,bid,0.1,5", f"{head},false,bid,0.10000000000000000001,6", f"{head},false,x,1,1",
              f"{head},false,bid,0.10000000000000000001,0", f"{head},false,bid,0.3,1e-400"]
    filler = [f"{head},false,ask,0.{20 + i % 50},{i % 3}" for i in range(300)]
    header = ",".join(crypto.TARDIS_INCREMENTAL)
    for name, body in (("early", snap + tricky + filler), ("late", snap + filler[:200] + tricky + filler[200:])):
        path = tmp_path / f"{name}.csv"
        path.write_text("\n".join([header] + body) + "\n")
        _, rejects = _same("tardis", path, 64, depth=3)
        assert [r.field for r in rejects] == ["side"]
        ticks = pa.Table.from_batches([c.batch for c in l2_columnar.iter_tardis_incremental(path, "t", 64, 3)])
        by_line = {r: i for i, r in enumerate(ticks.column("source_row").to_pylist())}
        first = 2 + body.index(tricky[0])
        for line, px, sz in ((first + 1, [0.1, 0.1], [6.0, 5.0]), (first + 4, [0.3, 0.1], [0.0, 5.0])):
            i = by_line[line]
            assert ticks.column("book_bid_px")[i].as_py()[:2] == px
            assert ticks.column("book_bid_sz")[i].as_py()[:2] == sz


_NUM = st.sampled_from(["1", "0", "-1", "2.5", ".5", "5.", "1e3", "1E-2", "+3", "-0", "", "nan", "inf", " 1",
                        "0x1", "1_0", "abc", "99999999999999999999", "1e400", "1e-400", "\u00e9", "0.000",
                        "0.10000000000000000001", "0.1", "Infinity", "nan(1)"])
_INT = st.sampled_from(["1585699200245000", "0", "-5", "+7", "1.0", "", "0x10", " 3", "99999999999999999999",
                        "2098041696700", "9223372036854775807"])
_TEXT = st.sampled_from(["deribit", "BTC", "", "a b", '"q"', "x,y"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(_TEXT, _INT, _INT, st.sampled_from(["true", "false", "snap", "set", "b", "a", "x"]),
                               st.sampled_from(["bid", "ask", "b", "a", "snap", "set", ""]), _NUM, _NUM, _INT),
                     min_size=1, max_size=40),
       block=st.sampled_from([64, 1 << 20]))
def test_columnar_equals_row_path_on_any_lines(tmp_path_factory, rows, block):
    """Tardis and Binance files of arbitrary tokens: the columnar readers agree with the row rules."""
    d = tmp_path_factory.mktemp("prop")
    old = columnar.BLOCK_BYTES
    columnar.BLOCK_BYTES = block
    try:
        tardis = [",".join([t, "BTC", i, "1", s, side, px, sz]) for t, i, _, s, side, px, sz, _ in rows]
        binance = [",".join([t, i, "1", u, side, s, px, sz, pu]) for t, i, u, s, side, px, sz, pu in rows]
        for kind, header, body in (("tardis", crypto.TARDIS_INCREMENTAL, tardis),
                                   ("binance", crypto.BINANCE_DEPTH, binance)):
            p = d / f"{kind}.csv"
            p.write_text(",".join(header) + "\n" + "\n".join(body) + "\n")
            _same(kind, p, 8, depth=3)
    finally:
        columnar.BLOCK_BYTES = old


def _ingest(warehouse, home: Path, month: str, symbol: str) -> tuple:
    from thunderline.flow.landing import candidate_files, index_files
    from thunderline.flow.market_windows import build_window_partition
    from thunderline.flow.tick_files import classify_tick_file
    from thunderline.flow.tick_ingest import ingest_tick_partition
    from thunderline.store.lake import Lake

    with warehouse.session("t") as s:
        index_files(s, "ticks", candidate_files(home / "landing"), classify_tick_file)
        summary = ingest_tick_partition(s, Lake(home / "lake"), month, symbol, run_expectations=False)
        win = build_window_partition(s, month, symbol)
        batches = sorted((b["rows"], b["sha256"], b["seq_min"], b["seq_max"]) for b in s.select("raw_tick_batches"))
        quarantine = sorted((Path(q["source"]).name, q["row_number"], q["field"], q["reason"], q["raw"])
                            for q in s.select("quarantine"))
    return summary.rows_kept, summary.rows_rejected, win.windows, win.hash_of_hashes, batches, quarantine


@pytest.mark.parametrize("kind", sorted(REAL))
def test_lake_and_windows_equal_the_row_readers(warehouse, tmp_path, monkeypatch, kind):
    """A generated day with bad rows through landing → lake → windows, on SQLite and PostgreSQL: the
    columnar reader's lake batches (sha256), quarantine rows and window hashes are the row reader's."""
    from thunderline.market import readers
    from thunderline.store import Warehouse

    writer = write_tardis_incremental if kind == "tardis" else write_binance_depth
    month, symbol = ("2020-04", "BTC-PERPETUAL") if kind == "tardis" else ("2022-11", "BTCUSDT")
    lines = writer(tmp_path / "gen.csv", 30_000, seed=9).read_text().splitlines()
    for i in range(50, 30_000, 2_999):  # bad rows: a side, a price, a column missing
        f = lines[i].split(",")
        lines[i] = ",".join([f[:5] + ["?"] + f[6:], f[:6] + ["-1"] + f[7:], f[:-1]][i % 3])
    runs = []
    home = tmp_path / "home"  # one path for both runs: the lake's Parquet cites the landing path
    for label in ("columnar", "rows"):
        shutil.rmtree(home, ignore_errors=True)
        (home / "landing").mkdir(parents=True)
        (home / "landing" / f"{kind}_{symbol}.csv").write_text("\n".join(lines) + "\n")
        if label == "rows":
            monkeypatch.setattr(readers.l2_columnar, "iter_tardis_incremental", crypto.iter_tardis_incremental_rows)
            monkeypatch.setattr(readers.l2_columnar, "iter_binance_depth", crypto.iter_binance_depth_rows)
            wh = Warehouse(f"sqlite:///{tmp_path / 'rows.db'}")
            wh.init_schema()
            runs.append(_ingest(wh, home, month, symbol))
            wh.dispose()
        else:
            runs.append(_ingest(warehouse, home, month, symbol))
    assert runs[0] == runs[1]
    kept, rejected, windows, _, _, quarantine = runs[0]
    assert kept + rejected == 30_000 and len(quarantine) == rejected == 10 and windows > 10
