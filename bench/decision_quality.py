"""Does the blend generalise? The same walk-forward path as ``thunderline evaluate`` on several markets.

Usage: python bench/decision_quality.py [--cases amzn,synthetic,demo,lobster] [--seeds 1 2 3] [--lobster FILE…]
                                       [--json out.json] [--table]

Cases (all in memory: ticks → FULL_RECIPE windows → ``evaluate_fold``, exactly what the CLI runs on
stored windows and lake quotes):

* ``amzn``: the real LOBSTER AMZN day (``../shared/datasets/market/lobster``, level 1) cut five ways
  (the README's cuts, ET), read from the shared dataset directory, never copied;
* ``synthetic``: synthetic days with planted regimes (``ofi_impact`` 0.3: order flow is right in the
  calm regime, a latent trend in the volatile one), one per ``--seeds`` value, first half trains;
* ``lobster``: any LOBSTER days given with ``--lobster`` (first half trains, second half decides):
  how a symbol never seen before is checked;
* ``demo``: the demo's live month (its two symbols and seeds), one fold over the first half, as
  ``make demo``'s ``signal_evaluation``.

``--candidates`` also scores every select-stage candidate (the IC-weighted average, near-best, stacked,
regime and learned gates with soft, sparse and Expert-Choice routing), each refitted on all out-of-fold rows
as the chosen one is, on the test period — what the select stage's choice cost or saved.

Printed per case and horizon: blend rank IC, blend − best single expert (chosen after the fact on the
test period), blend − linear OFI line, blend hit rate on moved windows, whether shuffled labels stay
inside the null band, and the candidate the select stage chose. The last lines count, over all cases,
how often the blend is ≥ the best expert and ≥ the linear OFI line at 250 ms and 1 s. Use it to check a
change to the blend on markets it was not tuned on; the figures are deterministic (same seed, same
numbers), CPU time is printed per case.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

LOBSTER_DIR = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "market" / "lobster"
AMZN = "AMZN_2012-06-21_34200000_57600000_message_1.csv"
#: (train from, train to, test from, test to), ET on 2012-06-21: the README's cuts
AMZN_CUTS = (("09:30", "12:45", "12:45", "16:00"), ("09:30", "11:30", "11:30", "16:00"),
             ("10:00", "13:00", "13:00", "16:00"), ("12:45", "16:00", "09:30", "12:45"),
             ("09:30", "11:00", "11:00", "13:00"))
HORIZONS = (250, 1000)


def _windows_and_mids(chunks, symbol: str, tenant: str = "default"):
    """FULL_RECIPE feature windows and clock-label mids of one symbol's tick stream."""
    from thunderline.labels.clock import quote_mids
    from thunderline.market.features import build_windows, to_feature_windows

    batches = list(chunks)
    res = build_windows(batches)
    windows = to_feature_windows(res, tenant_id=tenant, symbol=symbol)
    # the columns load_quote_mids reads from the lake
    cols = {k: np.concatenate([b.column(k).to_numpy(zero_copy_only=False) for b in batches])
            for k in ("ts", "seq", "bid_px", "ask_px")}
    return windows, quote_mids(cols["ts"].astype(np.int64), cols["bid_px"], cols["ask_px"], cols["seq"])


def amzn_cases(cuts=range(len(AMZN_CUTS))):
    from thunderline.evaluation.report import single_fold
    from thunderline.market.lobster import iter_lobster
    from thunderline_cli.evaluate import parse_time_us

    path = LOBSTER_DIR / AMZN
    windows, mids = _windows_and_mids((c.batch for c in iter_lobster(path, "default", 262_144)), "AMZN")
    day = "2012-06-21T"
    for cut in (AMZN_CUTS[i] for i in cuts):
        t = [parse_time_us(day + x, "America/New_York") for x in cut]
        yield f"AMZN {cut[0]}-{cut[1]} -> {cut[2]}-{cut[3]}", windows, {"AMZN": mids}, single_fold(*t)


def lobster_cases(paths):
    """Any LOBSTER day (e.g. another symbol's sample file): the first half of its windows trains, the rest
    (after a 5 s embargo) is decided — the check a day the project has never seen gets."""
    from thunderline.evaluation.walkforward import walk_forward_folds
    from thunderline.market.lobster import iter_lobster, parse_lobster_name

    for path in paths:
        sym = parse_lobster_name(path)["symbol"]
        windows, mids = _windows_and_mids((c.batch for c in iter_lobster(path, "default", 262_144)), sym)
        lo = min(w.window_start_us for w in windows)
        hi = max(w.window_end_us for w in windows)
        yield (f"{sym} {Path(path).name.split('_')[1]} halves", windows, {sym: mids},
               walk_forward_folds(lo, hi, 1, embargo_us=5_000_000, train_fraction=0.5)[0])


