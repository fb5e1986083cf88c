"""Ingress throughput and latency: 1 k-tick batches posted over loopback to ``thunderline serve``.

Prints, per wire format: requests/s, ticks/s accepted, p50/p99 latency per request (each
request is acknowledged only after its Parquet is fsynced and renamed), then ticks/s end
to end: posting plus the landing → lake → feature-window path (what the sensor runs)
until every window is persisted in the warehouse.

Bounded: a fixed number of requests per format (``--requests``), a fixed concurrency;
the server runs in a child process on 127.0.0.1 and is stopped at the end. Figures,
never pass/fail (target on this machine: ≥ 200 k ticks/s accepted, p99 < 50 ms).

    .venv/bin/python bench/ingress.py [--requests 200] [--concurrency 4] [--batch 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from thunderline.market.canonical import CANONICAL_COLUMNS  # noqa: E402
from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks  # noqa: E402

BOOK = ("book_bid_px", "book_bid_sz", "book_ask_px", "book_ask_sz")


def batches(n_requests: int, batch: int, seed: int, depth: int) -> list[pa.Table]:
    spec = SyntheticSpec(n_ticks=n_requests * batch, seed=seed, symbol=f"B{seed}", depth=max(depth, 1))
    out = []
    for b in synthetic_ticks(spec, chunk_rows=batch):
        t = pa.Table.from_batches([b]).drop_columns(["tenant_id"])
        if depth == 0:
            for c in BOOK:
                t = t.set_column(t.schema.get_field_index(c), c, pa.nulls(t.num_rows, pa.list_(pa.float64())))
        out.append(t)
    return out


def _clean(v):
    if isinstance(v, float) and math.isnan(v):
        return None
    return [_clean(x) for x in v] if isinstance(v, list) else v


def encode(t: pa.Table, fmt: str) -> tuple[bytes, str]:
    if fmt == "arrow":
        sink = io.BytesIO()
        with ipc.new_stream(sink, t.schema) as w:
            w.write_table(t)
        return sink.getvalue(), "application/vnd.apache.arrow.stream"
    rows = [{k: _clean(v) for k, v in r.items()} for r in t.to_pylist()]
    if fmt == "jsonl":
        return ("\n".join(json.dumps(r) for r in rows) + "\n").encode(), "application/x-ndjson"

    def f(v):
        if v is None:
            return ""
        if isinstance(v, list):
            return ";".join(f(x) for x in v)
        return repr(v) if isinstance(v, float) else str(v)

    lines = [",".join(CANONICAL_COLUMNS)] + [",".join(f(r.get(c)) for c in CANONICAL_COLUMNS) for r in rows]
    return ("\n".join(lines) + "\n").encode(), "text/csv"


async def post_all(url: str, key: str, bodies: list[tuple[bytes, str]], concurrency: int,
                   per_worker: list[list[tuple[bytes, str]]] | None = None) -> tuple[list[float], float, int]:
    """Post ``bodies`` with ``concurrency`` workers sharing one queue — or, with ``per_worker``, each
    worker posting its own list in order (one tick stream per worker keeps seq rising per stream)."""
    import aiohttp

    lat: list[float] = []
    errors = 0
    queues = []
    for lst in (per_worker or [bodies]):
        q: asyncio.Queue = asyncio.Queue()
        for b in lst:
            q.put_nowait(b)
        queues.append(q)
    if per_worker:
        concurrency = len(per_worker)

    async def worker(session, queue):
        nonlocal errors
        while True:
            try:
                data, ctype = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            t0 = time.perf_counter()
            async with session.post(url + "/v1/ticks", data=data,
                                    headers={"Authorization": f"Bearer {key}", "Content-Type": ctype}) as r:
                await r.read()
                if r.status != 202:
                    errors += 1
            lat.append(time.perf_counter() - t0)

    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=120)) as session:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(session, queues[i % len(queues)]) for i in range(concurrency)))
        elapsed = time.perf_counter() - t0
    return lat, elapsed, errors


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), to report server CPU per request."""
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict, port: int) -> subprocess.Popen:
    import httpx

    proc = subprocess.Popen([sys.executable, "-m", "thunderline.ingress", "serve", "--port", str(port), "--no-relay",
                             "--log-level", "warning", "--requests-per-s", "1000000", "--ticks-per-s", "1e12"],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


def end_to_end(settings, tenant: str) -> tuple[int, int]:
    """The sensor's work for one tenant: index its landed files, ingest partitions, build windows."""
    from thunderline.flow.landing import candidate_files, index_files
    from thunderline.flow.market_partition import build_window_partition, classify_tick_file, ingest_tick_partition
    from thunderline.ingress import files_of_tenant
    from thunderline.store import Warehouse
    from thunderline.store.lake import Lake

    wh = Warehouse(settings.warehouse_url)
    ticks = windows = 0
    with wh.session(tenant) as s:
        files = files_of_tenant(candidate_files(settings.ticks_landing), tenant, settings.tenant_id, settings.landing_dir)
        landed = index_files(s, "ticks", files, classify_tick_file)
        parts = sorted({p for f in landed if f.status == "indexed" for p in f.partitions})
    for part in parts:
        month, symbol = part.split("|")
        with wh.session(tenant) as s:
            ticks += ingest_tick_partition(s, Lake(settings.lake_dir), month, symbol, run_expectations=False).rows_kept
        with wh.session(tenant) as s:
            windows += build_window_partition(s, month, symbol).windows
    wh.dispose()
    return ticks, windows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=200, help="requests per format (default 200)")
    ap.add_argument("--batch", type=int, default=1000, help="ticks per request (default 1000)")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--formats", default="arrow,jsonl,csv,arrow-book10")
    ap.add_argument("--e2e-requests", type=int, default=100, help="requests for the end-to-end run (default 100)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="tl-bench-ingress-") as tmp:
        env = {**os.environ, "THUNDERLINE_HOME": tmp, "THUNDERLINE_WAREHOUSE_URL": f"sqlite:///{tmp}/warehouse.db",
               "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db", "DAGSTER_HOME": f"{tmp}/dagster"}
        for k in ("THUNDERLINE_LAKE_DIR", "THUNDERLINE_LANDING_DIR", "THUNDERLINE_TENANT", "THUNDERLINE_NATS_URL"):
            env.pop(k, None)
        from thunderline.config import load_settings
        from thunderline.ingress import create_key
        from thunderline.store import Warehouse

        settings = load_settings(env)
        wh = Warehouse(settings.warehouse_url)
        wh.init_schema()
        key = create_key(wh, "bench")[0]
        wh.dispose()
        port = free_port()
        proc = start_server(env, port)
        url = f"http://127.0.0.1:{port}"
        print(f"ingress bench: {args.requests} requests × {args.batch} ticks per format, concurrency "
              f"{args.concurrency}, fsync on, SQLite warehouse, server pid {proc.pid}")
        print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (other processes share them)")
        print(f"{'format':14} {'body KiB':>9} {'req/s':>8} {'ticks/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} "
              f"{'server CPU ms/req':>18}")
        try:
            for i, fmt in enumerate(args.formats.split(",")):
                base, depth = (fmt.split("-book")[0], int(fmt.split("-book")[1])) if "-book" in fmt else (fmt, 0)
                tables = batches(args.requests, args.batch, seed=100 + i, depth=depth)
                bodies = [encode(t, base) for t in tables]
                asyncio.run(post_all(url, key, bodies[:5], 1))  # warm-up (also lands 5 batches)
                c0 = cpu_seconds(proc.pid)
                lat, elapsed, errors = asyncio.run(post_all(url, key, bodies[5:], args.concurrency))
                n = len(lat)
                cpu_ms = (cpu_seconds(proc.pid) - c0) / n * 1e3
                q = np.quantile(np.array(lat) * 1e3, [0.5, 0.99])
                kib = np.mean([len(b) for b, _ in bodies]) / 1024
                print(f"{fmt:14} {kib:9.0f} {n / elapsed:8.1f} {n * args.batch / elapsed:11,.0f} {q[0]:8.1f} "
                      f"{q[1]:8.1f} {errors:7d} {cpu_ms:18.1f}")

            # end to end: a fresh tenant, post, then the sensor's path to persisted windows
            wh = Warehouse(settings.warehouse_url)
            key2 = create_key(wh, "e2e")[0]
            warm = create_key(wh, "warm")[0]
            wh.dispose()
            asyncio.run(post_all(url, warm, [encode(t, "arrow") for t in batches(2, args.batch, seed=7, depth=0)], 1))
            end_to_end(settings, "warm")  # compiles the numba window kernels outside the timed run
            streams = [[encode(t, "arrow") for t in batches(args.e2e_requests // args.concurrency, args.batch,
                                                               seed=900 + w, depth=0)] for w in range(args.concurrency)]
            t0 = time.perf_counter()
            lat, post_s, errors = asyncio.run(post_all(url, key2, [], args.concurrency, per_worker=streams))
            t1 = time.perf_counter()
            ticks, windows = end_to_end(settings, "e2e")
            t2 = time.perf_counter()
            total = sum(len(w) for w in streams) * args.batch
            print(f"end to end: {total:,} ticks posted in {post_s:.2f} s, landing → lake → {windows:,} feature windows "
                  f"persisted in {t2 - t1:.2f} s; {ticks:,} ticks kept; {total / (t2 - t0):,.0f} ticks/s end to end "
                  f"(decisions: not included — the decision path needs registered champion experts)")
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
