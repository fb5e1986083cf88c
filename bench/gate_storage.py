"""Gate-score storage, dense vs top-n sparse, at 16 and 64 experts per layer: size and write speed.

Usage: python bench/gate_storage.py [--traces N] [--layers L] [--top-n K] [--warehouse PG_ADMIN_URL | --no-pg]

Scores are softmax gates over L layers of E experts (E = 16 and 64) with the top 2 of each
layer kept, as the router keeps them; the ``gate_scores`` documents are built by the bulk
path (:func:`thunderline.decisions.trace_json.gate_layer`) dense and sparse (the ``top_n``
highest scores plus the kept experts, exact), then written into a table of
``(id, gate_scores)`` on SQLite (multi-row ``INSERT``, as the warehouse writes) and PostgreSQL
(``COPY`` into a ``json`` column, lz4 TOAST compression, as the warehouse writes). Printed per
form: bytes per trace as JSON text and on disk (table + primary key), build CPU per trace, and
rows/s written (wall, and PostgreSQL server CPU per trace). Ratios are of this run.
"""

from __future__ import annotations

import argparse
import io
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402

from thunderline.decisions.gate_storage import GateStorage  # noqa: E402
from thunderline.decisions.trace_json import gate_layer  # noqa: E402

DEFAULT_PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def gates(n: int, layers: int, width: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per layer: n×width softmax scores and the kept mask (top 2 per row)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(layers):
        z = rng.standard_normal((n, width)) * 2.0
        S = np.exp(z - z.max(axis=1, keepdims=True))
        S /= S.sum(axis=1, keepdims=True)
        kept = np.zeros_like(S, dtype=bool)
        np.put_along_axis(kept, np.argsort(-S, axis=1, kind="stable")[:, :2], True, axis=1)
        out.append((S, kept))
    return out


def documents(layers, storage: GateStorage) -> pa.Array:
    parts = [gate_layer(S, kept, storage) for S, kept in layers]
    seps = [x for p in parts for x in (p, ",")][:-1]
    return pc.binary_join_element_wise("[", *seps, "]", "")


def write_sqlite(path: Path, docs: list[str]) -> tuple[float, int]:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA page_size=16384")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE g (id INTEGER PRIMARY KEY, gate_scores TEXT NOT NULL)")
    k = 256
    t = time.perf_counter()
    for i in range(0, len(docs), k):
        part = docs[i:i + k]
        flat = [x for j, d in enumerate(part) for x in (i + j, d)]
        conn.execute(f"INSERT INTO g VALUES {', '.join(['(?, ?)'] * len(part))}", flat)
    conn.commit()
    wall = time.perf_counter() - t
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = conn.execute("PRAGMA page_count").fetchone()[0] * conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    return wall, size


def server_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def write_pg(admin: str, docs: list[str]) -> tuple[float, float, int]:
    import psycopg2

    conn = psycopg2.connect(admin.replace("postgresql+psycopg2://", "postgresql://"))
    table = f"tl_bench_gates_{os.getpid()}"
    try:
        cur = conn.cursor()
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
        cur.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
        if cur.fetchone()[0]:
            cur.execute("SET default_toast_compression = 'lz4'")
        cur.execute(f"CREATE TABLE {table} (id bigint PRIMARY KEY, gate_scores json NOT NULL)")
        conn.commit()
        payload = "".join(f"{i}\t{d}\n" for i, d in enumerate(docs)).encode()  # no tab/newline/backslash in them
        c0, t = server_cpu(pid), time.perf_counter()
        cur.copy_expert(f"COPY {table} (id, gate_scores) FROM STDIN", io.BytesIO(payload), size=len(payload))
        conn.commit()
        wall, cpu = time.perf_counter() - t, server_cpu(pid) - c0
        cur.execute(f"SELECT pg_total_relation_size('{table}')")
        size = cur.fetchone()[0]
        return wall, cpu, size
    finally:
        conn.rollback()
        conn.cursor().execute(f"DROP TABLE IF EXISTS {table}")
        conn.commit()
        conn.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--traces", type=int, default=32_768)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--top-n", type=int, default=8)
    ap.add_argument("--pg-admin", "--warehouse", dest="pg_admin",
                    default=os.environ.get("THUNDERLINE_BENCH_PG_ADMIN", DEFAULT_PG_ADMIN))
    ap.add_argument("--no-pg", action="store_true")
    args = ap.parse_args()
    n = args.traces
    print(f"{n:,} traces, {args.layers} layers, top 2 kept per layer, sparse = top {args.top_n} + kept; "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    head = (f"{'experts':>8} {'form':<7}{'JSON B/trace':>13}{'build µs/trace':>15}{'SQLite B/trace':>15}"
            f"{'SQLite rows/s':>14}" + ("" if args.no_pg else f"{'PG B/trace':>11}{'PG rows/s':>11}"
                                                              f"{'PG srv µs/trace':>16}"))
    print(head)
    with tempfile.TemporaryDirectory(prefix="tl-bench-gates-") as tmp:
        for width in (16, 64):
            layers = gates(n, args.layers, width)
            res = {}
            for form, storage in (("dense", GateStorage(sparse_above=10**9)),
                                  ("sparse", GateStorage(sparse_above=0, top_n=args.top_n))):
                documents([(S[:64], k[:64]) for S, k in layers], storage)  # warm-up
                c = time.process_time()
                docs = documents(layers, storage).to_pylist()
                build = time.process_time() - c
                json_bytes = sum(len(d) for d in docs) / n
                sq_wall, sq_size = write_sqlite(Path(tmp) / f"{form}{width}.db", docs)
                row = (f"{width:>8} {form:<7}{json_bytes:>13,.0f}{build * 1e6 / n:>15.2f}{sq_size / n:>15,.0f}"
                       f"{n / sq_wall:>14,.0f}")
                r = {"json": json_bytes, "sqlite": sq_size, "sqlite_rate": n / sq_wall}
                if not args.no_pg:
                    pg_wall, pg_cpu, pg_size = write_pg(args.pg_admin, docs)
                    row += f"{pg_size / n:>11,.0f}{n / pg_wall:>11,.0f}{pg_cpu * 1e6 / n:>16.1f}"
                    r.update(pg=pg_size, pg_rate=n / pg_wall)
                res[form] = r
                print(row, flush=True)
            d, s = res["dense"], res["sparse"]
            line = (f"{width:>8} sparse/dense: JSON {s['json'] / d['json']:.0%}, SQLite on disk "
                    f"{s['sqlite'] / d['sqlite']:.0%}, SQLite write speed {s['sqlite_rate'] / d['sqlite_rate']:.1f}x")
            if "pg" in d:
                line += (f", PostgreSQL on disk {s['pg'] / d['pg']:.0%}, PostgreSQL write speed "
                         f"{s['pg_rate'] / d['pg_rate']:.1f}x")
            print(line)
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
