"""Crash-consistency harness: kill ``ingest`` at named points, re-run, compare with a clean run.

How it stays fast: the clean reference ingest runs *in* the test process
(:func:`in_process_ingest`), which leaves that process warm — every module imported, the
numba kernels loaded, the Dagster definitions' code paths and the run tags' ``git`` calls
done — and then each crashed run and each re-run is a *forked* child of it (the same
``run_ingest`` the CLI calls), which starts warm instead of paying all of that again
(≈ 7× less CPU per child). A child killed at a fault point dies by a real SIGKILL — no
``finally``, no atexit, open transactions and half-written files left as they are. The
re-run child then computes a :func:`snapshot` of the warehouse and the lake and hands it
back as JSON. The reference run disposes of every engine and Dagster instance it opened
before any child is forked, so no connection is shared with a child.

A snapshot is, per warehouse table, the row count and a sha256 over the sorted rows
(timestamps of writing dropped, the home directory replaced by ``<home>``), and per
file under the lake and the content store, its relative path and sha256.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

# The columns that record *when* a row was written, not what it says: left out of the comparison.
WRITE_TIME_TYPES = ("DateTime",)


@dataclass(frozen=True)
class Home:
    """One Thunderline home: directories, warehouse URL, the landing set it ingests."""

    root: Path
    warehouse_url: str
    landing: Path

    def env(self) -> dict[str, str]:
        return {
            "THUNDERLINE_HOME": str(self.root),
            "THUNDERLINE_WAREHOUSE_URL": self.warehouse_url,
            "THUNDERLINE_LANDING_DIR": str(self.landing),
            "DAGSTER_HOME": str(self.root / "dagster"),
            "MLFLOW_TRACKING_URI": f"sqlite:///{self.root / 'mlflow.db'}",
        }


def write_landing_set(dst: Path, datasets: Path | None = None) -> Path:
    """A small, deterministic landing set touching every stage: 3 symbols (one split over two files,
    one replaying ten rows, which quarantine, one in 4 small files as the HTTP ingress lands them,
    which compaction merges) and 2 EDGAR filings of different months."""
    import pyarrow as pa

    from thunderline.edgar.demo_filings import write_demo_filings
    from thunderline.market import write_canonical_parquet
    from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks

    ticks = dst / "ticks"
    ticks.mkdir(parents=True, exist_ok=True)
    a = pa.Table.from_batches(list(synthetic_ticks(SyntheticSpec(n_ticks=6_000, seed=7, symbol="HARA"), "default")))
    write_canonical_parquet(iter(a.slice(0, 3_500).to_batches()), ticks / "hara_1.parquet")
    write_canonical_parquet(iter(a.slice(3_500).to_batches()), ticks / "hara_2.parquet")
    b = pa.Table.from_batches(list(synthetic_ticks(SyntheticSpec(n_ticks=4_000, seed=8, symbol="HARB"), "default")))
    b = pa.concat_tables([b.slice(0, 2_000), b.slice(1_990, 10), b.slice(2_000)])  # 10 replayed rows: quarantined
    write_canonical_parquet(iter(b.to_batches()), ticks / "harb.parquet")
    write_http_landed(dst, "HARC", files=4, ticks_per_file=250, seed=9)
    edgar = dst / "edgar"
    tmp = dst / ".demo"
    manifest = write_demo_filings(tmp)
    edgar.mkdir(exist_ok=True)
    for f in manifest.files:
        if f.name in ("0000999001-24-000010.txt", "0000999002-25-000005.txt"):
            (edgar / f.name).write_bytes(f.read_bytes())
    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()
    return dst


def write_http_landed(landing: Path, symbol: str, *, files: int, ticks_per_file: int, seed: int,
                      tenant: str = "default") -> list[Path]:
    """One symbol's stream in small files, landed as ``thunderline serve`` lands each accepted request."""
    import pyarrow as pa

    from thunderline.ingress.landing import DurableLanding
    from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks

    out = DurableLanding(landing)
    spec = SyntheticSpec(n_ticks=files * ticks_per_file, seed=seed, symbol=symbol)
    return [out.write_ticks(tenant, pa.Table.from_batches([b])).path
            for b in synthetic_ticks(spec, tenant, chunk_rows=ticks_per_file)]


