"""Durable spooling of live micro-batches under ``$THUNDERLINE_LANDING_DIR/live/<tenant>/``.

The spooled canonical Parquet file is what is indexed and processed, so a Dagster run of the
partition replays exactly the same input; CSV input is also kept as received under ``raw/``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pyarrow as pa

from thunderline.config import Settings
from thunderline.contracts import TICK_SCHEMA


def _spool_name(spool_dir: Path, suffix: str) -> Path:
    spool_dir.mkdir(parents=True, exist_ok=True)
    return spool_dir / f"{time.time_ns():020d}{suffix}"


def _durable(write, final: Path) -> Path:
    tmp = final.with_name(final.name + ".tmp")
    write(tmp)
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, final)
    return final


def spool_csv(settings: Settings, header: str, lines: list[str]) -> tuple[Path, list[dict]]:
    """Keep the micro-batch's bytes as received (``raw/``, for audit), parse them once with the canonical
    reader and spool the ticks as canonical Parquet (the file that is indexed, processed and replayable).
    Returns the Parquet path and quarantine rows for unparsable lines."""
    from thunderline.flow.tick_files import quarantine_rows
    from thunderline.market import iter_tick_chunks

    root = settings.landing_dir / "live" / settings.tenant_id
    raw = _durable(lambda p: p.write_text(header + "".join(lines), encoding="utf-8"), _spool_name(root / "raw", ".csv"))
    batches, rejects = [], []
    for chunk in iter_tick_chunks(raw, settings.tenant_id, fmt="canonical_csv"):
        batches.append(chunk.batch)
        rejects += chunk.rejects
    return spool_table(settings, pa.Table.from_batches(batches, schema=TICK_SCHEMA)), quarantine_rows(
        rejects, "raw_ticks", None)


def spool_table(settings: Settings, table: pa.Table) -> Path:
    from thunderline.market import write_canonical_parquet

    root = settings.landing_dir / "live" / settings.tenant_id
    return _durable(lambda p: write_canonical_parquet(table.to_batches(), p), _spool_name(root, ".parquet"))


def as_ticks(table: pa.Table, tenant_id: str) -> pa.Table:
    """An Arrow table in TICK_SCHEMA order and types, stamped with ``tenant_id`` (a wrong schema names the field)."""
    cols = []
    for f in TICK_SCHEMA:
        if f.name == "tenant_id":
            cols.append(pa.array([tenant_id] * table.num_rows, pa.string()))
        elif f.name not in table.column_names:
            raise ValueError(f"stdin Arrow stream: column {f.name!r} is missing (expected TICK_SCHEMA)")
        else:
            cols.append(table.column(f.name).cast(f.type))
    return pa.Table.from_arrays(cols, schema=TICK_SCHEMA)