def _synthetic_case(specs, name: str):
    from thunderline.evaluation.walkforward import walk_forward_folds
    from thunderline.market.synthetic import synthetic_ticks

    windows, mids = [], {}
    for spec in specs:
        w, m = _windows_and_mids(synthetic_ticks(spec), spec.symbol)
        windows += w
        mids[spec.symbol] = m
    lo = min(w.window_start_us for w in windows)
    hi = max(w.window_end_us for w in windows)
    return name, windows, mids, walk_forward_folds(lo, hi, 1, embargo_us=5_000_000, train_fraction=0.5)[0]


def synthetic_cases(seeds, n_ticks: int):
    from thunderline.market.synthetic import SyntheticSpec

    for s in seeds:
        yield _synthetic_case([SyntheticSpec(n_ticks=n_ticks, seed=s, symbol="SYN", ofi_impact=0.3)],
                              f"synthetic seed {s}")


def demo_case():
    from thunderline.market.synthetic import SyntheticSpec
    from thunderline_cli.demo import (
        DEMO_OFI_IMPACT,
        DEMO_SYMBOLS,
        DEMO_TICKS_PER_SYMBOL,
        LIVE_MONTH,
        LIVE_START_US,
    )

    specs = [SyntheticSpec(n_ticks=DEMO_TICKS_PER_SYMBOL, seed=100 + i + 10 * int(LIVE_MONTH[-2:]), symbol=sym,
                           venue="DEMO", start_us=LIVE_START_US, start_price_ticks=10_000 + 2_500 * i,
                           ofi_impact=DEMO_OFI_IMPACT) for i, sym in enumerate(DEMO_SYMBOLS)]
    yield _synthetic_case(specs, f"demo market {LIVE_MONTH}")


def fit_case(windows, mids, fold):
    """The decision stack of the fold's training period, fitted as ``evaluate_fold`` fits it."""
    from thunderline.decisions.fitting import fit_decision_stack
    from thunderline.evaluation.walkforward import split_fold

    train, _ = split_fold(sorted(windows, key=lambda w: (w.key, w.window_start_us)), fold)
    return fit_decision_stack(train, mids, known_until_us=fold.train_end_us)


def candidate_ics(stack, windows, mids, fold) -> dict:
    """Per horizon, every select-stage candidate's rank IC on the test period minus the best single expert's."""
    from thunderline.decisions.fitting import _scores, clock_returns_for
    from thunderline.decisions.pipeline import decide
    from thunderline.decisions.seeding import training_frame
    from thunderline.evaluation.signal import rank_ic
    from thunderline.evaluation.walkforward import split_fold

    _, test = split_fold(sorted(windows, key=lambda w: (w.key, w.window_start_us)), fold)
    df = training_frame(test)
    rets = clock_returns_for(df, mids, HORIZONS, known_until_us=fold.test_end_us + 5000 * 1000)  # as the bench evaluates: to 5 s
    scores = [_scores(e, df) for _, e in sorted(stack.experts.items())]
    zs = {k: np.concatenate([decide(test[i:i + 4096], st, dict(stack.experts), tenant_id="default",
                                    enforce_budgets=False).blended_score for i in range(0, len(test), 4096)])
          for k, st in stack.alternatives.items()}
    out = {}
    for h in HORIZONS:
        r = rets[h]["fwd_return"].to_numpy()
        best = max(rank_ic(s, r) for s in scores)
        out[h] = {k: rank_ic(z, r) - best for k, z in zs.items()}
    return out


