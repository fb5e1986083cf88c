"""Vendor-file readers: columnar path vs the row-by-row path vs a raw pyarrow.csv parse, in one run.

    python bench/vendor_readers.py [--rows 1000000] [--row-path-rows 100000] [--depth 10]

Writes a synthetic LOBSTER day (message + orderbook, ``--depth`` levels) into a temp dir, then:

1. **raw parse** (the baseline): ``pyarrow.csv.read_csv`` of both files with the same column types,
   one thread — what any columnar reader must at least pay;
2. **columnar** ``iter_lobster``: the compiled tokenizer (parse + checks from the bytes) + TICK_SCHEMA
   batches, one thread;
3. **row path** ``iter_lobster_rows`` on the first ``--row-path-rows`` rows of the same day;
4. the columnar reader on the gzip'd and zstd'd files;
5. Tardis book_snapshot_N and canonical CSV files of the same day's ticks (``--other-rows``);
6. generated Tardis incremental_book_L2 and Binance depth days (``--l2-rows``, books of a few hundred
   levels, ``--depth`` levels emitted per row): raw parse of the same file, the columnar readers (the
   numba book kernel), and the row readers on the first ``--row-path-rows`` rows beside the columnar
   readers on those same rows.

Rates are rows per CPU-second of this process (per core: pyarrow threads are off) and per wall
second; ratios are columnar ÷ row path and raw ÷ columnar, measured here, in this run.
Figures only: nothing passes or fails on time.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
import pyarrow.csv as pacsv  # noqa: E402

from thunderline.market import lobster  # noqa: E402
from thunderline.market.synthetic import SyntheticSpec, write_lobster_day  # noqa: E402


def timed(fn, repeats: int = 1):
    best_wall, best_cpu, out = float("inf"), float("inf"), None
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        best_wall = min(best_wall, time.perf_counter() - w0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return best_wall, best_cpu, out


def raw_parse(msg: Path, level: int) -> int:
    ob = Path(str(msg).replace("_message_", "_orderbook_"))
    ro = pacsv.ReadOptions(autogenerate_column_names=True, use_threads=False)
    m = pacsv.read_csv(msg, read_options=ro, convert_options=pacsv.ConvertOptions(
        column_types={"f0": pa.string(), **{f"f{i}": pa.int64() for i in range(1, 6)}}))
    o = pacsv.read_csv(ob, read_options=ro, convert_options=pacsv.ConvertOptions(
        column_types={f"f{i}": pa.int64() for i in range(4 * level)}))
    assert m.num_rows == o.num_rows
    return m.num_rows


def consume(it) -> int:
    n = 0
    for c in it:
        n += c.batch.num_rows + len(c.rejects)
    return n


def tardis_snapshot_file(ticks: pa.Table, depth: int, out: Path) -> Path:
    """The ticks' books as a Tardis book_snapshot_{depth} CSV (written by pyarrow: fast, exact floats)."""
    n = ticks.num_rows
    lv = {c: ticks.column(c).combine_chunks().flatten().to_numpy().reshape(n, depth)
          for c in ("book_ask_px", "book_ask_sz", "book_bid_px", "book_bid_sz")}
    cols = {"exchange": pa.array(["bench"] * n), "symbol": pa.array(["BTCUSDT"] * n),
            "timestamp": ticks.column("ts"), "local_timestamp": ticks.column("ts")}
    for i in range(depth):
        for side, px, sz in (("asks", "book_ask_px", "book_ask_sz"), ("bids", "book_bid_px", "book_bid_sz")):
            cols[f"{side}[{i}].price"] = pa.array(lv[px][:, i], mask=np.isnan(lv[px][:, i]))
            cols[f"{side}[{i}].amount"] = pa.array(lv[sz][:, i])
    pacsv.write_csv(pa.table(cols), out, pacsv.WriteOptions(quoting_style="none"))
    return out


def raw_parse_one(path: Path, types: dict) -> int:
    """The baseline for one-file formats: pyarrow.csv with the columns' types, one thread."""
    return pacsv.read_csv(path, read_options=pacsv.ReadOptions(use_threads=False),
                          convert_options=pacsv.ConvertOptions(column_types=types)).num_rows


