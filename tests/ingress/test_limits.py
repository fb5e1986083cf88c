"""Over HTTP: landing, validation errors write nothing, size and row limits, per-tenant rate limits, filings, metrics.

These touch no warehouse rows beyond the key lookup and run on SQLite only; the landing →
warehouse path is exercised on both backends by test_durability, reads by test_reads.
"""

from __future__ import annotations

import pyarrow.parquet as pq

from .ticks import JSONL, body, jsonl, rows_of, ticks


def post(api, tenant, data, ctype=JSONL, **kw):
    return api.client.post("/v1/ticks", content=data, headers={**api.auth(tenant), "Content-Type": ctype}, **kw)


def test_accepted_batch_lands_as_canonical_parquet_under_its_tenant(http_api_factory):
    api = http_api_factory()
    t = ticks(30)
    r = post(api, "acme", *body("csv", t)[:1], ctype="text/csv")
    assert r.status_code == 202, r.text
    j = r.json()
    assert j["rows"] == 30 and j["tenant"] == "acme" and j["duplicate"] is False and j["symbols"] == ["SYN"]
    [path] = api.landed("acme")
    assert path.name.endswith(f"-{j['batch_id']}.parquet") and path.parent.parent.name == "tenant=acme"
    got = pq.read_table(path)
    assert got.num_rows == 30 and set(got.column("tenant_id").to_pylist()) == {"acme"}
    again = post(api, "acme", body("jsonl", t)[0])  # same ticks, another encoding: the same batch
    assert again.status_code == 202 and again.json()["duplicate"] is True and again.json()["batch_id"] == j["batch_id"]
    assert len(api.landed()) == 1


def test_invalid_bodies_write_nothing(http_api_factory):
    api = http_api_factory()
    rows = rows_of(ticks(8))
    rows[5]["trade_side"] = 3
    r = post(api, "acme", jsonl(rows))
    assert r.status_code == 422
    j = r.json()
    assert j["written"] == 0 and j["problems"][0]["row"] == 6 and j["problems"][0]["field"] == "trade_side"
    assert "row 6, field trade_side" in j["message"]
    assert post(api, "acme", b"<ticks/>", ctype="application/xml").status_code == 415
    assert api.all_landed() == []


def test_size_and_row_limits(http_api_factory):
    api = http_api_factory(max_body_bytes=20_000, max_rows=40)
    big, _ = body("jsonl", ticks(200))
    r = post(api, "acme", big)
    assert r.status_code == 413 and r.json()["error"] == "body_too_large"

    def chunks():  # no Content-Length: the limit is enforced while reading
        for i in range(0, len(big), 4096):
            yield big[i : i + 4096]

    r = api.client.post("/v1/ticks", content=chunks(), headers={**api.auth("acme"), "Content-Type": JSONL})
    assert r.status_code == 413
    small = jsonl(rows_of(ticks(60))[:45])
    assert len(small) < 20_000
    r = post(api, "acme", small)
    assert r.status_code == 413 and r.json()["error"] == "too_many_rows"
    assert api.all_landed() == []
    assert post(api, "acme", jsonl(rows_of(ticks(60))[:40])).status_code == 202


def test_rate_limits_are_per_tenant_with_retry_after(http_api_factory):
    api = http_api_factory(request_burst=2, requests_per_s=0.01, tick_burst=100, ticks_per_s=0.01)
    a, b = jsonl(rows_of(ticks(60, seed=1))), jsonl(rows_of(ticks(60, seed=2)))
    assert post(api, "acme", a).status_code == 202
    r = post(api, "acme", b)  # 2nd request allowed, but 60 + 60 ticks > the tick burst of 100
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1 and r.json()["retry_after_s"] >= 1
    r = post(api, "acme", b)  # 3rd request: over the request burst
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert len(api.landed("acme")) == 1
    assert post(api, "beta", b).status_code == 202  # another tenant's buckets are its own


FILING = (b"<SEC-DOCUMENT>0000320193-24-000123.txt : 20240201\n<SEC-HEADER>0000320193-24-000123.hdr.sgml : 20240201\n"
          b"ACCESSION NUMBER:\t\t0000320193-24-000123\n</SEC-HEADER>\n</SEC-DOCUMENT>\n")


def test_filings_land_durably_or_are_refused(http_api_factory):
    api = http_api_factory()
    r = api.client.post("/v1/filings", content=FILING, params={"name": "0000320193-24-000123.txt"},
                        headers={**api.auth("acme"), "Content-Type": "text/plain"})
    assert r.status_code == 202, r.text
    assert r.json()["kind"] == "submission"
    files = [p for p in api.all_landed() if "edgar" in p.parts]
    assert len(files) == 1 and files[0].read_bytes() == FILING and "tenant=acme" in files[0].parts
    r = api.client.post("/v1/filings", files={"file": ("x.txt", FILING, "text/plain")}, headers=api.auth("beta"))
    assert r.status_code == 202 and r.json()["filing_id"] in files[0].name
    assert len([p for p in api.all_landed() if "tenant=beta" in p.parts]) == 1
    r = api.client.post("/v1/filings", content=b"\x00\x01\x02 binary", headers=api.auth("acme"))
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "file"
    assert len(api.all_landed()) == 2


def test_healthz_and_metrics(http_api_factory):
    api = http_api_factory()
    assert api.client.get("/healthz").json()["status"] == "ok"
    post(api, "acme", jsonl(rows_of(ticks(10))))
    post(api, "acme", b"{}", ctype="application/xml")
    text = api.client.get("/metrics").text
    assert 'thunderline_ingress_ticks_accepted_total{tenant="acme"} 10' in text
    assert 'thunderline_ingress_requests_total{tenant="acme",endpoint="post_ticks",status="415"} 1' in text
    assert "thunderline_ingress_request_ms" in text
