"""Ingress throughput and latency: 1 k-tick batches posted over loopback to ``thunderline serve``.

Prints, per wire format: requests, body size, requests/s, ticks/s accepted, p50/p99 latency
per request (each request is acknowledged only after its Parquet is fsynced and renamed),
errors, and CPU per request of the server (all its processes, from /proc) and of this client;
then best and median over the ``--repeat`` Arrow runs, the target and whether the median run
met it; then ticks/s end to end: posting plus the landing → lake → feature-window → decision
path (what the sensors run) until every window's decision trace is persisted in the warehouse
(market experts trained on synthetic windows, as in bench/decisions.py).

The client shares the machine's cores with the server, so it is cheap per request: requests
are encoded up front, each of ``--connections`` threads owns one keep-alive connection (raw
socket, TCP_NODELAY, one ``sendall`` per request). Bounded: a fixed number of requests per
run, socket timeouts, the server (``--workers`` processes) runs as a child on 127.0.0.1 and
is stopped at the end. Target on this machine: ≥ 200 k ticks/s accepted, p99 < 50 ms.

    .venv/bin/python bench/ingress.py [--workers 1] [--connections 4] [--requests 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import threading
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


class Poster:
    """Keep-alive HTTP/1.1 connections on raw sockets, one thread each; requests are pre-encoded bytes.

    The client shares the 2 cores with the server, so it does as little as it can per request:
    one ``sendall`` of the whole request (headers + body, TCP_NODELAY), then reads the status
    line, headers and exactly ``Content-Length`` bytes of the answer. Every socket has a timeout,
    so a stuck server ends the run with errors instead of hanging it.
    """

    def __init__(self, port: int, key: str, timeout: float = 60.0) -> None:
        self.port, self.key, self.timeout = port, key, timeout

    def request_bytes(self, body: bytes, ctype: str) -> bytes:
        head = (f"POST /v1/ticks HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nAuthorization: Bearer {self.key}\r\n"
                f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n")
        return head.encode() + body

    def _connect(self) -> socket.socket:
        s = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    @staticmethod
    def _response(sock: socket.socket, buf: bytearray) -> int:
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            buf += chunk
        head, _, rest = bytes(buf).partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for ln in lines[1:]:
            k, _, v = ln.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            rest += chunk
        buf[:] = rest[length:]
        return status

    def run(self, streams: list[list[bytes]]) -> tuple[list[float], float, int]:
        """Post each stream on its own connection, in order; returns (latencies s, elapsed s, errors)."""
        lat: list[list[float]] = [[] for _ in streams]
        errors = [0] * len(streams)
        socks = [self._connect() for _ in streams]
        go = threading.Barrier(len(streams) + 1)

        def worker(i: int) -> None:
            sock, buf, out = socks[i], bytearray(), lat[i]
            go.wait()
            try:
                for req in streams[i]:
                    t0 = time.perf_counter()
                    sock.sendall(req)
                    status = self._response(sock, buf)
                    out.append(time.perf_counter() - t0)
                    if status != 202:
                        errors[i] += 1
            except OSError:
                errors[i] += len(streams[i]) - len(out)
            finally:
                sock.close()

        threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(len(streams))]
        for t in threads:
            t.start()
        go.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        return [x for ls in lat for x in ls], elapsed, sum(errors)


def split(items: list, n: int) -> list[list]:
    """``items`` dealt round-robin onto ``n`` lists (one per connection)."""
    return [items[i::n] for i in range(n)]


def _proc_stat(pid: int) -> tuple[int, float] | None:
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(f[1]), (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and all its live descendants (the server's worker processes)."""
    stats = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = _proc_stat(int(d))
            if st:
                stats[int(d)] = st
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        for p, (ppid, _) in stats.items():
            if ppid == parent and p not in tree:
                tree.add(p)
                frontier.append(p)
    return sum(stats[p][1] for p in tree if p in stats)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict, port: int, workers: int) -> subprocess.Popen:
    import httpx

    proc = subprocess.Popen([sys.executable, "-m", "thunderline_cli.ingress_main", "serve", "--port", str(port), "--no-relay",
                             "--workers", str(workers), "--log-level", "warning", "--requests-per-s", "1000000",
                             "--ticks-per-s", "1e12"],
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


def end_to_end(settings, tenant: str, decider=None) -> tuple[int, int, int]:
    """The sensor's work for one tenant: index its landed files, ingest partitions, build windows,
    and — with ``decider`` = (router state, experts) — decide every window into persisted traces."""
    from thunderline.flow.decision_partition import decide_partition
    from thunderline.flow.landing import candidate_files, index_files
    from thunderline.flow.market_windows import build_window_partition
    from thunderline.flow.tick_files import classify_tick_file
    from thunderline.flow.tick_ingest import ingest_tick_partition
    from thunderline.ingress import files_of_tenant
    from thunderline.store import Warehouse
    from thunderline.store.lake import Lake

    wh = Warehouse(settings.warehouse_url)
    ticks = windows = traces = 0
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
        if decider is not None:
            with wh.session(tenant) as s:
                traces += decide_partition(s, month, symbol, *decider).traces
    wh.dispose()
    return ticks, windows, traces


def train_decider(tmp: str):
    """Router + market experts trained on synthetic windows, in a throwaway MLflow store (as bench/decisions)."""
    from thunderline.decisions.bootstrap import bootstrap_from_windows
    from thunderline.decisions.pool import load_pool
    from thunderline.experts import DEFAULT_EXPERT_SPECS
    from thunderline.experts.registry import ExpertRegistry
    from thunderline.market.features import build_windows, to_feature_windows
    from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks

    base = to_feature_windows(build_windows(synthetic_ticks(SyntheticSpec(n_ticks=200_000, seed=3, symbol="TRAIN"),
                                                            "bench")), tenant_id="bench", symbol="TRAIN")
    reg = ExpertRegistry(tracking_uri=f"sqlite:///{tmp}/bench-experts.db")
    state, _ = bootstrap_from_windows(reg, base, specs=[s for s in DEFAULT_EXPERT_SPECS if s.family != "filing"],
                                      seed=1)
    experts, _ = load_pool(reg, state)
    return reg, (state, experts)


TARGET_TICKS_S, TARGET_P99_MS = 200_000, 50.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=1000, help="requests per Arrow run (default 1000)")
    ap.add_argument("--text-requests", type=int, default=200, help="requests per JSON lines / CSV run (default 200)")
    ap.add_argument("--batch", type=int, default=1000, help="ticks per request (default 1000)")
    ap.add_argument("--connections", type=int, default=4, help="concurrent keep-alive connections (default 4)")
    ap.add_argument("--workers", type=int, default=1,
                    help="server worker processes (thunderline serve --workers; default 1, the best on 2 cores)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of the headline Arrow format (default 3)")
    ap.add_argument("--formats", default="arrow,arrow-book10,jsonl,csv")
    ap.add_argument("--e2e-requests", type=int, default=100, help="requests for the end-to-end run (0 = skip)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="tl-bench-ingress-") as tmp:
        env = {**os.environ, "THUNDERLINE_HOME": tmp, "THUNDERLINE_WAREHOUSE_URL": f"sqlite:///{tmp}/warehouse.db",
               "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db", "DAGSTER_HOME": f"{tmp}/dagster"}
        for k in ("THUNDERLINE_LAKE_DIR", "THUNDERLINE_LANDING_DIR", "THUNDERLINE_TENANT", "THUNDERLINE_NATS_URL",
                  "THUNDERLINE_REDIS_URL"):
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
        proc = start_server(env, port, args.workers)
        poster = Poster(port, key)
        print(f"ingress bench: {args.batch}-tick POSTs over {args.connections} keep-alive connections to "
              f"`thunderline serve --workers {args.workers}` (pid {proc.pid}); fsync on, SQLite warehouse")
        print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (other processes share them); "
              f"CPU columns are per request: the server's processes, and this client")
        print(f"{'format':14} {'requests':>8} {'body KiB':>9} {'req/s':>8} {'ticks/s':>11} {'p50 ms':>7} {'p99 ms':>7} "
              f"{'errors':>6} {'server CPU ms':>13} {'client CPU ms':>13}")
        try:
            runs = _format_runs(args, poster, proc)
            if runs:
                _print_arrow_verdict(runs, args)
            if args.e2e_requests > 0:
                _end_to_end_run(args, settings, port, tmp)
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
    return 0


