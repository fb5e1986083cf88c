"""A canonical CSV through landing → lake → windows lands as the same lake batches (sha256), quarantine
rows and window hashes whichever reader read it, on SQLite and PostgreSQL: the columnar reader cuts its
chunks where the row reader cuts them, whatever its block size (a window's hash covers its provenance,
which cites the batches)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa

from thunderline.market import canonical, columnar, lobster
from thunderline.market.canonical import write_canonical_csv
from thunderline.market.synthetic import SyntheticSpec, write_lobster_day


def _ingest(warehouse, home: Path, month: str, symbol: str, chunk_rows: int) -> tuple:
    from thunderline.flow.landing import candidate_files, index_files
    from thunderline.flow.market_windows import build_window_partition
    from thunderline.flow.tick_files import classify_tick_file
    from thunderline.flow.tick_ingest import ingest_tick_partition
    from thunderline.store.lake import Lake

    with warehouse.session("t") as s:
        index_files(s, "ticks", candidate_files(home / "landing"), classify_tick_file)
        summary = ingest_tick_partition(s, Lake(home / "lake"), month, symbol, run_expectations=False,
                                        chunk_rows=chunk_rows)
        win = build_window_partition(s, month, symbol)
        batches = sorted((b["rows"], b["sha256"], b["seq_min"], b["seq_max"]) for b in s.select("raw_tick_batches"))
        quarantine = sorted((Path(q["source"]).name, q["row_number"], q["field"], q["reason"], q["raw"])
                            for q in s.select("quarantine"))
    return summary.rows_kept, summary.rows_rejected, win.windows, win.hash_of_hashes, batches, quarantine


def test_canonical_lake_and_windows_equal_the_row_reader(warehouse, tmp_path, monkeypatch):
    from thunderline.market import readers
    from thunderline.store import Warehouse

    msg = write_lobster_day(SyntheticSpec(n_ticks=6_000, depth=3, symbol="AMZN", seed=3), tmp_path / "day")
    ticks = pa.Table.from_batches([c.batch for c in lobster.iter_lobster(msg, "t", 65_536)])
    write_canonical_csv(ticks.to_batches(), tmp_path / "canon.csv")
    lines = (tmp_path / "canon.csv").read_text().splitlines()
    for i in range(40, len(lines), 977):  # bad rows: a price, a column missing
        lines[i] = lines[i].replace(",", ",-1,", 1) if i % 2 else lines[i].rsplit(",", 1)[0]
    monkeypatch.setattr(columnar, "BLOCK_BYTES", 64 << 10)  # several blocks a chunk, several chunks a file
    month = "2024-01"
    runs = []
    home = tmp_path / "home"  # one path for both runs: the lake's Parquet cites the landing path
    for label in ("columnar", "rows"):
        shutil.rmtree(home, ignore_errors=True)
        (home / "landing").mkdir(parents=True)
        (home / "landing" / "AMZN_ticks.csv").write_text("\n".join(lines) + "\n")
        if label == "rows":
            monkeypatch.setattr(readers.canonical_columnar, "iter_canonical_csv", canonical.iter_canonical_csv_rows)
            wh = Warehouse(f"sqlite:///{tmp_path / 'rows.db'}")
            wh.init_schema()
            runs.append(_ingest(wh, home, month, "AMZN", 1_000))
            wh.dispose()
        else:
            runs.append(_ingest(warehouse, home, month, "AMZN", 1_000))
    assert runs[0] == runs[1]
    kept, rejected, windows, _, batches, quarantine = runs[0]
    assert kept + rejected == len(lines) - 1 and len(quarantine) == rejected > 0 and windows > 10 and len(batches) > 3