def other_formats(msg: Path, tmp: Path, rows: int, depth: int, repeats: int) -> list[tuple]:
    """Tardis book_snapshot_{depth} and canonical CSV files of the same day's first ``rows`` ticks: raw
    parse, columnar reader and row reader, each on the same file."""
    from thunderline.market import canonical, canonical_columnar, crypto, tardis_columnar
    from thunderline.market.canonical import write_canonical_csv

    head = pa.Table.from_batches([c.batch for c in lobster.iter_lobster(msg, "bench", 262_144)]).slice(0, rows)
    head = head.filter(pc.invert(pc.is_null(head.column("book_bid_px"))))  # status rows carry no book
    snap = tardis_snapshot_file(head, depth, tmp / f"bench_book_snapshot_{depth}.csv")
    canon = tmp / "bench_canonical.csv"
    write_canonical_csv(head.to_batches(), canon)
    snap_types = {"timestamp": pa.int64(), **{f"{s}[{i}].{w}": pa.float64() for i in range(depth)
                                              for s in ("asks", "bids") for w in ("price", "amount")}}
    canon_types = {c: pa.int64() for c in ("ts", "seq", "event_type", "trade_side")}
    out = []
    for label, path, types, col, row in (
            (f"tardis book_snapshot_{depth}", snap, snap_types,
             lambda p: tardis_columnar.iter_tardis_book_snapshot(p, "bench", 262_144, depth),
             lambda p: crypto.iter_tardis_book_snapshot_rows(p, "bench", 65_536, depth)),
            ("canonical CSV", canon, canon_types, lambda p: canonical_columnar.iter_canonical_csv(p, "bench", 262_144),
             lambda p: canonical.iter_canonical_csv_rows(p, "bench", 65_536))):
        rw, rc, n = timed(lambda: raw_parse_one(path, types), repeats)
        cw, cc, n2 = timed(lambda: consume(col(path)), repeats)
        pw, pc_, n3 = timed(lambda: consume(row(path)))
        assert n == n2 == n3
        out += [(f"{label}: raw pyarrow.csv parse", n, rw, rc), (f"{label}: columnar", n, cw, cc),
                (f"{label}: row path", n, pw, pc_)]
    return out


def l2_formats(tmp: Path, rows: int, prefix: int, depth: int, repeats: int) -> list[tuple]:
    """Generated incremental L2 days: (label, rows, wall, cpu) for raw parse, columnar, columnar on the first
    ``prefix`` rows and the row path on them, per format."""
    from thunderline.market import crypto, l2_columnar
    from thunderline.market.synthetic_l2 import write_binance_depth, write_tardis_incremental

    ints = {c: pa.int64() for c in ("timestamp", "first_update_id", "last_update_id", "pu")}
    out = []
    for label, writer, sz, col, row in (
            ("tardis incremental_book_L2", write_tardis_incremental, "amount",
             lambda p: l2_columnar.iter_tardis_incremental(p, "bench", 262_144, depth),
             lambda p: crypto.iter_tardis_incremental_rows(p, "bench", 65_536, depth)),
            ("binance depth", write_binance_depth, "qty",
             lambda p: l2_columnar.iter_binance_depth(p, "bench", 262_144, depth),
             lambda p: crypto.iter_binance_depth_rows(p, "bench", 65_536, depth))):
        path = writer(tmp / f"{label.split()[0]}.csv", rows, seed=7)
        head = writer(tmp / f"{label.split()[0]}_head.csv", prefix, seed=7)
        header = path.open().readline().strip().split(",")
        types = {**{c: t for c, t in ints.items() if c in header}, "price": pa.float64(), sz: pa.float64()}
        rw, rc, n = timed(lambda: raw_parse_one(path, types), repeats)
        cw, cc, n2 = timed(lambda: consume(col(path)), repeats)
        sw, sc, k = timed(lambda: consume(col(head)), repeats)
        pw, pc_, k2 = timed(lambda: consume(row(head)))
        assert n == n2 == rows and k == k2 == prefix
        out += [(f"{label}: raw pyarrow.csv parse", n, rw, rc), (f"{label}: columnar", n, cw, cc),
                (f"{label}: columnar, first {k:,}", k, sw, sc), (f"{label}: row path, first {k:,}", k, pw, pc_)]
    return out


