"""Wall time the expert runner adds per call: ``ExpertRunner.run`` of a trivial expert, one after another.

    python bench/expert_calls.py [--calls 1000] [--windows 50] [--repo PATH]

The expert itself costs microseconds (one small DataFrame), so the figure is the runner's overhead:
handing the call to a worker thread, waiting for it, checking the output. ``--repo`` imports
``thunderline`` from another checkout (e.g. a worktree of an older commit), for a before/after
comparison in the same session. Wall times move with the neighbours on a shared machine.
Figures only: nothing here passes or fails on time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--windows", type=int, default=50)
    ap.add_argument("--repo", default=str(Path(__file__).resolve().parents[1]))
    a = ap.parse_args()
    sys.path.insert(0, a.repo)
    import pandas as pd

    from thunderline.experts.runner import ExpertRunner

    class Trivial:
        name, version, alias = "trivial", "1", "champion"

        def predict(self, df):
            return pd.DataFrame({"action": ["buy"] * len(df), "confidence": [0.5] * len(df)})

    df = pd.DataFrame({"x": np.arange(float(a.windows))})
    runner, expert = ExpertRunner(), Trivial()
    ms = np.empty(a.calls)
    for i in range(a.calls):
        t0 = time.perf_counter()
        runner.run(expert, df, 5000.0)
        ms[i] = (time.perf_counter() - t0) * 1e3
    print(f"{a.repo}: {a.calls} calls, per call p50 {np.median(ms):.3f} ms, p99 {np.percentile(ms, 99):.3f} ms, "
          f"max {ms.max():.2f} ms; load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
