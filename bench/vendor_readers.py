"""Vendor-file readers: columnar path vs the row-by-row path vs a raw pyarrow.csv parse, in one run.

    python bench/vendor_readers.py [--rows 1000000] [--row-path-rows 100000] [--depth 10]

Writes a synthetic LOBSTER day (message + orderbook, ``--depth`` levels) into a temp dir, then:

1. **raw parse** (the baseline): ``pyarrow.csv.read_csv`` of both files with the same column types,
   one thread — what any columnar reader must at least pay;
2. **columnar** ``iter_lobster``: parse + column-wise checks + TICK_SCHEMA batches, one thread;
3. **row path** ``iter_lobster_rows`` on the first ``--row-path-rows`` rows of the same day;
4. the columnar reader on the gzip'd and zstd'd files.

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

import pyarrow as pa  # noqa: E402
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--row-path-rows", type=int, default=100_000)
    ap.add_argument("--depth", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=2)
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
        print(f"{'reader':<48} {'rows':>10} {'wall s':>8} {'cpu s':>8} {'rows/cpu-s':>12} {'rows/wall-s':>12}")
        for name, k, wall, cpu in rows:
            print(f"{name:<48} {k:>10,} {wall:>8.2f} {cpu:>8.2f} {k / cpu:>12,.0f} {k / wall:>12,.0f}")
        col_rate, row_rate = n / cc, n3 / pc_
        print(f"columnar ÷ row path (same rows):   {(n3 / sc) / row_rate:6.1f}×  (full file vs row path: "
              f"{col_rate / row_rate:.1f}×)")
        print(f"columnar cost ÷ raw parse cost:     {cc / rc:6.2f}×  (target ≤ 2×)")
        print(f"columnar rows per CPU-second:       {col_rate / 1e6:6.2f} M  (target ≥ 5 M per core, {args.depth} levels)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
