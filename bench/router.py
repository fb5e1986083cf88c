"""Router throughput: thunderline.routing.route against a plain vectorised-numpy router.

Run: ``python bench/router.py [--tokens N] [--repeats R]``. One core: BLAS and
numba are pinned to one thread before either is imported. The numpy router is
what a careful engineer writes without numba (BLAS matmul, partition + lexsort
per expert, stable row argsort, cumsum); both produce the same arrays and
stats, and the run fails unless they agree. Runs are interleaved and the best
and median of each are reported, because a shared machine's neighbours move
single timings by 2x; the load average is printed for the same reason, and
the "cpu ms" column is the median process CPU time per call.

What a route call computes: the scores (n×e), the kept experts as CSR arrays,
each token's kept mass, each bucket's last entry, and every stat - the record
from which ``weights``, ``kept_mask``, the ranked ``buckets`` and the Python
lists are built on first access (see thunderline/routing/assignment.py). The
"route + all arrays" row times a call plus building weights, kept_mask,
buckets and bucket_kept, i.e. everything the numpy router returns, so the two
can also be compared like for like; "route + token_experts lists" adds the
per-token Python lists instead.

Everything is measured twice: with glibc malloc as configured, and after
``mallopt`` turns off heap trimming. With trimming on, glibc can hand a freed
result's memory back to the kernel and the next call page-faults it in again
(the "faults/call" column), which on a VM costs more than computing it; route
allocates ~10 MB per call (8 MB of it the scores), the numpy router ~40 MB.
Deployments can get the second behaviour with
``GLIBC_TUNABLES=glibc.malloc.trim_threshold=1073741824:glibc.malloc.mmap_threshold=268435456``.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import ctypes  # noqa: E402
import math  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from thunderline.routing import route  # noqa: E402


def route_numpy(X, W, c, p, m=None):
    """ROUTER_SPEC.md in vectorised numpy: arrays and stats, no per-token Python."""
    n, e = X.shape[0], W.shape[1]
    L = X @ W
    L -= L.max(axis=1, keepdims=True)
    S = np.exp(L)
    S /= S.sum(axis=1, keepdims=True)
    x = n * c / e
    K = n if x >= n else min(n, max(1, math.ceil(x - 1e-9 * max(1.0, x))))

    buckets = np.empty((e, K), np.int64)
    for j in range(e):
        col = S[:, j]
        kth = np.partition(col, n - K)[n - K]  # the K-th largest score
        above = np.flatnonzero(col > kth)
        ties = np.flatnonzero(col == kth)[: K - above.size]  # lowest indices win ties
        members = np.concatenate([above, ties])
        buckets[j] = members[np.lexsort((members, -col[members]))]
    member = np.zeros((n, e), bool)
    member[buckets, np.arange(e)[:, None]] = True

    order = np.argsort(np.where(member, -S, np.inf), axis=1, kind="stable")
    running = np.cumsum(np.take_along_axis(np.where(member, S, 0.0), order, axis=1), axis=1)
    assigned = member.sum(axis=1)
    rank = np.arange(e)
    hit = (running >= p) & (rank < assigned[:, None])
    r = np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, assigned)
    if m is not None:
        r = np.minimum(r, m)
    mass = np.where(r > 0, running[np.arange(n), np.maximum(r - 1, 0)], 0.0)
    kept = np.zeros((n, e), bool)
    np.put_along_axis(kept, order, rank < r[:, None], axis=1)
    safe = np.where(mass > 0, mass, 1.0)
    weights = np.where(kept, np.where(mass[:, None] > 0, S / safe[:, None], 1.0 / np.maximum(r, 1)[:, None]), 0.0)

    counts = kept.sum(axis=0)
    N = int(r.sum())
    uncovered = assigned == 0
    reached = ~uncovered & (mass >= p)
    capped = ~uncovered & ~reached & (r < assigned)
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(S > 0, S * np.log(S), 0.0)
    undercovered = np.flatnonzero(uncovered).tolist()
    stats = {
        "capacity": K,
        "kept_pairs": N,
        "expert_counts": tuple(counts.tolist()),
        "load_balance": float(np.sqrt(np.mean((counts - N / e) ** 2))),
        "capacity_utilization": N / (e * K),
        "p_saturation": {
            "uncovered": len(undercovered),
            "reached": int(reached.sum()),
            "capped": int(capped.sum()),
            "exhausted": int((~uncovered & ~reached & ~capped).sum()),
        },
        "experts_per_token_hist": np.bincount(r, minlength=e + 1).tolist(),
        "entropy": float(-plogp.sum() / n),
        "undercovered": undercovered,
    }
    return {"scores": S, "buckets": buckets, "kept_mask": kept, "weights": weights, "stats": stats}


def check_agreement(a, ref) -> None:
    """The spec's acceptance rule: discrete outputs exact, floats within 1e-12 / 1e-9 relative."""
    problems = []
    if not np.array_equal(a.buckets, ref["buckets"]):
        problems.append("buckets differ")
    if not np.array_equal(a.kept_mask, ref["kept_mask"]):
        problems.append("kept experts differ")
    for name in ("scores", "weights"):
        worst = float(np.abs(getattr(a, name) - ref[name]).max())
        if worst > 1e-12:
            problems.append(f"{name} differ by {worst:.3g}")
    for key, value in ref["stats"].items():
        mine = a.stats[key]
        same = math.isclose(mine, value, rel_tol=1e-9) if isinstance(value, float) else mine == value
        if not same:
            problems.append(f"stats[{key!r}]: {mine!r} != {value!r}")
    if problems:
        sys.exit("route and the numpy router disagree: " + "; ".join(problems))


