"""Rate-limit stores: in memory, a shared bucket file (one budget across processes), Redis (opt-in)."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import uuid

import pytest
from xdist_support import free_port

from thunderline.ingress.ratelimit import Limit, RateLimiter, RedisRateLimiter, SharedRateLimiter


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _limiters(tmp_path, limits, clock):
    return [RateLimiter(limits, clock=clock), SharedRateLimiter(tmp_path / "buckets", limits, clock=clock)]


def test_memory_and_shared_buckets_behave_alike(tmp_path):
    limits = {"requests": Limit(rate=2.0, burst=3.0), "ticks": Limit(rate=100.0, burst=500.0)}
    clock = Clock()
    for lim in _limiters(tmp_path, limits, clock):
        clock.t = 1000.0 if isinstance(lim, RateLimiter) else 2000.0
        assert [lim.take("acme", "requests") for _ in range(4)] == [0, 0, 0, 1]  # 0.5 s to one token: Retry-After 1
        assert lim.take("beta", "requests") == 0  # another tenant, another bucket
        clock.t += 0.5
        assert lim.take("acme", "requests") == 0 and lim.take("acme", "requests") == 1
        assert lim.take("acme", "ticks", 400) == 0 and lim.take("acme", "ticks", 400) == 3  # 300 short at 100/s
        assert lim.take("acme", "ticks", 10_000) >= 1  # never fits the burst
        assert lim.take("acme", "unlimited") == 0
        lim.close()


def test_the_shared_file_is_one_budget_and_survives_reopening(tmp_path):
    limits = {"requests": Limit(rate=0.001, burst=4)}
    a = SharedRateLimiter(tmp_path / "b", limits)
    b = SharedRateLimiter(tmp_path / "b", limits)  # another process's view of the same file
    got = [a.take("acme", "requests"), b.take("acme", "requests"), a.take("acme", "requests"), b.take("acme", "requests")]
    assert got == [0, 0, 0, 0] and a.take("acme", "requests") > 0 and b.take("acme", "requests") > 0
    a.close(), b.close()
    again = SharedRateLimiter(tmp_path / "b", limits)  # a restart does not refill the bucket
    assert again.take("acme", "requests") > 0 and again.take("beta", "requests") == 0
    again.close()
    (tmp_path / "junk").write_bytes(b"not a bucket file")
    fresh = SharedRateLimiter(tmp_path / "junk", limits)  # a foreign file is started over, not misread
    assert fresh.take("acme", "requests") == 0
    fresh.close()


def test_many_tenants_fit_and_an_overfull_table_recycles_idle_buckets(tmp_path):
    clock = Clock()
    lim = SharedRateLimiter(tmp_path / "b", {"requests": Limit(rate=1.0, burst=1)}, clock=clock, slots=64)
    for i in range(500):
        clock.t += 0.001
        assert lim.take(f"t{i}", "requests") == 0
    lim.close()


_HAMMER = textwrap.dedent("""
    import sys
    from thunderline.ingress.ratelimit import Limit, SharedRateLimiter
    lim = SharedRateLimiter(sys.argv[1], {"requests": Limit(rate=0.0001, burst=150)})
    print(sum(lim.take("acme", "requests") == 0 for _ in range(200)))
""")


def test_two_processes_racing_on_the_file_spend_exactly_one_budget(tmp_path):
    path = str(tmp_path / "buckets")
    procs = [subprocess.Popen([sys.executable, "-c", _HAMMER, path], stdout=subprocess.PIPE, text=True)
             for _ in range(3)]
    allowed = [int(p.communicate(timeout=60)[0]) for p in procs]
    assert sum(allowed) == 150, allowed


def _redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_up(), reason="no Redis on 127.0.0.1:6379")
def test_redis_buckets_are_shared_and_an_outage_falls_back_to_the_file(tmp_path):
    limits = {"requests": Limit(rate=0.001, burst=3)}
    prefix = f"thunderline-test:{uuid.uuid4().hex}"
    fallback = SharedRateLimiter(tmp_path / "b", limits)
    a = RedisRateLimiter("redis://127.0.0.1:6379/0", limits, fallback=fallback, prefix=prefix)
    b = RedisRateLimiter("redis://127.0.0.1:6379/0", limits, fallback=SharedRateLimiter(tmp_path / "c", limits),
                         prefix=prefix)
    assert [a.take("acme", "requests"), b.take("acme", "requests"), a.take("acme", "requests")] == [0, 0, 0]
    assert b.take("acme", "requests") >= 1 and a.take("acme", "requests") >= 1
    assert fallback.take("acme", "requests") == 0  # the file was not touched while Redis answered
    a.close(), b.close()

    dead = free_port()  # a port nobody listens on (nor will another xdist worker: xdist_support)
    fb = SharedRateLimiter(tmp_path / "d", limits)
    down = RedisRateLimiter(f"redis://127.0.0.1:{dead}/0", limits, fallback=fb, prefix=prefix)
    assert [down.take("acme", "requests") for _ in range(4)][:3] == [0, 0, 0]
    assert down.take("acme", "requests") >= 1  # the fallback file's budget, not "no limit"
    down.close()
