"""Temporaries a dead tiering attempt left in cold storage are removed by the next run of that tenant-month,
and nothing else is: the process is SIGKILLed mid-copy (the crash harness's ``kill:`` fault), the re-run
(``thunderline retention tier``) removes its temporary, says so, and tiers the month bit-identical, while
completed files with similar names, the same temporary in another tenant's or another month's directory
stay. Through fsspec (``memory://``), an earlier attempt still alive (held mid-copy by the ``wait:`` fault)
loses its temporary to a later run and fails before recording anything. SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

from test_tiering_crash import _tier_child, temps
from tiering_home import MONTH, SYMBOL

from thunderline import faults
from thunderline.retention import restore_month, tier_month
from thunderline.store.lake import Lake
from thunderline_cli.main import main


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cli_env(monkeypatch, home, tmp_path: Path) -> None:
    for k, v in {"THUNDERLINE_HOME": str(tmp_path / "tl"), "THUNDERLINE_WAREHOUSE_URL": home.warehouse.url,
                 "THUNDERLINE_LAKE_DIR": str(home.lake_dir), "THUNDERLINE_TENANT": "alpha",
                 "THUNDERLINE_COLD_URL": home.cold_url, "DAGSTER_HOME": str(tmp_path / "tl" / "dagster"),
                 "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}.items():
        monkeypatch.setenv(k, v)


def test_a_rerun_removes_the_killed_copys_temporary_and_nothing_else(alpha_lake, tmp_path, monkeypatch, capsys):
    home = alpha_lake
    lake = Lake(home.lake_dir)
    before = {p.name: _sha(p) for p in lake.batch_files("alpha", MONTH, SYMBOL)}
    home.warehouse.dispose()  # no connection shared with the forked child
    child = multiprocessing.get_context("fork").Process(
        target=_tier_child, args=(home.warehouse.url, str(home.lake_dir), home.cold_url, "kill:retention.copying@2"))
    child.start()
    child.join(300)
    assert child.exitcode == -signal.SIGKILL
    cold = Path(home.cold_url)
    (left,) = temps(cold)  # the 2nd file's temporary, half or whole, never moved into place
    name = left.name[1:].split(".")[0]
    assert left.parent.name == f"symbol={SYMBOL}" and name in {n.split(".")[0] for n in before}

    kept = {  # completed files with similar names, and the same temporary where this month's run has no say
        left.parent / f"{left.name[1:]}": left.read_bytes(),  # not hidden: a completed file
        left.parent / f".{name}.parquet": left.read_bytes(),  # hidden, but no .tmp
        left.parent / f"{name}.parquet.tmp": left.read_bytes(),
        cold / f"tenant=beta/ticks/month={MONTH}/symbol={SYMBOL}" / left.name: left.read_bytes(),
        cold / f"tenant=alpha/ticks/month=2012-07/symbol={SYMBOL}" / left.name: left.read_bytes(),
    }
    for path, data in kept.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    _cli_env(monkeypatch, home, tmp_path)
    assert main(["retention", "tier", "--month", MONTH]) == 0
    out = capsys.readouterr().out
    assert f"{MONTH}: " in out and "1 stale temporaries of interrupted runs removed" in out, out
    assert not left.exists()
    assert {p: p.read_bytes() for p in kept} == kept
    with home.warehouse.session("alpha") as s:
        (audit,) = s.select("retention_audit")
        cold_rows = [r for r in s.select("cold_files") if r["status"] == "cold"]
    assert audit["detail"]["stale_temps_removed"] == 1
    assert sorted(r["sha256"] for r in cold_rows) == sorted(before.values())
    assert lake.batch_files("alpha", MONTH, SYMBOL) == []
    restore_month(home.warehouse, lake, "alpha", MONTH, home.cold_url)
    assert {p.name: _sha(p) for p in lake.batch_files("alpha", MONTH, SYMBOL)} == before


def _wait_for(path: Path, timeout: float = 120) -> None:
    t0 = time.monotonic()
    while not path.exists():
        assert time.monotonic() - t0 < timeout, f"{path} never appeared"
        time.sleep(0.02)


def test_an_earlier_attempt_still_running_loses_its_temporary_and_records_nothing(alpha_lake, tmp_path,
                                                                                 monkeypatch):
    import fsspec

    home = alpha_lake
    lake = Lake(home.lake_dir)
    before = {p.name: _sha(p) for p in lake.batch_files("alpha", MONTH, SYMBOL)}
    url = f"memory://stale-{os.getpid()}-{home.warehouse.url.rsplit('/', 1)[-1]}"
    mem, root = fsspec.filesystem("memory"), url.removeprefix("memory://")
    ready, go = tmp_path / "ready", tmp_path / "go"
    monkeypatch.setattr(faults, "_hits", {})  # this process's fault counts, not the session's
    monkeypatch.setenv("THUNDERLINE_FAULT", "wait:retention.copying@2")
    monkeypatch.setenv("THUNDERLINE_FAULT_READY", str(ready))
    monkeypatch.setenv("THUNDERLINE_FAULT_GO", str(go))
    errors: list[BaseException] = []

    def earlier() -> None:
        try:
            tier_month(home.warehouse, lake, "alpha", MONTH, url, actor="test:earlier")
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            errors.append(exc)

    attempt = threading.Thread(target=earlier)
    attempt.start()
    try:
        _wait_for(ready)  # held after the 2nd file's first chunk, its temporary in the store
        left = [p for p in mem.find(root) if p.rsplit("/", 1)[-1].startswith(".") and p.endswith(".tmp")]
        assert len(left) == 1, left
        report = tier_month(home.warehouse, lake, "alpha", MONTH, url, actor="test:later")
    finally:
        go.touch()
        attempt.join(120)
    assert report.stale_temps_removed == 1 and report.files + report.already_cold == len(before)
    assert len(errors) == 1 and isinstance(errors[0], FileNotFoundError), errors  # its move found no file
    assert [p for p in mem.find(root) if p.endswith(".tmp")] == []
    with home.warehouse.session("alpha") as s:
        rows = s.select("cold_files")
    assert sorted(r["sha256"] for r in rows if r["status"] == "cold") == sorted(before.values())
    restore_month(home.warehouse, lake, "alpha", MONTH, url)
    assert {p.name: _sha(p) for p in lake.batch_files("alpha", MONTH, SYMBOL)} == before
    mem.rm(root, recursive=True)
