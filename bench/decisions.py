"""End-to-end decision throughput: embed → route 3 layers → experts → blend → risk (→ persist).

Usage: python bench/decisions.py [--windows N] [--batch B]

Experts are the default market experts trained on synthetic windows and loaded
from a throwaway SQLite MLflow store, exactly as the decision_traces asset
loads them. Windows are real synthetic windows, tiled with jitter to N.
Reports windows/s without persistence (target ≥ 50 k/s) and with persistence
to a SQLite warehouse (target ≥ 10 k/s), plus the per-stage split.
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--windows", type=int, default=65_536)
    ap.add_argument("--batch", type=int, default=4096)
    args = ap.parse_args()

    from thunderline.decisions.bootstrap import bootstrap_from_windows, load_pool
    from thunderline.decisions.pipeline import decide
    from thunderline.experts import DEFAULT_EXPERT_SPECS
    from thunderline.experts.registry import ExpertRegistry
    from thunderline.flow.decision_partition import persist_batch
    from thunderline.market.features import build_windows, to_feature_windows
    from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks
    from thunderline.store import Warehouse

    tmp = Path(tempfile.mkdtemp(prefix="tl-bench-decisions-"))
    spec = SyntheticSpec(n_ticks=400_000, seed=3, symbol="BENCH")
    base = to_feature_windows(build_windows(synthetic_ticks(spec, "bench")), tenant_id="bench", symbol="BENCH")
    rng = np.random.default_rng(0)
    windows = []
    step = base[-1].window_end_us - base[0].window_start_us + 125_000
    for i in range(args.windows):
        w = base[i % len(base)]
        k = i // len(base)
        feats = {f: (v * (1 + 0.01 * rng.standard_normal()) if v == v else v) for f, v in w.features.items()}
        windows.append(dataclasses.replace(w, features=feats, window_start_us=w.window_start_us + k * step,
                                           window_end_us=w.window_end_us + k * step,
                                           available_at_us=w.available_at_us + k * step))
    specs = [s for s in DEFAULT_EXPERT_SPECS if s.family != "filing"]
    with ExpertRegistry(tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}") as reg:
        state, _ = bootstrap_from_windows(reg, base, specs=specs, seed=1)
        experts, _ = load_pool(reg, state)
        print(f"router {state.version}: layers {[len(p) for p in state.pools]} experts, d={state.config.d}; "
              f"{len(windows):,} windows in batches of {args.batch}")
        decide(windows[: args.batch], state, experts, tenant_id="bench")  # warm-up (JIT, model caches)

        stages: dict[str, float] = {}
        t0 = time.perf_counter()
        batches = []
        for i in range(0, len(windows), args.batch):
            b = decide(windows[i : i + args.batch], state, experts, tenant_id="bench")
            for k, v in b.timings_ms.items():
                stages[k] = stages.get(k, 0.0) + v
            batches.append(b)
        no_persist = time.perf_counter() - t0

        wh = Warehouse(f"sqlite:///{tmp / 'warehouse.db'}")
        wh.init_schema()
        t1 = time.perf_counter()
        for b in batches:
            with wh.session("bench") as s:
                persist_batch(s, b)
        persist = time.perf_counter() - t1
        wh.dispose()

    n = len(windows)
    total = sum(stages.values())
    print(f"\n{'stage':<12}{'ms':>10}{'share':>8}")
    for k, v in stages.items():
        print(f"{k:<12}{v:>10.0f}{v / total:>8.1%}")
    print(f"\nwithout persistence: {n / no_persist:>10,.0f} windows/s   (target ≥ 50,000/s)")
    print(f"persistence only   : {n / persist:>10,.0f} windows/s")
    print(f"with persistence   : {n / (no_persist + persist):>10,.0f} windows/s   (target ≥ 10,000/s)")


if __name__ == "__main__":
    main()
