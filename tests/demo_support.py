"""One ``thunderline demo`` per test session, shared by every test that reads what a demo leaves behind.

Why shared: the demo takes minutes on a busy 2-core machine, and the instance test, the UI browser
test and the docs screenshots all look at the same finished home. The demo runs in a subprocess
into a temporary THUNDERLINE_HOME (with none of the caller's THUNDERLINE_/MLFLOW_/DAGSTER_ variables,
so it is the demo a new user gets); ``THUNDERLINE_DEMO_HOME`` names the home of a finished
``make demo`` to read instead. Its stdout and stderr are kept beside the home (``demo.out``,
``demo.err``) for the tests that look at them.

Once per run, not per worker: under pytest-xdist the first worker that needs the demo runs it into the run's
shared folder (``xdist_support.once``: a FileLock and a marker) and every other worker reads that home. The
tests that read it also change it (a second ingest, tiering and restoring a month, the webserver's settings),
so tests/conftest.py puts every test using ``demo_home`` in one ``xdist_group`` (honoured by ``--dist loadgroup``
only, which pytest-xdist 3.8 cannot apply under pytest 9: see tests/xdist_support.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from proc_support import stop_leaked_code_servers
from xdist_support import once

REPO = Path(__file__).resolve().parents[1]
DEMO_BOUND_S = 3600  # a bound, not a target: the demo takes about a minute on a quiet machine


def clean_env(home: Path) -> dict[str, str]:
    """The environment of a new user whose THUNDERLINE_HOME is ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THUNDERLINE_", "MLFLOW_", "DAGSTER_"))}
    env["THUNDERLINE_HOME"] = str(home)
    return env


def thunderline(home: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """``thunderline ARGS`` with ``home`` as a new user's THUNDERLINE_HOME (output captured, bounded)."""
    return subprocess.run([sys.executable, "-m", "thunderline_cli.main", *args], cwd=REPO, env=clean_env(home),
                          text=True, capture_output=True, timeout=timeout)


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory) -> Path:
    given = os.environ.get("THUNDERLINE_DEMO_HOME")
    if given:
        return Path(given).resolve()
    root = once(tmp_path_factory, "demo", _run_demo)
    out, err = demo_output(root / "home")
    assert (root / "demo.rc").read_text() == "0", out[-3000:] + err[-3000:]
    leaked = (root / "demo.leaked").read_text()
    assert not leaked, f"processes left running over the demo's instance (stopped): {leaked}"
    return root / "home"


def _run_demo(root: Path) -> None:
    """``thunderline demo`` into ``root/home``; its output and exit status beside it, for every worker to read.
    Nothing may outlive it: a code server over its instance is stopped and named here (while no test uses the
    home yet) and fails every test that asks for the demo."""
    p = thunderline(root / "home", "demo", timeout=DEMO_BOUND_S)
    (root / "demo.out").write_text(p.stdout)
    (root / "demo.err").write_text(p.stderr)
    (root / "demo.rc").write_text(str(p.returncode))
    (root / "demo.leaked").write_text("; ".join(stop_leaked_code_servers(root)))


def demo_output(home: Path) -> tuple[str, str] | None:
    """(stdout, stderr) of the session's demo run, or None when the home was given (THUNDERLINE_DEMO_HOME)."""
    out, err = home.parent / "demo.out", home.parent / "demo.err"
    return (out.read_text(), err.read_text()) if out.exists() and err.exists() else None