def _format_runs(args, poster: Poster, proc: subprocess.Popen) -> list[tuple[float, float]]:
    """One timed run per format (``--repeat`` of plain Arrow), a table line each; returns the Arrow runs'
    (ticks/s, p99 ms)."""
    runs: list[tuple[float, float]] = []
    seed = 100
    for fmt in args.formats.split(","):
        base, depth = (fmt.split("-book")[0], int(fmt.split("-book")[1])) if "-book" in fmt else (fmt, 0)
        n_req = args.requests if base == "arrow" else args.text_requests
        for _ in range(args.repeat if fmt == "arrow" else 1):
            seed += 1
            tables = batches(n_req + args.connections, args.batch, seed=seed, depth=depth)
            reqs = [poster.request_bytes(*encode(t, base)) for t in tables]
            kib = np.mean([len(r) for r in reqs]) / 1024
            poster.run(split(reqs[: args.connections], args.connections))  # warm-up: connections, caches
            c0, k0 = cpu_seconds(proc.pid), time.process_time()
            lat, elapsed, errors = poster.run(split(reqs[args.connections:], args.connections))
            n = len(lat)
            cpu_ms = (cpu_seconds(proc.pid) - c0) / max(n, 1) * 1e3
            client_ms = (time.process_time() - k0) / max(n, 1) * 1e3
            q = np.quantile(np.array(lat) * 1e3, [0.5, 0.99]) if lat else [float("nan")] * 2
            rate = (n - errors) * args.batch / elapsed
            if fmt == "arrow":
                runs.append((rate, float(q[1])))
            print(f"{fmt:14} {n:8d} {kib:9.0f} {n / elapsed:8.1f} {rate:11,.0f} {q[0]:7.1f} {q[1]:7.1f} "
                  f"{errors:6d} {cpu_ms:13.2f} {client_ms:13.2f}", flush=True)
    return runs