def timings(fn, repeats: int) -> tuple[list[float], list[float], int]:
    """Wall and CPU times of ``repeats`` calls, and the minor page faults they caused."""
    wall, cpu = [], []
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return wall, cpu, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults


def route_all_arrays(X, W, *call):
    """route, then every lazily built array the numpy router also returns."""
    a = route(X, W, *call)
    return a.weights, a.kept_mask, a.buckets, a.bucket_kept


def stop_heap_trimming() -> bool:
    """Keep freed memory in the heap (glibc only), so big arrays are reused instead of re-faulted."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(libc.mallopt(m_mmap_threshold, 256 << 20)) and bool(libc.mallopt(m_trim_threshold, 1 << 30))


def measure(label, X, W, call, repeats) -> list[tuple]:
    """Interleaved timings of both routers, plus route with its lazy arrays or Python lists materialised."""
    runs = {
        "route (numba)": (lambda: route(X, W, *call), 3),
        "numpy router": (lambda: route_numpy(X, W, *call), 1),
        "route + all arrays": (lambda: route_all_arrays(X, W, *call), 1),
    }
    results = {name: ([], [], 0) for name in runs}
    for _ in range(repeats):  # interleaved, so all see the same neighbours
        for name, (fn, count) in runs.items():
            wall, cpu, faults = timings(fn, count)
            w, c, f = results[name]
            results[name] = (w + wall, c + cpu, f + faults)
    results["route + token_experts lists"] = timings(lambda: route(X, W, *call).token_experts, 3)
    return [(label, name, wall, cpu, faults / len(wall)) for name, (wall, cpu, faults) in results.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=65_536)
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--experts", type=int, default=16)
    parser.add_argument("--capacity-factor", type=float, default=2.0)
    parser.add_argument("--p", type=float, default=0.65)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.tokens, args.dim))
    W = rng.standard_normal((args.dim, args.experts)) / math.sqrt(args.dim)
    call = (args.capacity_factor, args.p)
    n = args.tokens

    start = time.perf_counter()
    assignment = route(X, W, *call)  # JIT compile or cache load
    warmup = time.perf_counter() - start
    check_agreement(assignment, route_numpy(X, W, *call))
    del assignment

    rows = measure("default malloc", X, W, call, args.repeats)
    if stop_heap_trimming():
        rows += measure("no heap trim", X, W, call, args.repeats)

    print(f"n={n:,} d={args.dim} e={args.experts} c={args.capacity_factor} p={args.p}  one thread")
    print(f"first call (JIT compile or cache load): {warmup:.2f} s;  load average: "
          + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    print(f"{'allocator':15} {'':28} {'best ms':>8} {'median ms':>10} {'cpu ms':>7} {'best Mtok/s':>12} "
          f"{'median Mtok/s':>14} {'faults/call':>12}")
    for label, name, times, cpu, faults in rows:
        best, median = min(times), statistics.median(times)
        print(f"{label:15} {name:28} {best * 1e3:8.2f} {median * 1e3:10.2f} {statistics.median(cpu) * 1e3:7.2f} "
              f"{n / best / 1e6:12.2f} {n / median / 1e6:14.2f} {faults:12.0f}")
    per_allocator = len(rows) // (2 if len(rows) > 4 else 1)
    for i in range(0, len(rows), per_allocator):
        fast, slow, full = rows[i][2], rows[i + 1][2], rows[i + 2][2]
        print(f"{rows[i][0]}: speed-up over numpy best {min(slow) / min(fast):.1f}x, median "
              f"{statistics.median(slow) / statistics.median(fast):.1f}x; with all arrays built best "
              f"{min(slow) / min(full):.1f}x")
    print("targets: >= 5 Mtok/s and >= 10x.  outputs agree: buckets and kept sets exact, "
          "scores/weights within 1e-12, stats within 1e-9")


if __name__ == "__main__":
    main()