def snapshot(home: Home) -> dict:
    """What a run left behind, comparable across homes (see the module docstring)."""
    from thunderline.config import load_settings
    from thunderline.store import Warehouse, metadata

    settings = load_settings(home.env() | {"THUNDERLINE_LANDING_DIR": str(home.landing)}, create_dirs=False)
    wh = Warehouse(settings.warehouse_url)
    out: dict = {"tables": {}, "files": {}}
    root = str(home.root)
    try:
        with wh.session(settings.tenant_id) as s:
            for table in metadata.sorted_tables:
                cols = [c.name for c in table.c if type(c.type).__name__ not in WRITE_TIME_TYPES]
                rows = s.select(table.name, columns=cols)
                texts = sorted(json.dumps(r, sort_keys=True, default=str).replace(root, "<home>") for r in rows)
                out["tables"][table.name] = [len(texts), hashlib.sha256("\n".join(texts).encode()).hexdigest()]
    finally:
        wh.dispose()
    for sub in ("lake", "landed"):
        base = home.root / sub
        for p in sorted(base.rglob("*")) if base.exists() else []:
            if p.is_file():
                out["files"][f"{sub}/{p.relative_to(base)}"] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def differences(ref: dict, got: dict) -> list[str]:
    """Human-readable differences between two snapshots (empty when equal)."""
    out = []
    for name in sorted(set(ref["tables"]) | set(got["tables"])):
        a, b = ref["tables"].get(name), got["tables"].get(name)
        if a != b:
            out.append(f"table {name}: clean {a} vs re-run {b}")
    for path in sorted(set(ref["files"]) | set(got["files"])):
        a, b = ref["files"].get(path), got["files"].get(path)
        if a != b:
            out.append(f"file {path}: clean {a and a[:12]} vs re-run {b and b[:12]}")
    return out


def _ingest(home: Home, fault: str | None, result_path: Path | None, wait_s: float, snap: bool,
            compact: bool = True) -> int:
    """One ingest of ``home`` in this process (``fault`` armed); its exit code as the CLI would give it."""
    for k in ("THUNDERLINE_FAULT", "THUNDERLINE_TENANT", "THUNDERLINE_LAKE_DIR"):
        os.environ.pop(k, None)
    os.environ.update(home.env())
    if fault:
        os.environ["THUNDERLINE_FAULT"] = fault
    import dagster as dg

    from thunderline.config import load_settings
    from thunderline_cli.ingest import run_ingest

    # Dagster's own run records are not under test: an in-memory instance keeps each run cheap.
    # The Great Expectations suite only yields check results, never rows: skipped for speed.
    with dg.DagsterInstance.ephemeral() as instance:
        report = run_ingest(load_settings(), home.landing, show_progress=False, instance=instance,
                            expectations=False, wait_s=wait_s, compact=compact)
    os.environ.pop("THUNDERLINE_FAULT", None)
    result = {"lines": report.lines(), "failed": report.runs_failed, "error": report.error,
              "partitions": report.partitions}
    if result_path is not None:
        if snap:
            result["snapshot"] = snapshot(home)
        result_path.write_text(json.dumps(result))
    return 1 if (report.runs_failed or report.error) else 0


def _child(home: Home, fault: str | None, result_path: Path | None, wait_s: float = 0.0,
           snap: bool = True, compact: bool = True) -> None:
    """Body of a forked child: one ingest (optionally with a fault armed); never returns."""
    code = 0
    try:
        code = _ingest(home, fault, result_path, wait_s, snap, compact)
    except BaseException:  # noqa: BLE001 - report, then leave without running the parent's cleanup
        traceback.print_exc()
        sys.stderr.flush()
        code = 3
    finally:
        os._exit(code)


def in_process_ingest(home: Home, *, result_path: Path | None = None, snap: bool = True) -> int:
    """One uninterrupted ingest in *this* process (the clean reference run), its environment restored after.

    No fault is armed, so nothing here needs a process of its own; running it here is what makes
    every later forked child start warm (see the module docstring)."""
    saved = dict(os.environ)
    try:
        return _ingest(home, None, result_path, 0.0, snap)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def start_ingest(home: Home, *, fault: str | None = None, result_path: Path | None = None, wait_s: float = 0.0,
                 snap: bool = True, compact: bool = True) -> int:
    """Fork a child running one ingest; returns its pid (see :func:`wait_ingest`)."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _child(home, fault, result_path, wait_s, snap, compact)
    return pid


def wait_ingest(pid: int) -> int:
    """The child's end as ``-signal`` (killed) or its exit code."""
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def forked_ingest(home: Home, *, fault: str | None = None, result_path: Path | None = None,
                  snap: bool = True, compact: bool = True) -> int:
    """Run one ingest in a forked child and wait for it (``compact=False``: small files one by one)."""
    return wait_ingest(start_ingest(home, fault=fault, result_path=result_path, snap=snap, compact=compact))


def cli(home: Home, *args: str, env: dict[str, str] | None = None, timeout: float = 600):
    """``thunderline ingest`` as an operator runs it (a subprocess of the venv's CLI)."""
    import subprocess

    # the console script's own code (pyproject: thunderline = thunderline_cli.main:main), run by this
    # interpreter so a venv whose entry-point script predates a move still runs the current CLI
    launcher = "import sys; from thunderline_cli.main import main; sys.argv[0] = 'thunderline'; sys.exit(main())"
    full = {k: v for k, v in os.environ.items() if not k.startswith("THUNDERLINE_FAULT")}
    full |= home.env() | (env or {})
    return subprocess.Popen([sys.executable, "-c", launcher, "ingest", "--quiet", "--no-expectations", *args], env=full,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


KILLED = -signal.SIGKILL