def _print_arrow_verdict(runs: list[tuple[float, float]], args) -> None:
    """Best and median of the Arrow runs, and whether the median run meets the target."""
    rates = sorted(r for r, _ in runs)
    p99s = sorted(p for _, p in runs)
    met = [r >= TARGET_TICKS_S and p < TARGET_P99_MS for r, p in runs]
    med = runs[sorted(range(len(runs)), key=lambda i: runs[i][0])[len(runs) // 2]]
    print(f"arrow over {len(runs)} runs: ticks/s best {rates[-1]:,.0f} median {np.median(rates):,.0f}; "
          f"p99 best {p99s[0]:.1f} ms median {np.median(p99s):.1f} ms; workers {args.workers}")
    verdict = "MET" if med[0] >= TARGET_TICKS_S and med[1] < TARGET_P99_MS else "NOT MET"
    print(f"target: >= {TARGET_TICKS_S:,} ticks/s accepted and p99 < {TARGET_P99_MS:.0f} ms per "
          f"{args.batch}-tick request -> {verdict} in the median run ({sum(met)} of {len(runs)} runs met it)")


def _end_to_end_run(args, settings, port: int, tmp: str) -> None:
    """End to end: a fresh tenant posts, then the sensor's path to persisted windows and decisions."""
    from thunderline.ingress import create_key
    from thunderline.store import Warehouse

    wh = Warehouse(settings.warehouse_url)
    key2 = create_key(wh, "e2e")[0]
    warm = create_key(wh, "warm")[0]
    wh.dispose()
    warm_poster = Poster(port, warm)
    warm_poster.run([[warm_poster.request_bytes(*encode(t, "arrow")) for t in batches(2, args.batch, seed=7, depth=0)]])
    registry, decider = train_decider(tmp)
    end_to_end(settings, "warm", decider)  # compiles numba kernels outside the timed run
    e2e = Poster(port, key2)
    # one tick stream per connection, posted in order (seq rises per stream across its batches)
    streams = [[e2e.request_bytes(*encode(t, "arrow"))
                for t in batches(args.e2e_requests // args.connections, args.batch, seed=900 + w, depth=0)]
               for w in range(args.connections)]
    t0 = time.perf_counter()
    lat, post_s, errors = e2e.run(streams)
    t1 = time.perf_counter()
    ticks, windows, traces = end_to_end(settings, "e2e", decider)
    t2 = time.perf_counter()
    registry.close()
    total = sum(len(w) for w in streams) * args.batch
    print(f"end to end: {total:,} ticks posted in {post_s:.2f} s ({errors} errors), landing → lake → "
          f"{windows:,} feature windows → {traces:,} decision traces persisted in {t2 - t1:.2f} s; "
          f"{ticks:,} ticks kept; {total / (t2 - t0):,.0f} ticks/s end to end to persisted decisions")


if __name__ == "__main__":
    sys.exit(main())
