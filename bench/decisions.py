"""Decision throughput with and without persistence, on SQLite and PostgreSQL, against the physical floor.

Usage: python bench/decisions.py [--windows N] [--batch B] [--warehouse PG_ADMIN_URL | --no-pg]

Experts are the default market experts trained on synthetic windows and loaded
from a throwaway SQLite MLflow store, exactly as the decision_traces asset
loads them. Windows are real synthetic windows, tiled with jitter to N; their
ids are derived before timing, as windows read from the warehouse carry them.

Measured in one run:

* **decide only**: ``decide`` over every batch, nothing written;
* **persisted**: ``decide_windows`` — what the Dagster asset and the live loop
  call — deciding and writing all N windows in one transaction, on a fresh SQLite
  file and on a fresh PostgreSQL database owned by a plain application role (so
  row-level security is enforced, as in production);
* **persistence only**, per layout: the batches' rows written one transaction per
  batch, for the layout this code writes (trace rows carrying their lineage +
  one ``lineage_ranges`` row per batch and node) and for the layout it replaced
  (trace rows + one ``lineage_edges`` row per edge: window → trace, EDGAR window →
  trace, router version → trace, trace → each expert version), both through
  today's bulk path; with **bytes per decision** on disk (tables and indexes);
* **physical floor** (PostgreSQL): raw ``COPY`` of the same rows, already
  serialised (same format as the bulk path sends), into tables with no index, key or
  policy on the same server.

Ratios are against figures of this run. Wall time moves with the neighbours on a
shared machine; CPU time (this process, and for PostgreSQL also the server
backend, read from /proc) much less — both are printed, with the load average.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

TENANT = "bench"
DEFAULT_PG_ADMIN = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


class Clock:
    """Wall time, this process's CPU time and (optionally) a PostgreSQL backend's CPU time."""

    def __init__(self, backend_pid: int | None = None) -> None:
        self.pid = backend_pid
        self.t = (time.perf_counter(), time.process_time(), self._server())

    def _server(self) -> float:
        if not self.pid:
            return 0.0
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return float("nan")

    def stop(self) -> tuple[float, float, float]:
        return (time.perf_counter() - self.t[0], time.process_time() - self.t[1], self._server() - self.t[2])


def backend_pid(session) -> int:
    import sqlalchemy as sa

    return int(session.conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--windows", type=int, default=32_768)
    ap.add_argument("--catalog", choices=("six", "full"), default="six",
                    help="six: the original six market experts (like-for-like with earlier runs); full: all")
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--pg-admin", "--warehouse", dest="pg_admin",
                    default=os.environ.get("THUNDERLINE_BENCH_PG_ADMIN", DEFAULT_PG_ADMIN),
                    help="admin URL of the PostgreSQL server; the bench creates and drops its own databases")
    ap.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="tl-bench-decisions-") as tmp:  # ~1 GB of SQLite: never left behind
        run(args, Path(tmp))


BENCH_EXPERTS = ("order_flow_logit_h1", "order_flow_logit_h1_l2", "order_flow_logit_h4", "momentum_gbm_h1",
                 "momentum_gbm_h1_shallow", "momentum_gbm_h4")


def make_windows(n: int):
    from thunderline.contracts import feature_window_ids
    from thunderline.market.features import build_windows, to_feature_windows
    from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks

    spec = SyntheticSpec(n_ticks=400_000, seed=3, symbol="BENCH")
    base = to_feature_windows(build_windows(synthetic_ticks(spec, "bench")), tenant_id=TENANT, symbol="BENCH")
    rng = np.random.default_rng(0)
    windows = []
    step = base[-1].window_end_us - base[0].window_start_us + 125_000
    for i in range(n):
        w = base[i % len(base)]
        k = i // len(base)
        feats = {f: (v * (1 + 0.01 * rng.standard_normal()) if v == v else v) for f, v in w.features.items()}
        windows.append(dataclasses.replace(w, features=feats, window_start_us=w.window_start_us + k * step,
                                           window_end_us=w.window_end_us + k * step,
                                           available_at_us=w.available_at_us + k * step))
    feature_window_ids(windows)
    return base, windows


class Databases:
    """Fresh warehouses: SQLite files under ``tmp``; PostgreSQL databases owned by an app role (dropped at exit)."""

    def __init__(self, tmp: Path, pg_admin: str | None) -> None:
        self.tmp, self.pg_admin, self.made = tmp, pg_admin, []

    def fresh(self, backend: str, name: str):
        from thunderline.store import Warehouse
        from thunderline.store.postgres import provision_database

        if backend == "sqlite":
            url = f"sqlite:///{self.tmp / (name + '.db')}"
        else:
            db = f"tl_bench_decisions_{os.getpid()}_{name}"
            url = provision_database(self.pg_admin, db, "tl_bench_app")
            self.made.append(db)
        wh = Warehouse(url)
        wh.init_schema()
        return wh

    def close(self) -> None:
        from thunderline.store.postgres import drop_database

        for db in self.made:
            drop_database(self.pg_admin, db)


def bytes_on_disk(wh, tables: list[str]) -> int:
    """Tables + indexes (PostgreSQL: every partition; SQLite: the whole file after a checkpoint)."""
    import sqlalchemy as sa

    with wh.engine.begin() as conn:
        if wh.is_postgres:
            total = 0
            for t in tables:
                total += int(conn.execute(sa.text(  # pg_partition_tree lists nothing for a plain table
                    "SELECT GREATEST(pg_total_relation_size(CAST(:t AS regclass)), "
                    "(SELECT COALESCE(SUM(pg_total_relation_size(relid)), 0) FROM pg_partition_tree(:t)))"),
                    {"t": t}).scalar_one())
            return total
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return int(conn.exec_driver_sql("PRAGMA page_count").scalar()) * int(
            conn.exec_driver_sql("PRAGMA page_size").scalar())


def legacy(prepared, batch) -> tuple[dict, dict]:
    """The layout this code replaced: trace rows without lineage detail, one lineage_edges row per edge."""
    from thunderline.flow.decision_partition import batch_edge_columns

    traces = {k: v for k, v in prepared.traces.items() if k not in ("edgar_window_id", "lineage_batch",
                                                                     "experts_used")}
    return traces, batch_edge_columns(batch)


def persist_only(dbs, backend, name, batches, prepared, layout):
    from thunderline.flow.decision_partition import write_prepared

    wh = dbs.fresh(backend, name)
    tables = ["decision_traces", "lineage_edges", "lineage_ranges"]
    base = bytes_on_disk(wh, tables)
    rows = [legacy(p, b) for p, b in zip(prepared, batches)] if layout == "before" else None
    pid = None
    if wh.is_postgres:
        with wh.session(TENANT) as s:
            pid = backend_pid(s)  # the pool hands the same connection back (one thread)
    os.sync()
    clock = Clock(pid)
    for i, p in enumerate(prepared):
        with wh.session(TENANT) as s:
            if layout == "before":
                s.upsert_columns("decision_traces", rows[i][0], json_text=True)
                s.upsert_columns("lineage_edges", rows[i][1])
            else:
                write_prepared(s, p)
    wall, cpu, server = clock.stop()
    size = bytes_on_disk(wh, tables) - base
    wh.dispose()
    return wall, cpu, server, size


def persisted(dbs, backend, windows, state, experts, batch):
    from thunderline.flow import decision_partition
    from thunderline.flow.decision_partition import decide_windows

    wh = dbs.fresh(backend, "e2e")
    decision_partition.BATCH_WINDOWS = batch
    writer_cpu = [0.0]
    write = decision_partition.write_prepared

    def timed_write(session, prepared):  # the writer thread's own CPU time (time.thread_time)
        t = time.thread_time()
        try:
            return write(session, prepared)
        finally:
            writer_cpu[0] += time.thread_time() - t

    decision_partition.write_prepared = timed_write
    os.sync()
    try:
        with wh.session(TENANT) as s:
            clock = Clock(backend_pid(s) if wh.is_postgres else None)
            summary = decide_windows(s, windows, state, experts)
        wall, cpu, server = clock.stop()
    finally:
        decision_partition.write_prepared = write
    assert summary.traces == len(windows), summary
    wh.dispose()
    return wall, cpu, server, summary, writer_cpu[0]


def raw_copy_floor(dbs, prepared):
    """COPY of the same rows, serialised beforehand, into index-, key- and policy-free tables."""
    import sqlalchemy as sa

    from thunderline.store import bulk

    wh = dbs.fresh("postgresql", "floor")
    payloads = []
    for p in prepared:
        traces = dict(p.traces, tenant_id=[TENANT] * len(p))
        ranges = dict(p.ranges, tenant_id=[TENANT] * len(p.ranges["id"]))
        payloads.append((list(traces), bulk.copy_payload(list(traces), traces),
                         list(ranges), bulk.copy_payload(list(ranges), ranges)))
    with wh.engine.begin() as conn:
        for t, names in (("decision_traces", payloads[0][0]), ("lineage_ranges", payloads[0][2])):
            conn.execute(sa.text(f"CREATE TABLE raw_{t} AS SELECT {', '.join(names)} FROM {t} WITH NO DATA"))
    os.sync()
    with wh.engine.begin() as conn:
        cur = conn.connection.dbapi_connection.cursor()
        cur.execute("SELECT pg_backend_pid()")
        clock = Clock(cur.fetchone()[0])
        for tn, tp, rn, rp in payloads:
            bulk.copy_rows(cur, "raw_decision_traces", tn, tp[1], tp[0])
            bulk.copy_rows(cur, "raw_lineage_ranges", rn, rp[1], rp[0])
        cur.close()
    wall, cpu, server = clock.stop()  # commit included
    wh.dispose()
    return wall, cpu, server


def run(args, tmp: Path) -> None:
    from thunderline.decisions.bootstrap import bootstrap_from_windows
    from thunderline.decisions.pipeline import decide
    from thunderline.decisions.pool import load_pool
    from thunderline.experts import DEFAULT_EXPERT_SPECS
    from thunderline.experts.registry import ExpertRegistry
    from thunderline.flow.decision_partition import prepare_batch

    base, windows = make_windows(args.windows)
    n = len(windows)
    # the original six market experts by default (figures compare across runs of the storage
    # code, not the catalog's size); --catalog full takes every non-filing expert of today's catalog
    specs = [s for s in DEFAULT_EXPERT_SPECS if s.family != "filing"
             and (args.catalog == "full" or s.name in BENCH_EXPERTS)]
    dbs = Databases(tmp, None if args.no_pg else args.pg_admin)
    backends = ["sqlite"] + ([] if args.no_pg else ["postgresql"])
    results: dict[str, tuple] = {}
    try:
        with ExpertRegistry(tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}") as reg:
            state, _ = bootstrap_from_windows(reg, base, specs=specs, seed=1)
            experts, _ = load_pool(reg, state)
            print(f"router {state.version}: layers {[len(p) for p in state.pools]} experts, d={state.config.d}; "
                  f"{n:,} windows in batches of {args.batch}; load average at start {os.getloadavg()[0]:.2f} "
                  f"on {os.cpu_count()} cores")
            decide(windows[: args.batch], state, experts, tenant_id=TENANT)  # warm-up (JIT, model caches)

            clock = Clock()
            batches = [decide(windows[i: i + args.batch], state, experts, tenant_id=TENANT)
                       for i in range(0, n, args.batch)]
            results["decide"] = clock.stop()
            stages: dict[str, float] = {}
            for b in batches:
                for k, v in b.timings_ms.items():
                    stages[k] = stages.get(k, 0.0) + v
            # baseline for the trace stage: the per-window object path (DecisionTrace + canonical hash)
            sample = batches[: max(1, min(len(batches), 16_384 // args.batch))]
            t0 = time.perf_counter()
            hashed = [[tr.content_hash for tr in b.traces] for b in sample]
            obj_s = time.perf_counter() - t0
            assert all(h == b.content_hashes for h, b in zip(hashed, sample)), "object and columnar hashes differ"
            results["object"] = (obj_s, sum(len(b) for b in sample), sum(b.timings_ms["traces"] for b in sample))
            results["stages"] = stages
            clock = Clock()
            prepared = [prepare_batch(b) for b in batches]
            results["prepare"] = clock.stop()

            for backend in backends:
                for layout in ("before", "after"):
                    results[f"{backend} {layout}"] = persist_only(dbs, backend, f"{layout}", batches, prepared,
                                                                  layout)
                results[f"{backend} e2e"] = persisted(dbs, backend, windows, state, experts, args.batch)
            if not args.no_pg:
                results["floor"] = raw_copy_floor(dbs, prepared)
    finally:
        dbs.close()
    report(results, n, backends)


def report(r, n, backends) -> None:
    def rate(key):
        return n / r[key][0]

    def cpu(key, i=1):
        return r[key][i] * 1e6 / n

    stages = r["stages"]
    total = sum(stages.values())
    print(f"\n{'stage':<12}{'ms':>10}{'share':>8}{'µs/window':>11}")
    for k, v in stages.items():
        print(f"{k:<12}{v:>10.0f}{v / total:>8.1%}{v * 1e3 / n:>11.2f}")
    obj_s, n_obj, col_ms = r["object"]
    print(f"baseline (object path: DecisionTrace per window + canonical hash) on {n_obj:,} windows: "
          f"{n_obj / obj_s:,.0f} windows/s for the trace stage alone; the columnar trace stage is "
          f"{obj_s * 1e3 / col_ms:.1f}x faster")
    print(f"\n{'':<44}{'windows/s':>11}{'client cpu µs/w':>17}{'server cpu µs/w':>17}{'bytes/decision':>16}")
    print(f"{'decide only':<44}{rate('decide'):>11,.0f}{cpu('decide'):>17.1f}")
    print(f"{'  of which building rows (prepare_batch)':<44}{'':>11}{cpu('prepare'):>17.1f}")
    for b in backends:
        name = "SQLite" if b == "sqlite" else "PostgreSQL"
        for layout, label in (("before", "per-trace edges (before)"), ("after", "lineage in rows (after)")):
            k = f"{b} {layout}"
            server = f"{cpu(k, 2):>17.1f}" if b == "postgresql" else f"{'':>17}"
            print(f"{name + ' persistence only, ' + label:<44}{rate(k):>11,.0f}{cpu(k):>17.1f}{server}"
                  f"{r[k][3] / n:>16,.0f}")
        k = f"{b} e2e"
        server = f"{cpu(k, 2):>17.1f}" if b == "postgresql" else f"{'':>17}"
        print(f"{name + ' persisted (decide_windows)':<44}{rate(k):>11,.0f}{cpu(k):>17.1f}{server}")
    if "floor" in r:
        print(f"{'PostgreSQL raw COPY floor (no index/key/RLS)':<44}{rate('floor'):>11,.0f}{cpu('floor'):>17.1f}"
              f"{cpu('floor', 2):>17.1f}")
    print()
    for b in backends:
        name = "SQLite" if b == "sqlite" else "PostgreSQL"
        e2e = rate(f"{b} e2e")
        line = (f"{name} persisted: {e2e:,.0f} windows/s = {e2e / rate('decide'):.2f} of decide-only; "
                f"target ≥ 20,000/s {'met' if e2e >= 20_000 else 'NOT met'}")
        if b == "postgresql":
            line += (f"; {e2e / rate('floor'):.2f} of the raw COPY floor (target ≥ 0.33 "
                     f"{'met' if e2e / rate('floor') >= 1 / 3 else 'NOT met'})")
        print(line)
        before, after = r[f"{b} before"], r[f"{b} after"]
        print(f"{name} persistence only: {before[0] / after[0]:.1f}x faster than the per-trace-edge layout; "
              f"bytes/decision {before[3] / n:,.0f} → {after[3] / n:,.0f} ({after[3] / before[3]:.0%})")
    cpu_bound(r, n, backends)
    print(f"load average at end {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")


def cpu_bound(r, n, backends) -> None:
    """What the CPU times allow on two otherwise idle cores, for a run on a loaded machine.

    ``decide_windows`` has three workers that can run at once: the deciding thread (plus the
    expert calls it waits for), the writer thread, and for PostgreSQL the server backend.
    Their CPU per window bounds the rate: none can go faster than its own work, and the
    three together share two cores. It is an upper bound: the two threads also take turns
    at the GIL (row building and driver parameter binding hold it; SQLite's and psycopg2's
    I/O and Arrow's kernels release it). Wall time is what counts; this says what to expect of it.
    """
    print("\nCPU per window of decide_windows, by worker, and the rate two idle cores would allow:")
    for b in backends:
        wall, cpu, server, _, writer = r[f"{b} e2e"]
        server = server if b == "postgresql" else 0.0
        decider = cpu - writer
        bound = max(decider, writer, server, (decider + writer + server) / 2)
        name = "SQLite" if b == "sqlite" else "PostgreSQL"
        print(f"  {name:<11} decide thread {decider * 1e6 / n:6.1f} µs, writer thread {writer * 1e6 / n:6.1f} µs, "
              f"server {server * 1e6 / n:6.1f} µs -> {n / bound:>9,.0f} windows/s CPU-bound "
              f"(measured wall {n / wall:,.0f}/s)")
    if "floor" in r:
        _, cpu, server = r["floor"]
        floor = n / max(cpu, server, (cpu + server) / 2)
        wall, cpu, server, _, writer = r["postgresql e2e"]
        pg = n / max(cpu - writer, writer, server, (cpu + server) / 2)
        print(f"  raw COPY floor {floor:,.0f} windows/s CPU-bound: PostgreSQL persisted at {pg / floor:.2f} of it "
              f"(target ≥ 0.33)")


if __name__ == "__main__":
    main()
