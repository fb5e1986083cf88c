"""``thunderline serve --workers N``: several processes on one port, one rate-limit budget per tenant.

Real processes through the CLI (``python -m thunderline_cli.ingress_main serve``): a 2-worker server and
a separate 1-worker server on the same home. Both workers answer; POSTs spread over both
servers (and over the workers, on fresh connections) spend one shared budget — exactly
``--request-burst`` are accepted, the rest get 429 with Retry-After; exactly one worker holds
the relay lock.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from xdist_support import free_port

from thunderline.flow.landing import candidate_files
from thunderline.ingress import create_key
from thunderline.store import Warehouse

from .ticks import JSONL, jsonl, rows_of, ticks

REPO = Path(__file__).resolve().parents[2]


def _serve(env: dict, port: int, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "thunderline_cli.ingress_main", "serve", "--port", str(port),
                             "--log-level", "warning", "--requests-per-s", "0.001", "--request-burst", "5", *extra],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _healthy(proc: subprocess.Popen, port: int, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not become healthy")


@pytest.fixture
def home(tmp_path):
    env = {**os.environ, "THUNDERLINE_HOME": str(tmp_path), "THUNDERLINE_WAREHOUSE_URL": f"sqlite:///{tmp_path}/w.db"}
    for k in ("THUNDERLINE_LAKE_DIR", "THUNDERLINE_LANDING_DIR", "THUNDERLINE_TENANT", "THUNDERLINE_NATS_URL",
              "THUNDERLINE_REDIS_URL"):
        env.pop(k, None)
    wh = Warehouse(env["THUNDERLINE_WAREHOUSE_URL"])
    wh.init_schema()
    keys = {t: create_key(wh, t)[0] for t in ("acme", "beta")}
    wh.dispose()
    return tmp_path, env, keys


def test_two_workers_serve_and_share_one_rate_limit_budget(home):
    tmp, env, keys = home
    p2, p1 = free_port(), free_port()
    two = _serve(env, p2, "--workers", "2")
    one = _serve(env, p1, "--no-relay")  # another server on the same home: the same buckets
    try:
        _healthy(two, p2)
        _healthy(one, p1)
        workers = set()
        for _ in range(500):  # a fresh connection each time: the kernel hands them to either worker
            workers.add(httpx.get(f"http://127.0.0.1:{p2}/healthz", timeout=10).json()["worker"])
            if len(workers) == 2:
                break
        assert len(workers) == 2, workers
        # exactly one worker runs the outbox relay: it holds the lock
        with open(tmp / "ingress" / "relay.lock", "rb") as fh, pytest.raises(BlockingIOError):
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

        statuses, retry_after, accepted_on_two = [], [], 0
        for i in range(9):
            port = (p2, p1)[i % 3 == 2]  # two of every three to the 2-worker server, new connection each
            r = httpx.post(f"http://127.0.0.1:{port}/v1/ticks", content=jsonl(rows_of(ticks(20, seed=i, symbol=f"W{i}"))),
                           headers={"Authorization": f"Bearer {keys['acme']}", "Content-Type": JSONL}, timeout=30)
            statuses.append(r.status_code)
            accepted_on_two += 20 if (r.status_code == 202 and port == p2) else 0
            if r.status_code == 429:
                retry_after.append(int(r.headers["retry-after"]))
        assert sorted(statuses) == [202] * 5 + [429] * 4, statuses
        # whichever worker answers /metrics reports the whole 2-worker server (siblings publish each second)
        want = f'thunderline_ingress_ticks_accepted_total{{tenant="acme"}} {accepted_on_two}'
        assert accepted_on_two
        deadline = time.monotonic() + 30
        while want not in httpx.get(f"http://127.0.0.1:{p2}/metrics", timeout=10).text:
            assert time.monotonic() < deadline, want
            time.sleep(0.2)
        # both workers answer with the whole server's count once each has read its sibling's last publication
        # (each second when idle; later on a loaded host, so poll rather than sleep a fixed time)
        while True:
            texts = [httpx.get(f"http://127.0.0.1:{p2}/metrics", timeout=10).text for _ in range(20)]
            stale = [t for t in texts if want not in t]
            if not stale:
                break
            assert time.monotonic() < deadline + 30, stale[:1]
            time.sleep(0.5)
        assert all(s >= 1 for s in retry_after)
        assert len(candidate_files(tmp / "landing" / "ticks" / "tenant=acme")) == 5  # 429s wrote nothing
        r = httpx.post(f"http://127.0.0.1:{p2}/v1/ticks", content=jsonl(rows_of(ticks(20, seed=99))),
                       headers={"Authorization": f"Bearer {keys['beta']}", "Content-Type": JSONL}, timeout=30)
        assert r.status_code == 202  # another tenant's budget is its own
    finally:
        for p in (two, one):
            p.terminate()
        for p in (two, one):
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
    assert two.returncode is not None and one.returncode is not None


def test_serve_refuses_bad_worker_counts_and_redis_urls(home, monkeypatch, capsys):
    from thunderline_cli.ingress_main import main

    tmp, env, _ = home
    monkeypatch.setenv("THUNDERLINE_HOME", env["THUNDERLINE_HOME"])
    monkeypatch.setenv("THUNDERLINE_WAREHOUSE_URL", env["THUNDERLINE_WAREHOUSE_URL"])
    assert main(["serve", "--workers", "0"]) == 2 and "--workers" in capsys.readouterr().err
    monkeypatch.setenv("THUNDERLINE_REDIS_URL", "http://127.0.0.1:6379")
    assert main(["serve"]) == 2 and "THUNDERLINE_REDIS_URL" in capsys.readouterr().err
