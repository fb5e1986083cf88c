"""``thunderline learn``: the learning loop as Dagster runs, promotion and rollback by hand.

``learn loop`` submits the learning assets' jobs to the instance and follows them
(:mod:`thunderline_cli.learning_runs`, the one place the loop's order lives): labels
and paper PnL of every month × symbol with windows → monthly metrics of the decided
months → a training slice of the history months → NAS (seeded Optuna trials) whose
best candidate of each target is registered as ``shadow`` → its evaluation against the
champion on realised labels → one promotion step → gate retraining → a router version
for any moved champion. Every step shows in the Dagster UI as runs of named jobs.
"""

from __future__ import annotations

import datetime as dt
import time

from thunderline.config import load_settings
from thunderline.stores import open_stores
from thunderline_cli.args import month, non_negative_int, positive_int
from thunderline_cli.learning_runs import DEMO_TARGETS


def cmd_loop(args) -> int:
    from thunderline_cli.errors import CliError
    from thunderline_cli.learning_runs import LearningRunFailed, run_learning_loop

    settings = load_settings()
    t0 = time.perf_counter()
    _complete_months(args.history)
    try:
        run_learning_loop(settings, history_months=sorted(args.history), targets=args.targets,
                          n_trials=args.trials, seed=args.seed, min_count=args.min_count,
                          retrain_gates=not args.no_gates, verbose=args.verbose, progress=not args.quiet)
    except LearningRunFailed as exc:
        raise CliError(str(exc)) from None
    print(f"learning loop done in {time.perf_counter() - t0:.1f}s (runs and backfills in the Dagster UI)")
    return 0


def _complete_months(history) -> None:
    """The retrain job's partitions are complete months: the month in progress cannot be a history month."""
    from thunderline.partitioning import last_complete_month
    from thunderline_cli.errors import CliError

    last = last_complete_month(dt.datetime.now(dt.timezone.utc))[:7]
    late = sorted(m for m in history if m > last)
    if late:
        raise CliError(f"--history {late[0]}: not a complete month yet (the last complete month is {last})")


def cmd_promote(args) -> int:
    from thunderline.evaluation.promotion import GatePolicy, Promoter

    with open_stores(load_settings()) as stores:
        p = Promoter(stores.registry, stores.warehouse, stores.tenant_id, policy=GatePolicy(min_count=args.min_count), actor=args.actor)
        if args.rollback:
            t = p.rollback(args.expert, reason=args.reason or "manual rollback", actor=args.actor)
        elif args.guard:
            t = p.guard(args.expert)
        else:
            t = p.step(args.expert)
    if t is None:
        print(f"{args.expert}: no shadow or challenger to judge")
    else:
        print(f"{t.expert} v{t.version}: {t.from_state} → {t.to_state} ({t.decision}) by {t.actor}: {t.reason}")
    return 0


def register(sub) -> None:
    import getpass

    p = sub.add_parser("learn", help="the learning loop: labels, PnL, slices, NAS, promotion")
    lc = p.add_subparsers(dest="learn_command", required=True)
    loop = lc.add_parser("loop", help="labels → PnL → slice → NAS → shadow → evaluation → promotion → gates")
    loop.add_argument("--history", nargs="+", required=True, type=month, help="YYYY-MM months to slice and search on")
    loop.add_argument("--targets", nargs="+", default=list(DEMO_TARGETS), help="expert names to search for")
    loop.add_argument("--trials", type=positive_int, default=20,
                      help="Optuna trials per NAS target (default 20; each trial trains one candidate)")
    loop.add_argument("--seed", type=non_negative_int, default=0,
                      help="seed of the NAS sampler and of every candidate's training (default 0)")
    loop.add_argument("--min-count", type=positive_int, default=200,
                      help="realised trades a shadow/challenger needs before the promotion gate judges it (default 200)")
    loop.add_argument("--no-gates", action="store_true", help="do not retrain the router gates")
    loop.add_argument("-v", "--verbose", action="store_true",
                      help="show Dagster's log lines of every run (default: errors only; the UI keeps every event)")
    loop.add_argument("--quiet", action="store_true", help="no progress bar")
    loop.set_defaults(func=cmd_loop)
    pr = lc.add_parser("promote", help="one blue/green step for an expert, or --rollback its champion")
    pr.add_argument("expert", help="expert name, e.g. momentum_gbm_h1 (registered as thunderline.expert.<name>)")
    pr.add_argument("--rollback", action="store_true",
                    help="move champion back to the previous champion instead of judging a candidate")
    pr.add_argument("--guard", action="store_true",
                    help="judge the champion against the version it replaced on realised labels; roll it back "
                         "when that version beats it on IC and net PnL")
    pr.add_argument("--reason", default="", help="why (recorded with the transition; default 'manual rollback')")
    pr.add_argument("--min-count", type=positive_int, default=200,
                    help="realised trades the candidate needs before it is judged (default 200)")
    pr.add_argument("--actor", default=f"{getpass.getuser()} (thunderline learn)",
                    help="who is recorded as having made the step (default: your user name)")
    pr.set_defaults(func=cmd_promote)
