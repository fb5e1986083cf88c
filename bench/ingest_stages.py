"""CPU per tick by stage of the tick ingest core, on one synthetic LOBSTER day (10-level book).

    python bench/ingest_stages.py [--ticks 500000]

Runs :class:`thunderline.flow.tick_ingest.PartitionIngest` over the day (Great Expectations on, as
``thunderline ingest`` runs it by default), with each stage's function wrapped in a CPU-time counter
(``time.process_time``: threads and waiting excluded), then the lake batches through
:class:`thunderline.flow.market_windows.PartitionWindows`. The second pass is reported (numba compiled,
page cache warm). Stages: the columnar reader (parse + column checks), the identity/dedup ledger, the
Great Expectations suite, the numpy rules that decide what is kept, the lake write (Parquet + the
file's sha256), the windows. What ``thunderline ingest`` adds on top (landing hash and content-store
copy, Dagster runs, the decision step) is in ``bench/month_backfill.py``. Figures only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import thunderline.flow.tick_ingest as ti  # noqa: E402
from thunderline.flow.market_windows import PartitionWindows  # noqa: E402
from thunderline.market.identity import SourceLedger  # noqa: E402
from thunderline.market.synthetic import SyntheticSpec, write_lobster_day  # noqa: E402
from thunderline.market.validation import TickValidator  # noqa: E402
from thunderline.store.lake import Lake  # noqa: E402

ACC: dict[str, float] = {}
PARSE = "parse (columnar LOBSTER reader)"


def _timed(owner, name: str, label: str) -> None:
    f = getattr(owner, name)

    def g(*a, **k):
        c = time.process_time()
        try:
            return f(*a, **k)
        finally:
            ACC[label] = ACC.get(label, 0.0) + time.process_time() - c

    setattr(owner, name, g)


def _timed_chunks() -> None:
    orig = ti.PartitionIngest._chunks

    def chunks(self, f, read_path):
        it = orig(self, f, read_path)
        while True:
            c = time.process_time()
            x = next(it, None)
            ACC[PARSE] = ACC.get(PARSE, 0.0) + time.process_time() - c
            if x is None:
                return
            yield x

    ti.PartitionIngest._chunks = chunks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ticks", type=int, default=500_000)
    n = ap.parse_args().ticks
    tmp = Path(tempfile.mkdtemp(prefix="tl-stages-"))
    try:
        start = int(dt.datetime(2024, 1, 2, 14, 30, tzinfo=dt.timezone.utc).timestamp()) * 1_000_000
        spec = SyntheticSpec(n_ticks=n, seed=1, symbol="AAA", venue="NASDAQ", start_us=start, depth=10)
        path = write_lobster_day(spec, tmp / "landing")
        _timed(ti, "_write_batch", "lake write + file sha256")
        _timed(SourceLedger, "check", "identity / dedup ledger")
        _timed(TickValidator, "validate", "numpy rules")
        _timed(ti._ExpectationRun, "_flush", "Great Expectations suite")  # validates the pooled chunks
        _timed_chunks()
        f = {"id": "0" * 64, "path": str(path), "format": "lobster"}
        for i in range(2):
            ACC.clear()
            ing = ti.PartitionIngest("bench", Lake(tmp / f"lake{i}"), "2024-01", "AAA")
            c = time.process_time()
            ing.add_file(f)
            ing.expectations.summary()  # the last pool is validated here
            total = time.process_time() - c
        c = time.process_time()
        pw = PartitionWindows("bench", "AAA")
        for row in ing.take()[0]:
            pw.feed(row)
        pw.flush()
        windows = time.process_time() - c
        print(f"{n:,} ticks, 10-level book, one LOBSTER day: CPU µs per tick by stage (second pass)")
        for k, v in ACC.items():
            print(f"  {k:<36} {v / n * 1e6:6.2f}")
        print(f"  {'ingest core total':<36} {total / n * 1e6:6.2f}")
        print(f"  {'windows (lake → FeatureWindows)':<36} {windows / n * 1e6:6.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
