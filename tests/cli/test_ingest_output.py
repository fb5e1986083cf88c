"""What `thunderline ingest` prints on a terminal (issue 17): no Python warning and no traceback, Dagster's per-run
log lines only behind ``-v`` (the progress bar keeps its own line), run as real subprocesses of a fresh home."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BOUND_S = 600  # generous for a loaded 2-core machine
JAN_US = 1_704_205_800_000_000  # 2024-01-02 14:30 UTC


def _ticks(path: Path, symbol: str, seed: int) -> None:
    from thunderline.market import write_canonical_parquet
    from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks

    path.parent.mkdir(parents=True, exist_ok=True)
    spec = SyntheticSpec(n_ticks=2_000, seed=seed, symbol=symbol, venue="CLI", start_us=JAN_US)
    write_canonical_parquet(synthetic_ticks(spec, "default"), path)


def _ingest(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THUNDERLINE_", "MLFLOW_", "DAGSTER_"))}
    env["THUNDERLINE_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "thunderline_cli.main", "ingest", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=BOUND_S)


def test_ingest_is_quiet_and_verbose_shows_dagster_logs(tmp_path):
    """The quiet and the verbose ingest run at the same time, each in its own fresh home (two cold CLI processes
    on two cores: the test process only waits)."""
    from concurrent.futures import ThreadPoolExecutor

    quiet_home, loud_home = tmp_path / "quiet" / "home", tmp_path / "loud" / "home"
    _ticks(quiet_home / "landing" / "ticks" / "cli_a.parquet", "CLIA", 1)
    _ticks(loud_home / "landing" / "ticks" / "cli_b.parquet", "CLIB", 2)
    with ThreadPoolExecutor(2) as pool:
        quiet_run = pool.submit(_ingest, quiet_home)
        loud_run = pool.submit(_ingest, loud_home, "-v", "--quiet")  # no bar: the stderr is Dagster's log lines
        quiet, loud = quiet_run.result(), loud_run.result()
    assert quiet.returncode == 0, quiet.stderr[-3000:]
    assert "partitions materialized: 1" in quiet.stdout
    for noise in ("Warning", "Traceback", " - dagster - "):
        assert noise not in quiet.stderr, quiet.stderr[-3000:]

    assert loud.returncode == 0, loud.stderr[-3000:]
    assert "partitions materialized: 1" in loud.stdout
    dagster_lines = [ln for ln in loud.stderr.splitlines() if " - dagster - " in ln]
    assert dagster_lines and any("market_partition_job" in ln for ln in dagster_lines), loud.stderr[-3000:]
    assert "Warning" not in loud.stderr and "Traceback" not in loud.stderr, loud.stderr[-3000:]
