"""Workers share their ingress counters through small files: any worker reports the whole server."""

from __future__ import annotations

from thunderline.ingress.stats import IngressStats


class Clock:
    t = 1_000.0

    def __call__(self) -> float:
        return self.t


def test_each_worker_reports_its_siblings_counters_too(tmp_path):
    clock = Clock()
    a = IngressStats(share_dir=tmp_path, worker_id="11", clock=clock)
    b = IngressStats(share_dir=tmp_path, worker_id="22", clock=clock)
    a.request("acme", "post_ticks", 202, 3.0)
    a.accepted("acme", "sha-a", 1000, 5000, False)
    b.request("acme", "post_ticks", 202, 4.0)
    b.request("acme", "post_ticks", 429, 0.1)
    b.accepted("acme", "sha-b", 500, 2000, False)
    b.request("beta", "post_ticks", 202, 1.0)
    b.accepted("beta", "sha-c", 10, 100, False)
    assert a.view("acme")["ticks_accepted"] == 1000  # nothing published yet
    a.publish(), b.publish()
    a._peer_cache = b._peer_cache = (float("-inf"), [])  # skip the 0.5 s re-read cache
    for s in (a, b):
        v = s.view("acme")
        assert (v["ticks_accepted"], v["batches_accepted"], v["bytes_received"]) == (1500, 2, 7000)
        assert (v["requests"], v["rate_limited"]) == (3, 1) and v["ticks_per_s"] == 150.0
        assert sorted(sha for sha, _ in s.recent_batches("acme")) == ["sha-a", "sha-b"]
        assert s.tenants() == ["acme", "beta"]
        text = s.prometheus()
        assert 'thunderline_ingress_ticks_accepted_total{tenant="acme"} 1500' in text
        assert 'thunderline_ingress_ticks_accepted_total{tenant="beta"} 10' in text
        assert 'thunderline_ingress_requests_total{tenant="acme",endpoint="post_ticks",status="202"} 2' in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["11.json", "22.json"]


def test_without_a_share_dir_nothing_is_written_and_publish_skips_when_unchanged(tmp_path):
    s = IngressStats()
    s.accepted("acme", "x", 1, 1, False)
    s.publish()
    assert s.view("acme")["ticks_accepted"] == 1
    shared = IngressStats(share_dir=tmp_path / "w", worker_id="1")
    shared.publish()
    assert not (tmp_path / "w").exists()  # nothing happened yet: nothing to write
    shared.accepted("acme", "x", 1, 1, False)
    shared.publish()
    f = tmp_path / "w" / "1.json"
    before = f.stat().st_mtime_ns
    shared.publish()
    assert f.stat().st_mtime_ns == before
