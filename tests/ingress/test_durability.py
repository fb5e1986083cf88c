"""Durability: a 2xx means the batch is on disk; kill the server, restart, and the batch is processed once."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal
import time

import httpx
import pyarrow.parquet as pq
import pytest
from xdist_support import free_port

from thunderline.flow.landing import candidate_files, index_files
from thunderline.flow.ledger import record_step
from thunderline.flow.market_windows import build_window_partition
from thunderline.flow.tick_files import classify_tick_file
from thunderline.flow.tick_ingest import ingest_tick_partition
from thunderline.ingress import create_key, files_of_tenant, landing_tenants, tenant_of_landing_path
from thunderline.ingress.landing import DurableLanding
from thunderline.store import Warehouse
from thunderline.store.lake import Lake

from .ticks import JSONL, jsonl, rows_of, ticks


def _serve_forever(port: int) -> None:  # runs in the forked child
    from thunderline.config import load_settings
    from thunderline.ingress import ServeConfig
    from thunderline.ingress.server import serve

    serve(load_settings(), ServeConfig(port=port, relay=False), log_level="warning")


def _start(port: int):
    """``thunderline serve`` in a separate process, forked from this one (already-imported modules start it fast)."""
    proc = multiprocessing.get_context("fork").Process(target=_serve_forever, args=(port,), daemon=True)
    proc.start()
    for _ in range(600):  # bounded: up to ~60 s on a busy machine
        if not proc.is_alive():
            raise RuntimeError(f"server exited with {proc.exitcode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("server did not become healthy")


def process_landing(settings, tenant: str) -> dict[str, int]:
    """What a sensor or ``thunderline ingest`` does for one tenant: index its files, ingest their partitions."""
    wh = Warehouse(settings.warehouse_url)
    try:
        with wh.session(tenant) as s:
            files = files_of_tenant(candidate_files(settings.ticks_landing), tenant, settings.tenant_id,
                                    settings.landing_dir)
            landed = index_files(s, "ticks", files, classify_tick_file)
            new = [f for f in landed if f.is_new and f.status == "indexed"]
            for part in sorted({p for f in new for p in f.partitions}):
                month, symbol = part.split("|")
                ingest_tick_partition(s, Lake(settings.lake_dir), month, symbol, run_expectations=False)
                # a file is processed once every step of its partitions committed (windows; no router yet)
                build_window_partition(s, month, symbol)
                record_step(s, "ticks", part, "decision_traces")
        with wh.session(tenant) as s:
            rows = sum(r["rows"] for r in s.select("raw_tick_batches"))
            processed = len([r for r in s.select("landing_files") if r["status"] == "processed"])
        return {"new_files": len(new), "rows": rows, "processed_files": processed}
    finally:
        wh.dispose()


def test_kill_after_2xx_restart_and_the_batch_is_processed_once(settings_env):
    wh = Warehouse(settings_env.warehouse_url)
    wh.init_schema()
    key = create_key(wh, "acme")[0]
    wh.dispose()
    data = jsonl(rows_of(ticks(120)))
    headers = {"Authorization": f"Bearer {key}", "Content-Type": JSONL}
    port = free_port()
    proc = _start(port)
    try:
        r = httpx.post(f"http://127.0.0.1:{port}/v1/ticks", content=data, headers=headers, timeout=30)
        assert r.status_code == 202, r.text
        os.kill(proc.pid, signal.SIGKILL)  # no shutdown hooks: only what was durable before the 2xx survives
        proc.join(30)
        assert proc.exitcode == -signal.SIGKILL
    finally:
        if proc.is_alive():
            proc.kill()
    batch = r.json()["batch_id"]
    [path] = [p for p in candidate_files(settings_env.ticks_landing)]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == batch and pq.read_table(path).num_rows == 120
    assert tenant_of_landing_path(path, settings_env.landing_dir) == "acme"
    leftover = path.parent / f".{batch}.parquet.999.dead.tmp"  # as if a second request died mid-write
    leftover.write_bytes(b"partial")

    # restart (in-process this time: what matters is that it starts from the disk state alone)
    from thunderline.ingress import ServeConfig, build_app
    from thunderline.ingress.server import ServerThread

    with ServerThread(build_app(settings_env, ServeConfig(relay=False))) as server:
        assert not leftover.exists()  # swept at start-up: it was never acknowledged
        again = httpx.post(f"{server.url}/v1/ticks", content=data, headers=headers, timeout=30)
        assert again.status_code == 202 and again.json() == {**r.json(), "duplicate": True}
        [marker] = (settings_env.ticks_landing / "tenant=acme" / ".ids").rglob(f".{batch}")
        marker.unlink()  # as if the first server had died between the file's rename and its marker
        third = httpx.post(f"{server.url}/v1/ticks", content=data, headers=headers, timeout=30)
        assert third.status_code == 202 and third.json() == {**r.json(), "duplicate": False}
    assert len(candidate_files(settings_env.ticks_landing)) == 2  # the same bytes twice on disk…

    first = process_landing(settings_env, "acme")  # …processed once: the index knows a file by its sha256
    assert first == {"new_files": 1, "rows": 120, "processed_files": 1}
    assert process_landing(settings_env, "acme") == {"new_files": 0, "rows": 120, "processed_files": 1}
    # the default tenant's run never picks up another tenant's files
    assert process_landing(settings_env, settings_env.tenant_id)["rows"] == 0


def test_a_failed_rename_leaves_nothing_visible(tmp_path, monkeypatch):
    landing = DurableLanding(tmp_path)
    t = ticks(5)

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        landing.write_ticks("acme", t)
    monkeypatch.undo()
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
    landed = landing.write_ticks("acme", t)
    assert landed.path.exists() and not landed.duplicate and landing.write_ticks("acme", t).duplicate


def test_tenant_is_read_back_from_the_landing_path(tmp_path):
    root = tmp_path / "landing"
    a = root / "ticks" / "tenant=acme" / "ab" / "x.parquet"
    b = root / "edgar" / "tenant=beta-2" / "cd" / "y.txt"
    plain = root / "ticks" / "dropped.csv"
    nested = root / "ticks" / "vendor" / "tenant=acme" / "z.csv"  # not directly below ticks/: not a tenant dir
    for p in (a, b, plain, nested):
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x")
    assert tenant_of_landing_path(a, root) == "acme" and tenant_of_landing_path(a) == "acme"
    assert tenant_of_landing_path(b, root) == "beta-2"
    assert tenant_of_landing_path(plain, root) is None and tenant_of_landing_path(nested, root) is None
    assert tenant_of_landing_path(tmp_path / "elsewhere" / "tenant=acme" / "f", root) is None
    files = candidate_files(root / "ticks")
    assert files_of_tenant(files, "acme", "default", root) == [a]
    assert files_of_tenant(files, "default", "default", root) == sorted([plain, nested])
    assert landing_tenants(root) == ["acme", "beta-2"]
