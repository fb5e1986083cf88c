"""``decide_windows`` with and without a short GIL switch interval, interleaved in one run.

Usage: python bench/writer_switch.py [--windows N] [--reps R] [--intervals none,0.0005,0.0001]
                                     [--warehouse PG_ADMIN_URL | --no-pg]

Why interleaved: on a shared machine wall rates swing by 2x between minutes, so each
setting runs right after the others, R times, on fresh databases, and only the
same-repetition ratios mean anything. ``none`` is Python's default (5 ms); the others
set ``decision_partition.WRITER_SWITCH_INTERVAL_S`` and force it on either backend (the
library applies it on SQLite only). Prints wall windows/s, process CPU and writer-thread
CPU per window, and the PostgreSQL backend's CPU per window.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import decisions as B  # noqa: E402  (the decisions bench's windows, databases and persisted run)


def main() -> None:
    from thunderline.decisions.bootstrap import bootstrap_from_windows
    from thunderline.decisions.pipeline import decide
    from thunderline.decisions.pool import load_pool
    from thunderline.experts import DEFAULT_EXPERT_SPECS
    from thunderline.experts.registry import ExpertRegistry
    from thunderline.flow import decision_partition as dp

    ap = argparse.ArgumentParser()
    ap.add_argument("--windows", type=int, default=12_288)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--intervals", default="none,0.0005")
    ap.add_argument("--warehouse", default=os.environ.get("THUNDERLINE_BENCH_PG_ADMIN", B.DEFAULT_PG_ADMIN))
    ap.add_argument("--no-pg", action="store_true")
    args = ap.parse_args()
    settings = [None if x == "none" else float(x) for x in args.intervals.split(",")]
    backends = ["sqlite"] + ([] if args.no_pg else ["postgresql"])
    with tempfile.TemporaryDirectory(prefix="tl-bench-switch-") as tmp:
        base, windows = B.make_windows(args.windows)
        specs = [s for s in DEFAULT_EXPERT_SPECS if s.family != "filing" and s.name in B.BENCH_EXPERTS]
        dbs = B.Databases(Path(tmp), None if args.no_pg else args.warehouse)
        force = dp.session_switch_interval
        try:
            with ExpertRegistry(tracking_uri=f"sqlite:///{Path(tmp) / 'mlflow.db'}") as reg:
                state, _ = bootstrap_from_windows(reg, base, specs=specs, seed=1)
                experts, _ = load_pool(reg, state)
                decide(windows[:4096], state, experts, tenant_id=B.TENANT)  # warm-up
                for rep in range(args.reps):
                    for backend in backends:
                        for si in settings:
                            dp.session_switch_interval = lambda session, si=si: si
                            wall, cpu, server, _, wcpu = B.persisted(dbs, backend, windows, state, experts, 4096)
                            n = len(windows)
                            print(f"rep {rep} {backend:<10} interval {str(si):<7} {n / wall:>8,.0f} windows/s  "
                                  f"cpu {cpu / n * 1e6:5.1f} µs/w  writer {wcpu / n * 1e6:5.1f}  "
                                  f"server {server / n * 1e6:5.1f}  load {os.getloadavg()[0]:.1f}", flush=True)
        finally:
            dp.session_switch_interval = force
            dbs.close()


if __name__ == "__main__":
    main()