def print_targets(raw_rate: float, col_rate: float, vs_rows: float, vs_raw: float, bytes_per_row: float) -> None:
    """Why "≥ 5 M rows/s per core" and "within 2× of the raw pyarrow.csv parse" cannot both be held here,
    from this run's own figures, and which targets the reader is held to."""
    need = 5e6 * bytes_per_row / 1e9
    print(f"targets, from this run: the raw pyarrow.csv parse alone reads {raw_rate / 1e6:.2f} M rows/CPU-s of "
          f"this file ({bytes_per_row:.0f} bytes a row, {raw_rate * bytes_per_row / 1e6:.0f} MB/CPU-s);")
    print(f"  a reader within 2× of it is bounded by {raw_rate / 2e6:.2f}-{raw_rate / 1e6:.2f} M rows/CPU-s, so "
          f"\"≥ 5 M rows/s per core\" would need a parser at {need:.1f} GB/s of CSV per core,")
    print(f"  {5e6 / raw_rate:.0f}× what pyarrow's own parser does here: the two criteria contradict each other "
          "through a CSV parser.")
    ok2, ok20 = vs_raw <= 2.0, vs_rows >= 20.0
    print(f"  held to: within 2× of the raw parse ({vs_raw:.2f}×: {'met' if ok2 else 'NOT met'}) and ≥ 20× the "
          f"row path ({vs_rows:.1f}×: {'met' if ok20 else 'NOT met'}); "
          f"≥ 5 M rows/CPU-s: {'met' if col_rate >= 5e6 else 'not met (see above)'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--row-path-rows", type=int, default=100_000)
    ap.add_argument("--depth", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--other-rows", type=int, default=200_000,
                    help="ticks of the day written as Tardis book_snapshot and canonical CSV (0: skip)")
    ap.add_argument("--l2-rows", type=int, default=1_000_000,
                    help="rows of the generated Tardis incremental_book_L2 and Binance depth days (0: skip)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tl-readers-"))
    try:
        spec = SyntheticSpec(n_ticks=args.rows, depth=args.depth, symbol="BENCH", seed=7)
        w, _, msg = timed(lambda: write_lobster_day(spec, tmp / "plain"))
        mb = (msg.stat().st_size + Path(str(msg).replace("_message_", "_orderbook_")).stat().st_size) / 1e6
        print(f"LOBSTER day: {args.rows:,} rows, {args.depth} levels, {mb:.0f} MB (written in {w:.1f}s)")
        small = write_lobster_day(SyntheticSpec(n_ticks=args.row_path_rows, depth=args.depth, symbol="BENCH",
                                                seed=7), tmp / "small")

        rw, rc, n = timed(lambda: raw_parse(msg, args.depth), args.repeats)
        cw, cc, n2 = timed(lambda: consume(lobster.iter_lobster(msg, "bench", 262_144)), args.repeats)
        assert n2 == n == args.rows
        pw, pc_, n3 = timed(lambda: consume(lobster.iter_lobster_rows(small, "bench", 65_536)))
        sw, sc, _ = timed(lambda: consume(lobster.iter_lobster(small, "bench", 65_536)), args.repeats)
        rows = [
            ("raw pyarrow.csv parse (baseline)", n, rw, rc),
            ("columnar iter_lobster", n, cw, cc),
            (f"columnar iter_lobster, first {n3:,} rows", n3, sw, sc),
            (f"row path iter_lobster_rows, first {n3:,} rows", n3, pw, pc_),
        ]
        for kind in ("gzip", "zstd"):
            cm = write_lobster_day(spec, tmp / kind, compression=kind)
            zw, zc, nz = timed(lambda: consume(lobster.iter_lobster(cm, "bench", 262_144)), args.repeats)
            rows.append((f"columnar iter_lobster, {kind}", nz, zw, zc))
        others = other_formats(msg, tmp, min(args.other_rows, args.rows), args.depth, args.repeats) \
            if args.other_rows else []
        rows += others
        l2 = l2_formats(tmp, args.l2_rows, min(args.row_path_rows, args.l2_rows), args.depth, args.repeats) \
            if args.l2_rows else []
        rows += l2
        print(f"{'reader':<48} {'rows':>10} {'wall s':>8} {'cpu s':>8} {'rows/cpu-s':>12} {'rows/wall-s':>12}")
        for name, k, wall, cpu in rows:
            print(f"{name:<48} {k:>10,} {wall:>8.2f} {cpu:>8.2f} {k / cpu:>12,.0f} {k / wall:>12,.0f}")
        col_rate, row_rate = n / cc, n3 / pc_
        print(f"columnar ÷ row path (same rows):   {(n3 / sc) / row_rate:6.1f}×  (full file vs row path: "
              f"{col_rate / row_rate:.1f}×)")
        print(f"columnar cost ÷ raw parse cost:     {cc / rc:6.2f}×  (target ≤ 2×)")
        print(f"columnar rows per CPU-second:       {col_rate / 1e6:6.2f} M  (target ≥ 5 M per core, {args.depth} levels)")
        print_targets(n / rc, col_rate, (n3 / sc) / row_rate, cc / rc, mb * 1e6 / n)
        for i in range(0, len(others), 3):
            (label, _, _, raw_c), (_, k, _, col_c), (_, _, _, row_c) = others[i:i + 3]
            print(f"{label.split(':')[0]:<28} columnar {k / col_c / 1e6:5.2f} M rows/CPU-s, "
                  f"{row_c / col_c:5.1f}x the row path, {col_c / raw_c:4.2f}x the raw parse's CPU")
        for i in range(0, len(l2), 4):
            (label, _, _, raw_c), (_, k, _, col_c), (_, kh, _, head_c), (_, _, _, row_c) = l2[i:i + 4]
            print(f"{label.split(':')[0]:<28} columnar {k / col_c / 1e6:5.2f} M rows/CPU-s, "
                  f"{row_c / head_c:5.1f}x the row path on the same {kh:,} rows, {col_c / raw_c:4.2f}x the raw parse's CPU")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
