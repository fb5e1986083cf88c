"""Ten mistakes a user makes with the CLI (issue 17): each is one line on stderr naming the problem, a non-zero
exit, and no hang — every command runs as a real subprocess under a hard timeout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
THUNDERLINE = [sys.executable, "-m", "thunderline_cli.main"]
BOUND_S = 120  # generous for a loaded 2-core machine; the connect timeouts inside are 5 s


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> dict[str, str]:
    """A Thunderline home with one expert registered as champion (and nothing else)."""
    from thunderline.experts import ExpertRegistry
    from thunderline.experts.catalog import DEFAULT_SPECS_BY_NAME
    from thunderline.experts.synthetic import planted_feature_windows
    from thunderline.experts.training import train_expert
    from thunderline.labels import balanced_forward_labels

    root = tmp_path_factory.mktemp("cli-errors")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THUNDERLINE_", "MLFLOW_", "DAGSTER_"))}
    env.update(THUNDERLINE_HOME=str(root / "home"), THUNDERLINE_FIRST_MONTH="2010-01",
               MLFLOW_TRACKING_URI=f"sqlite:///{root / 'home' / 'mlflow.db'}",
               MLFLOW_ARTIFACTS_DESTINATION=(root / "home" / "mlartifacts").as_uri())
    (root / "home").mkdir()
    df = planted_feature_windows(2, 300, seed=1)
    labels = balanced_forward_labels(df, (1,), fit_mask=None, scale_col="realized_vol", end_col="window_end_us")
    fitted = train_expert(DEFAULT_SPECS_BY_NAME["order_flow_logit_h1"], df, labels, 1)
    with ExpertRegistry(tracking_uri=env["MLFLOW_TRACKING_URI"], artifact_location=env["MLFLOW_ARTIFACTS_DESTINATION"]) as r:
        r.register(fitted, alias="champion")
    return env


def run(env: dict[str, str], *args: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([*THUNDERLINE, *args], cwd=REPO, env={**env, **extra}, capture_output=True, text=True,
                          timeout=BOUND_S)


def one_line(p: subprocess.CompletedProcess, *needles: str) -> str:
    assert p.returncode != 0, (p.stdout, p.stderr)
    assert "Traceback" not in p.stderr, p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, p.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


PG_DOWN = "postgresql+psycopg2://postgres@127.0.0.1:1/nothing_listens_here"
#: the CLI processes run two at a time: a cold start is ~3 s of CPU (imports), and the test process only waits
CONCURRENT = 2


def _cases(root: Path) -> dict[str, tuple[list[str], dict[str, str], tuple[str, ...]]]:
    """case -> (arguments, extra environment, what its one line names)."""
    import datetime as dt

    typo, landing = root / "landnig", root / "landing"
    landing.mkdir()
    (landing / "AAPL_ticks.csv").write_text("venue,symbol,ts\n")
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m")
    return {
        "rollback_without_previous_champion": (["learn", "promote", "order_flow_logit_h1", "--rollback"], {},
                                               ("thunderline.expert.order_flow_logit_h1", "no previous champion")),
        "promote_unknown_expert": (["learn", "promote", "no_such_expert"], {},
                                   ("thunderline.expert.no_such_expert", "not registered")),
        "routers_with_postgres_down": (["experts", "routers"], {"THUNDERLINE_WAREHOUSE_URL": PG_DOWN},
                                       ("THUNDERLINE_WAREHOUSE_URL", "Connection refused")),
        # nothing listens on port 1: refused at once (an unroutable host times out after 5 s; never a hang)
        "promote_with_mlflow_unreachable": (["learn", "promote", "order_flow_logit_h1"],
                                            {"MLFLOW_TRACKING_URI": "http://127.0.0.1:1"},
                                            ("MLFLOW_TRACKING_URI=http://127.0.0.1:1", "cannot connect")),
        "mistyped_landing_dir": (["ingest"], {"THUNDERLINE_LANDING_DIR": str(typo)},
                                 (f"THUNDERLINE_LANDING_DIR={typo}", "no such directory")),
        "files_at_landing_root": (["ingest", "--quiet"], {"THUNDERLINE_LANDING_DIR": str(landing)},
                                  ("nothing to ingest", "AAPL_ticks.csv", f"{landing}/ticks/")),
        "bad_history_month": (["learn", "loop", "--history", "2025-13"], {}, ("--history", "'2025-13' is not a month")),
        "ingest_with_postgres_down": (["ingest"], {"THUNDERLINE_WAREHOUSE_URL": PG_DOWN},
                                      ("THUNDERLINE_WAREHOUSE_URL", "Connection refused")),
        "bad_first_month": (["ingest"], {"THUNDERLINE_FIRST_MONTH": "2025-3"},
                            ("THUNDERLINE_FIRST_MONTH='2025-3'", "YYYY-MM")),
        # the home's partitions begin in 2010-01
        "history_before_partitions": (["learn", "loop", "--history", "2009-05", "--quiet"], {},
                                      ("--history 2009-05", "not a complete monthly partition")),
        "history_month_in_progress": (["learn", "loop", "--history", now], {},
                                      (f"--history {now}", "not a complete month yet")),
        "bootstrap_month_without_data": (["experts", "bootstrap", "--months", "2031-01"], {},
                                         ("no market windows in 2031-01",)),
    }


@pytest.fixture(scope="module")
def outcomes(home, tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, tuple[str, ...], Path]]:
    """Every case run once, ``CONCURRENT`` at a time, each in its own copy of the home (so no two processes
    share a SQLite warehouse or tracking store); case -> (process, needles, its root)."""
    import shutil
    from concurrent.futures import ThreadPoolExecutor

    base = Path(home["THUNDERLINE_HOME"])

    def one(case: str) -> tuple[str, tuple[subprocess.CompletedProcess, tuple[str, ...], Path]]:
        root = tmp_path_factory.mktemp(case)
        shutil.copytree(base, root / "home", ignore=shutil.ignore_patterns("mlartifacts"))
        argv, extra, needles = _cases(root)[case]
        env = {**home, "THUNDERLINE_HOME": str(root / "home"),
               "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'home' / 'mlflow.db'}"}
        return case, (run(env, *argv, **extra), needles, root)

    with ThreadPoolExecutor(CONCURRENT) as pool:
        return dict(pool.map(one, CASES))


CASES = ["rollback_without_previous_champion", "promote_unknown_expert", "routers_with_postgres_down",
         "promote_with_mlflow_unreachable", "mistyped_landing_dir", "files_at_landing_root", "bad_history_month",
         "ingest_with_postgres_down", "bad_first_month", "bootstrap_month_without_data", "history_before_partitions",
         "history_month_in_progress"]


@pytest.mark.parametrize("case", CASES)
def test_one_line_nonzero_no_hang(outcomes, case):
    proc, needles, root = outcomes[case]
    one_line(proc, *needles)
    if case == "mistyped_landing_dir":
        assert not (root / "landnig").exists()


def test_every_option_has_help():
    """`--help` explains every option of every command."""
    import argparse

    from thunderline_cli.main import build_parser

    missing = []

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{path} {name}")
            elif not isinstance(action, argparse._HelpAction) and not action.help:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")

    walk(build_parser(), "thunderline")
    assert not missing, missing
