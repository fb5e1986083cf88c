"""Held-out generalisation check: evaluate the experts on synthetic books unlike AMZN, through the CLI.

Generates a large-tick queue-reactive day and a small-tick day (``thunderline.market.lobster_sim``)
as LOBSTER level-1 pairs into a fresh ``THUNDERLINE_HOME``'s landing area, runs ``thunderline ingest``
and then ``thunderline evaluate`` per symbol (train on the first half of the session, decide the
second after a 5 s embargo), and prints each evaluation's table plus a one-line summary per symbol:
blend, best expert, linear OFI rank IC and the hit rates on moved windows.

    python bench/unseen_books.py --home /tmp/unseen [--seed 1] [--kinds queue_reactive small_tick]

``--python`` runs the CLI of another checkout's venv (e.g. main's) on the same generated files, for a
before/after in one session. Never asserts anything: figures go to the README.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from thunderline.market.lobster_sim import SimDay, write_sim_day  # noqa: E402

SYMBOLS = {"queue_reactive": "QRLT", "small_tick": "SMTK"}


def _hhmm(s: int) -> str:
    return f"2012-06-21T{s // 3600:02d}:{s % 3600 // 60:02d}"


def _run(python: str, env: dict, *args: str) -> subprocess.CompletedProcess:
    """The venv's ``thunderline`` script, run from the home: ``python -m`` would put the working directory
    first on ``sys.path`` and run whichever checkout the bench was started from."""
    cmd = [str(Path(python).parent / "thunderline"), *args]
    return subprocess.run(cmd, env=env, text=True, capture_output=True, check=False, cwd=env["THUNDERLINE_HOME"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", required=True, help="a fresh THUNDERLINE_HOME for this run")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--kinds", nargs="+", default=list(SYMBOLS))
    ap.add_argument("--python", default=sys.executable, help="the interpreter whose thunderline CLI runs")
    ap.add_argument("--skip-ingest", action="store_true", help="evaluate an already ingested home again")
    a = ap.parse_args()
    home = Path(a.home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, THUNDERLINE_HOME=str(home))
    env.pop("THUNDERLINE_WAREHOUSE_URL", None)
    days = [SimDay(kind=k, symbol=SYMBOLS[k], seed=a.seed) for k in a.kinds]
    if not a.skip_ingest:
        landing = home / "landing" / "ticks" / "lobster"
        for d in days:
            write_sim_day(d, landing)
        r = _run(a.python, env, "ingest")
        print(r.stdout[-2000:], r.stderr[-2000:], sep="\n")
        if r.returncode:
            raise SystemExit(f"ingest failed ({r.returncode})")
    for d in days:
        mid = (d.start_s + d.end_s) // 2
        out = home / f"eval_{d.symbol}.json"
        r = _run(a.python, env, "evaluate", "--symbols", d.symbol, "--train-from", _hhmm(d.start_s),
                 "--train-to", _hhmm(mid), "--from", _hhmm(mid), "--to", _hhmm(d.end_s),
                 "--tz", "America/New_York", "--json", str(out))
        print(f"==== {d.kind} ({d.symbol}, seed {d.seed}) exit {r.returncode}")
        print(r.stdout[-6000:])
        if r.returncode:
            print(r.stderr[-3000:])


if __name__ == "__main__":
    main()