def summarise(name: str, res) -> dict:
    from thunderline.evaluation.walkforward import BASELINE, BLEND

    out = {"case": name, "chosen": res.fit_report.get("chosen"), "test_windows": res.test_windows,
           "select_rank_ic": res.fit_report.get("select_rank_ic"), "blend": res.fit_report.get("blend"),
           "oof": {n: v["rank_ic"] for n, v in (res.fit_report.get("calibrate_stats") or {}).items()},
           "horizons": {}}
    for h in HORIZONS:
        rows = {r["model"]: r for r in res.rows if r["horizon_ms"] == h}
        experts = {m: r["rank_ic"] for m, r in rows.items() if m not in (BLEND, BASELINE)}
        best = max(experts, key=lambda m: experts[m])
        b = rows[BLEND]
        out["horizons"][h] = {"blend": b["rank_ic"], "best_expert": best, "best": experts[best],
                              "linear_ofi": rows[BASELINE]["rank_ic"], "hit": b["hit_rate"],
                              "vs_best": b["rank_ic"] - experts[best], "vs_ofi": b["rank_ic"] - rows[BASELINE]["rank_ic"],
                              "null_ok": res.control[h]["all_inside"], "experts": experts}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", default="amzn,synthetic,demo")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6])
    ap.add_argument("--cuts", type=int, nargs="+", default=list(range(len(AMZN_CUTS))),
                    help="which AMZN cuts (indexes into AMZN_CUTS; default all five)")
    ap.add_argument("--synthetic-ticks", type=int, default=3_000_000)
    ap.add_argument("--lobster", nargs="*", default=[],
                    help="case 'lobster': these LOBSTER message files (first half trains, second decides)")
    ap.add_argument("--bootstrap", type=int, default=100)
    ap.add_argument("--permutations", type=int, default=100)
    ap.add_argument("--json", help="write every case's summary here")
    ap.add_argument("--table", action="store_true", help="also print each case's full table (thunderline evaluate's)")
    ap.add_argument("--candidates", action="store_true",
                    help="also score every select-stage candidate (refitted like the chosen one) on the test period")
    args = ap.parse_args(argv)
    from thunderline.evaluation.walkforward import evaluate_fold, format_table

    kinds = args.cases.split(",")
    gens = {"amzn": lambda: amzn_cases(args.cuts), "synthetic": lambda: synthetic_cases(args.seeds, args.synthetic_ticks),
            "demo": demo_case, "lobster": lambda: lobster_cases(args.lobster)}
    summaries = []
    print(f"{'case':<34}{'h':>6}{'blend':>9}{'-best':>9}{'-OFI':>9}{'hit':>7}  null  chosen (best expert)")
    for kind in kinds:
        for name, windows, mids, fold in gens[kind]():
            c0 = time.process_time()
            stack = fit_case(windows, mids, fold)
            res = evaluate_fold(windows, mids, fold, horizons_ms=(250, 1000, 5000), n_boot=args.bootstrap,
                                n_perm=args.permutations, stack=stack)
            if args.table:
                print(format_table(res), flush=True)
            s = summarise(name, res)
            if args.candidates:
                s["candidates"] = candidate_ics(stack, windows, mids, fold)
            s["cpu_s"] = time.process_time() - c0
            summaries.append(s)
            for h, v in s["horizons"].items():
                print(f"{name:<34}{h:>4}ms{v['blend']:>+9.4f}{v['vs_best']:>+9.4f}{v['vs_ofi']:>+9.4f}"
                      f"{v['hit']:>7.3f}  {'ok' if v['null_ok'] else 'OUT':<4}  {s['chosen']} ({v['best_expert']})",
                      flush=True)
            print(f"{'':<34}  select {json.dumps({k: round(x, 4) for k, x in (s['select_rank_ic'] or {}).items()})}"
                  f"; {s['cpu_s']:.0f} CPU-s", flush=True)
            for h, d in s.get("candidates", {}).items():
                print(f"{'':<34}{h:>4}ms candidates on the test period, − best expert: "
                      + ", ".join(f"{k} {v:+.4f}" for k, v in d.items()), flush=True)
    pairs = [v for s in summaries for v in s["horizons"].values()]
    print(f"blend ≥ best expert on {sum(v['vs_best'] >= 0 for v in pairs)}/{len(pairs)} case × horizon pairs "
          f"(worst {min(v['vs_best'] for v in pairs):+.4f}, mean {np.mean([v['vs_best'] for v in pairs]):+.4f}); "
          f"≥ linear OFI on {sum(v['vs_ofi'] >= 0 for v in pairs)}/{len(pairs)}; "
          f"hit ≥ 0.58 on {sum(v['hit'] >= 0.58 for v in pairs)}/{len(pairs)}; "
          f"null ok on {sum(v['null_ok'] for v in pairs)}/{len(pairs)}")
    if args.candidates:
        for k in summaries[0]["candidates"][HORIZONS[0]] if summaries else ():
            d = np.array([s["candidates"][h][k] for s in summaries for h in HORIZONS])
            print(f"candidate {k:<20} ≥ best expert on {int((d >= 0).sum())}/{d.size}, mean {d.mean():+.4f}, "
                  f"worst {d.min():+.4f}")
    if args.json:
        Path(args.json).write_text(json.dumps(summaries, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
