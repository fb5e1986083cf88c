"""The EDGAR poller against a local SEC stand-in serving the real Worlds Inc. filings.

Exactly-once landing through 429 bursts, 503s, truncated bodies and slow answers; the server
measures the request rate; the landed filings ingest with the acceptance times SEC's data gives.
Runs on SQLite and PostgreSQL (the download queue is a warehouse table).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path

import dagster as dg
import pytest

from thunderline.edgar import times
from thunderline.sources.edgar_poller import PollRequest, poller_from_settings, record_poll
from thunderline.sources.sec_http import SecClient, SecClientConfig, SecConfigError, SecFetchError, parse_retry_after
from thunderline.store import Warehouse

REPO = Path(__file__).resolve().parents[2]
SINCE = "2016-01-01"
FORMS = ("10-K", "10-Q", "8-K")


def _txt_path(f) -> str:
    return f"/Archives/edgar/data/{f.cik}/{f.accession.replace('-', '')}/{f.accession}.txt"


def _rows(settings, table="edgar_downloads"):
    wh = Warehouse(settings.warehouse_url)
    with wh.session(settings.tenant_id) as s:
        rows = s.select(table)
    wh.dispose()
    return rows


def _landed(settings) -> dict[str, str]:
    root = settings.edgar_landing
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _ingest(settings):
    """Index the landing area and run the EDGAR partitions, as ``thunderline ingest`` does."""
    from resources import build_resources
    from thunderline.flow.edgar_partition import landing_classifier, submissions_first
    from thunderline.flow.landing import candidate_files, index_files
    from thunderline_assets.definitions import build_definitions

    wh = Warehouse(settings.warehouse_url)
    wh.init_schema()
    with wh.session(settings.tenant_id) as s:
        landed = index_files(s, "edgar", submissions_first(candidate_files(settings.edgar_landing)), landing_classifier(s))
    wh.dispose()
    resources = build_resources(settings)
    job = build_definitions(resources=resources).resolve_job_def("edgar_partition_job")
    with dg.instance_for_test() as instance:
        for m in sorted({p for f in landed for p in f.partitions}):
            assert job.execute_in_process(partition_key=f"{m}-01", instance=instance, resources=resources).success
    return landed


def test_fetch_lands_each_filing_once_through_faults(sec_env, sec):
    settings = sec_env
    f16, f17, f18 = sec.filings
    sec.fault(_txt_path(f16), ("429", 1), ("429", 0), ("429", 1), ("429", None), ("429", 0))  # a burst of 429s
    sec.fault(_txt_path(f17), ("truncate", 0.4), ("503", None), ("truncate", 0.9))
    sec.fault(_txt_path(f18), ("slow", 0.5))  # answers late, but answers
    sec.fault("/submissions/CIK0000001961.json", ("503", 0))
    poller = poller_from_settings(settings)
    try:
        report = poller.poll(PollRequest(1961, FORMS, SINCE))
        record_poll(poller, report)
    finally:
        poller.close()
    assert report.failed == [] and report.selected == 3 and report.enqueued == 3 and report.landed == 3
    landed = _landed(settings)
    expected = {f"cik=0000001961/{f.accession}.txt": hashlib.sha256(f.body).hexdigest() for f in sec.filings}
    assert {k: v for k, v in landed.items() if k.endswith(".txt")} == expected  # byte-identical, no .part left
    assert set(landed) == set(expected) | {"cik=0000001961/CIK0000001961.json"}
    rows = {r["id"]: r for r in _rows(settings)}
    for f in sec.filings:
        r = rows[f"{f.accession}/{f.accession}.txt"]
        assert (r["status"], r["sha256"], r["bytes"]) == ("done", hashlib.sha256(f.body).hexdigest(), len(f.body))
        assert r["accepted_at"] == times.parse_sgml_acceptance(f.acceptance)  # the JSON's false Z read as Eastern
    # selection: decoy forms and the older page before --since were never asked for
    asked = {h.path for h in sec.hits}
    assert "/submissions/CIK0000001961-submissions-002.json" not in asked
    assert not [p for p in asked if p.startswith("/Archives") and not p.endswith(".txt")]
    assert all("@" in h.user_agent for h in sec.hits)
    assert sec.max_per_window(1.0) <= 10
    # the truncated body was resumed from where it stopped (Range), not restarted
    assert any(h.range and h.status == 206 for h in sec.requests_of(_txt_path(f17)))
    n = len(sec.hits)
    poller = poller_from_settings(settings)  # a second poll: nothing new, the JSON unchanged (304)
    try:
        again = poller.poll(PollRequest(1961, FORMS, SINCE))
    finally:
        poller.close()
    assert (again.enqueued, again.landed, again.submissions_status) == (0, 0, 304)
    assert [h.path for h in sec.hits[n:]] == ["/submissions/CIK0000001961.json",
                                             "/submissions/CIK0000001961-submissions-001.json"]
    events = {r["name"]: r["value"] for r in _rows(settings, "telemetry_events")}
    assert events["source.edgar.filings_landed"] == 3 and events["source.edgar.throttled"] == 7  # 5 x 429 + 2 x 503
    assert events["source.edgar.queue_depth"] == 0 and events["source.edgar.lag_s"] > 0
    # the landed filings ingest with SEC's acceptance times (SGML), not end-of-day guesses
    files = _ingest(settings)
    assert all(f.status != "rejected" for f in files)
    docs = {d["accession"]: d for d in _rows(settings, "raw_edgar_docs")}
    assert set(docs) == {f.accession for f in sec.filings}
    for f in sec.filings:
        assert docs[f.accession]["accepted_at"] == times.parse_sgml_acceptance(f.acceptance)
        assert docs[f.accession]["meta"]["accepted_at_rule"] == times.RULE_SGML


def _fetch_cmd(*extra) -> list[str]:
    return [str(REPO / ".venv" / "bin" / "thunderline"), "edgar", "fetch", "--cik", "1961", "--forms", ",".join(FORMS),
            "--since", SINCE, *extra]


def test_kill_9_mid_download_resumes_without_duplicates_or_gaps(sec_env, sec):
    settings = sec_env
    f16, f17, f18 = sec.filings
    sec.trickle[".txt"] = 0.03  # ~2 MB/s: slow enough to be killed inside the second filing
    proc = subprocess.Popen(_fetch_cmd(), env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            hits = sec.requests_of(_txt_path(f17))
            if hits and hits[-1].sent > 400_000:
                break
            assert proc.poll() is None, proc.stdout.read().decode()
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(30)
    part = settings.edgar_landing / "cik=0000001961" / f".{f17.accession}.txt.part"
    assert part.exists() and 0 < part.stat().st_size < len(f17.body)
    assert not (settings.edgar_landing / "cik=0000001961" / f"{f17.accession}.txt").exists()
    claimed = [r for r in _rows(settings) if r["status"] == "claimed"]
    assert [r["accession"] for r in claimed] == [f17.accession]
    sec.trickle.clear()
    n = len(sec.hits)
    out = subprocess.run(_fetch_cmd(), env=dict(os.environ), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    after = sec.hits[n:]
    archive = [h for h in after if h.path.startswith("/Archives")]
    assert [h.path for h in archive] == [_txt_path(f17), _txt_path(f18)]  # f16 was done: never fetched again
    assert archive[0].range and archive[0].status == 206  # the killed body continued, not restarted
    landed = _landed(settings)
    assert {k: v for k, v in landed.items() if k.endswith(".txt")} == {
        f"cik=0000001961/{f.accession}.txt": hashlib.sha256(f.body).hexdigest() for f in sec.filings}
    assert not [k for k in landed if ".part" in k]
    assert sorted(r["status"] for r in _rows(settings) if r["kind"] == "filing") == ["done"] * 3


def test_two_pollers_share_one_rate_budget_and_each_file_lands_once(sec_env, sec):
    """Two processes poll the same company at once (primary documents + index headers): the queue
    gives each file to one of them, and together they stay under 10 requests/s at the server."""
    settings = sec_env
    cmd = _fetch_cmd("--documents", "primary")
    procs = [subprocess.Popen(cmd, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    archive = [h for h in sec.hits if h.path.startswith("/Archives")]
    assert len(archive) == 6 and len({h.path for h in archive}) == 6  # 3 filings x (index headers + primary)
    assert sec.max_per_window(1.0) <= 10
    landed = _landed(settings)
    for f in sec.filings:
        assert f"cik=0000001961/{f.accession}/{f.primary}" in landed
        assert f"cik=0000001961/{f.accession}/{f.accession}-index-headers.html" in landed
    files = _ingest(settings)
    assert {f.format for f in files} >= {"edgar_sidecar", "html", "submissions_json"}
    docs = {d["accession"]: d for d in _rows(settings, "raw_edgar_docs")}
    assert set(docs) == {f.accession for f in sec.filings}
    for f in sec.filings:
        d = docs[f.accession]
        assert d["accepted_at"] == times.parse_sgml_acceptance(f.acceptance) and d["cik"] == 1961
        assert d["meta"]["sidecar"] == f"{f.accession}-index-headers.html" and {"1A", "7"} <= set(d["sections"])


def test_client_refuses_without_contact_and_parses_retry_after():
    with pytest.raises(SecConfigError, match="THUNDERLINE_SEC_USER_AGENT"):
        SecClientConfig(user_agent="python-requests/2.31")
    with pytest.raises(SecConfigError, match="at most 10"):
        SecClientConfig(user_agent="a b@c.io", max_rps=25)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(10.0)
    assert parse_retry_after("soon") is None


def test_not_found_is_final_and_403_without_user_agent(sec):
    client = SecClient(SecClientConfig(user_agent="Thunderline tests ops@example.com", max_attempts=3),
                       sleep=lambda s: None)
    with pytest.raises(SecFetchError) as exc:
        client.get(f"{sec.url}/Archives/edgar/data/1961/000126493114000010/0001264931-14-000010.txt")
    assert exc.value.status == 404 and not exc.value.retryable
    assert len(sec.hits) == 1  # a 404 is not retried


def test_edgar_poll_sensor_lands_watched_companies(sec_env, sec, monkeypatch):
    from sensors.edgar_poll import build_edgar_poll_sensor, evaluate_edgar_poll
    from thunderline.config import load_settings

    sensor = build_edgar_poll_sensor(10)
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED  # it talks to SEC: opt in
    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(instance=instance)
        assert "names no CIK" in evaluate_edgar_poll(ctx, sec_env).skip_message
        monkeypatch.setenv("THUNDERLINE_SEC_WATCH", "1961")
        monkeypatch.setenv("THUNDERLINE_SEC_SINCE", "2017-01-01")
        res = evaluate_edgar_poll(ctx, load_settings())
    assert "2 files landed" in res.skip_message
    landed = _landed(sec_env)
    assert sorted(k for k in landed if k.endswith(".txt")) == [
        f"cik=0000001961/{f.accession}.txt" for f in sec.filings[1:]]
