"""NAS throughput: Optuna trials per minute on a 100 k-row training slice, on this machine's 2 cores.

Run: ``python bench/nas.py [--rows 100000] [--trials 24] [--processes 2]``.

The slice is real (``thunderline.export.write_slice``: Parquet files, manifest,
purged/embargoed walk-forward folds) over planted-signal windows
(``thunderline.experts.synthetic``) with labels realised by
``thunderline.labels.realise``; the search is the default runner
(``OptunaNasRunner``: seeded TPE, median pruning, MLPs with dropout and
boosted trees, every trial an MLflow run on SQLite) for the target
``order_flow_logit_h1`` on the last fold's train / validation split.

Every fit runs on one thread, so one study uses one core. ``--processes 2``
runs that many independent studies at once (other targets / seeds), one per
core, and reports their aggregate throughput as well. Figures, never pass/fail;
the load average is printed because the machine is shared.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing as mp  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

TARGETS = ("order_flow_logit_h1", "momentum_gbm_h1", "order_flow_logit_h4", "momentum_gbm_h4")


def build_slice(rows: int, root: Path):
    from thunderline.experts.synthetic import planted_feature_windows
    from thunderline.export import SliceSpec, open_slice, write_slice
    from thunderline.hashing import content_id
    from thunderline.labels.realise import LabelSpec, realise_labels

    n_symbols = 10
    df = planted_feature_windows(n_symbols, max(10, rows // n_symbols), seed=0)
    df["available_at_us"] = df["window_end_us"]
    lab = realise_labels(df, [LabelSpec(1), LabelSpec(4)])
    spec = SliceSpec("bench", ("2024-01",), horizons=(1, 4), n_folds=3, embargo_windows=2)
    frame = pd.DataFrame({
        "feature_window_id": [content_id("bench_window", [s, int(t)])
                              for s, t in zip(df["symbol"], df["window_start_us"])],
        "symbol": df["symbol"], "window_start_us": df["window_start_us"], "window_end_us": df["window_end_us"],
        "available_at_us": df["available_at_us"], "recipe_version": "planted", "feature_schema_version": "fs-1",
        "window_content_hash": "-", "provenance_json": "{}"})
    for f in spec.feature_names:
        frame[f] = df[f].to_numpy(np.float64)
    for h in (1, 4):
        part = lab[lab["horizon"] == h].set_index("row").sort_index()
        frame[f"fwd_return_h{h}"] = part["fwd_return"].to_numpy()
        frame[f"label_realised_at_us_h{h}"] = pd.array(
            [None if x < 0 else int(x) for x in part["realised_at_us"]], dtype="Int64")
    res = write_slice(frame, spec, root, "bench")
    return open_slice(res.path)


def one_study(args) -> dict:
    slice_path, target, seed, trials, uri, artifacts = args
    from mlflow import MlflowClient

    from thunderline.experts.catalog import DEFAULT_SPECS_BY_NAME
    from thunderline.export import open_slice
    from thunderline.nas import NasTarget, NasTracker, OptunaNasRunner

    data = open_slice(slice_path)
    tracker = NasTracker(MlflowClient(tracking_uri=uri, registry_uri=uri), artifact_location=artifacts)
    runner = OptunaNasRunner(n_trials=trials, seed=seed)
    t0 = time.perf_counter()
    res = runner.search(data, NasTarget.from_spec(DEFAULT_SPECS_BY_NAME[target]), tracker=tracker)
    wall = time.perf_counter() - t0
    kinds: dict[str, list[float]] = {}
    for c in res.candidates:
        kinds.setdefault(c.architecture["kind"], []).append(c.metrics["fit_seconds"])
    return {"target": target, "trials": res.trials_tried, "pruned": res.pruned, "seconds": wall,
            "trials_per_min": 60.0 * res.trials_tried / wall, "best_val_ic": res.best.metrics["val_ic"],
            "best": res.best.architecture, "fit_seconds": {k: (len(v), float(np.median(v))) for k, v in kinds.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--trials", type=int, default=24)
    ap.add_argument("--processes", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-nas-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        data = build_slice(args.rows, root)
        train, val = data.split()
        print(f"slice: {len(data.frame):,} rows, last fold {len(train):,} train / {len(val):,} validation, "
              f"built in {time.perf_counter() - t0:.1f}s; cores {os.cpu_count()}, load {os.getloadavg()[0]:.2f}")
        uri = f"sqlite:///{root / 'mlflow.db'}"
        from mlflow import MlflowClient

        MlflowClient(tracking_uri=uri).search_experiments()  # create the store once, outside the timings
        job = (str(data.path), TARGETS[0], 0, args.trials, uri, str(root / "artifacts"))
        single = one_study(job)
        print(f"1 study  ({single['target']}): {single['trials']} trials ({single['pruned']} pruned) in "
              f"{single['seconds']:.1f}s = {single['trials_per_min']:.1f} trials/min; median fit s by kind "
              f"{single['fit_seconds']}; best val IC {single['best_val_ic']:+.3f} {single['best']['kind']}")
        out = {"rows": len(data.frame), "train_rows": len(train), "validation_rows": len(val), "single": single,
               "load_avg": os.getloadavg()[0], "cores": os.cpu_count()}
        if args.processes > 1:
            jobs = [(str(data.path), TARGETS[i % len(TARGETS)], i, args.trials, uri, str(root / "artifacts"))
                    for i in range(args.processes)]
            t1 = time.perf_counter()
            with mp.get_context("spawn").Pool(args.processes) as pool:
                results = pool.map(one_study, jobs)
            wall = time.perf_counter() - t1
            total = sum(r["trials"] for r in results)
            each = ", ".join(f"{r['target']}: {r['trials_per_min']:.1f}/min" for r in results)
            print(f"{args.processes} studies in parallel: {total} trials in {wall:.1f}s = "
                  f"{60.0 * total / wall:.1f} trials/min aggregate ({each})")
            out["parallel"] = {"processes": args.processes, "seconds": wall, "trials": total,
                               "trials_per_min": 60.0 * total / wall, "studies": results}
        print(f"load average at the end: {os.getloadavg()[0]:.2f}")
        dest = Path(__file__).with_name("out")
        dest.mkdir(exist_ok=True)
        (dest / "nas.json").write_text(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
