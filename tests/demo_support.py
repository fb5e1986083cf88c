"""One ``thunderline demo`` per test session, shared by every test that reads what a demo leaves behind.

Why shared: the demo takes minutes on a busy 2-core machine, and the instance test, the UI browser
test and the docs screenshots all look at the same finished home. The demo runs in a subprocess
into a temporary THUNDERLINE_HOME (with none of the caller's THUNDERLINE_/MLFLOW_/DAGSTER_ variables,
so it is the demo a new user gets); ``THUNDERLINE_DEMO_HOME`` names the home of a finished
``make demo`` to read instead. Its stdout and stderr are kept beside the home (``demo.out``,
``demo.err``) for the tests that look at them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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
    root = tmp_path_factory.mktemp("demo")
    home = root / "home"
    p = thunderline(home, "demo", timeout=DEMO_BOUND_S)
    (root / "demo.out").write_text(p.stdout)
    (root / "demo.err").write_text(p.stderr)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return home


def demo_output(home: Path) -> tuple[str, str] | None:
    """(stdout, stderr) of the session's demo run, or None when the home was given (THUNDERLINE_DEMO_HOME)."""
    out, err = home.parent / "demo.out", home.parent / "demo.err"
    return (out.read_text(), err.read_text()) if out.exists() and err.exists() else None
