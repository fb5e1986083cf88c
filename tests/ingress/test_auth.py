"""API keys: no key, wrong key, revoked key and cross-tenant attempts, on every endpoint and both backends."""

from __future__ import annotations

import sqlalchemy as sa
from publish.rows import decision_row, feature_row, seed

from thunderline.ingress.keys import KeyStore, hash_secret, parse_key, revoke_key, verify_secret

from .ticks import body, ticks

FILING = b"<SEC-DOCUMENT>0000320193-24-000001.txt : 20240102\n"

ENDPOINTS = [
    ("POST", "/v1/ticks"),
    ("POST", "/v1/filings"),
    ("GET", "/v1/decisions"),
    ("GET", "/v1/features"),
    ("GET", "/v1/dashboard/snapshot"),
    ("GET", "/v1/dashboard/stream"),
]


def _call(api, method, path, headers, params=None):
    if method == "POST":
        data, ctype = body("jsonl", ticks(5)) if path == "/v1/ticks" else (FILING, "application/octet-stream")
        return api.client.post(path, content=data, headers={"Content-Type": ctype, **headers}, params=params)
    if path.endswith("/stream"):
        with api.client.stream("GET", path, headers=headers, params=params) as r:
            return r
    return api.client.get(path, headers=headers, params=params)


def test_every_endpoint_refuses_missing_wrong_and_revoked_keys(api):
    tenant, key_id, secret = parse_key(api.keys["acme"])
    other = api.keys["beta"]
    wrong_secret = f"tlk.acme.{key_id}.{'A' * 43}"
    unknown_id = f"tlk.acme.{'0' * 16}.{secret}"
    spliced = f"tlk.acme.{parse_key(other)[1]}.{parse_key(other)[2]}"  # beta's id + secret, claimed for acme
    bad = {"no key": {}, "garbage": {"Authorization": "Bearer nope"}, "wrong secret": {"X-API-Key": wrong_secret},
           "unknown id": {"Authorization": f"Bearer {unknown_id}"}, "spliced": {"Authorization": f"Bearer {spliced}"}}
    for method, path in ENDPOINTS:
        for why, headers in bad.items():
            r = _call(api, method, path, headers)
            assert r.status_code == 401, (path, why, r.status_code)
            assert r.headers["www-authenticate"].startswith("Bearer")
    assert api.all_landed() == []

    store = KeyStore(api.warehouse)  # another process's view, like `thunderline keys revoke`
    assert _call(api, "GET", "/v1/decisions", api.auth("acme")).status_code == 200
    assert revoke_key(api.warehouse, "acme", key_id) and not revoke_key(api.warehouse, "acme", key_id)
    for method, path in ENDPOINTS:
        assert _call(api, method, path, api.auth("acme")).status_code == 401, path
    assert store.authenticate(api.keys["acme"]) is None
    assert _call(api, "GET", "/v1/decisions", api.auth("beta")).status_code == 200
    assert api.all_landed() == []


def test_cross_tenant_attempts_are_refused_on_every_endpoint(api):
    for method, path in ENDPOINTS:
        r = _call(api, method, path, api.auth("acme"), params={"tenant": "beta"})
        assert r.status_code == 403, path
        r = _call(api, method, path, {**api.auth("acme"), "X-Thunderline-Tenant": "beta"})
        assert r.status_code == 403, path
    # a payload naming another tenant is refused whole, in every format
    t = ticks(5)
    rows = [{**r, "tenant_id": "beta" if i == 3 else "acme"} for i, r in enumerate(body_rows(t))]
    from .ticks import CSV, JSONL, csv, jsonl

    r = api.client.post("/v1/ticks", content=jsonl(rows), headers={**api.auth("acme"), "Content-Type": JSONL})
    assert r.status_code == 403 and r.json()["problems"][0] == {**r.json()["problems"][0], "row": 4, "field": "tenant_id"}
    cols = ["tenant_id"] + [c for c in rows[0] if c != "tenant_id"]
    r = api.client.post("/v1/ticks", content=csv(rows, cols), headers={**api.auth("acme"), "Content-Type": CSV})
    assert r.status_code == 403 and r.json()["problems"][0]["row"] == 5  # header is line 1
    assert api.all_landed() == []
    # naming one's own tenant is fine; the rows land under the key's tenant only
    own = [{**r, "tenant_id": "acme"} for r in body_rows(t)]
    r = api.client.post("/v1/ticks", content=jsonl(own), headers={**api.auth("acme"), "Content-Type": JSONL})
    assert r.status_code == 202 and r.json()["tenant"] == "acme"
    assert len(api.landed("acme")) == 1 and api.landed("beta") == []


def body_rows(t):
    from .ticks import rows_of

    return rows_of(t)


def test_reads_only_ever_see_the_keys_tenant(api):
    seed(api.warehouse, "acme", [decision_row("acme", i) for i in range(3)], [feature_row("acme", i) for i in range(2)])
    seed(api.warehouse, "beta", [decision_row("beta", i) for i in range(5)], [feature_row("beta", i) for i in range(4)])
    for tenant, nd, nf in (("acme", 3, 2), ("beta", 5, 4)):
        d = api.client.get("/v1/decisions", headers=api.auth(tenant)).json()
        f = api.client.get("/v1/features", headers=api.auth(tenant)).json()
        assert d["count"] == nd and {x["tenant_id"] for x in d["items"]} == {tenant}
        assert f["count"] == nf and {x["tenant_id"] for x in f["items"]} == {tenant}
        snap = api.client.get("/v1/dashboard/snapshot", headers=api.auth(tenant)).json()
        assert snap["tenant"] == tenant


def test_keys_are_stored_only_as_salted_hashes(api):
    _, key_id, secret = parse_key(api.keys["acme"])
    with api.warehouse.session("acme") as s:
        rows = s.select("api_keys")
    assert len(rows) == 1 and rows[0]["id"] == key_id
    stored = rows[0]["hash"]
    assert secret not in stored and api.keys["acme"] not in str(rows[0])
    assert stored.startswith("scrypt$") and verify_secret(secret, stored) and not verify_secret(secret + "x", stored)
    assert hash_secret(secret) != hash_secret(secret)  # salted
    with api.warehouse.session("beta") as s:  # tenant-scoped like every table
        assert all(r["tenant_id"] == "beta" for r in s.select("api_keys"))
        t = s.table("api_keys")
        assert s.conn.execute(sa.select(sa.func.count()).select_from(t).where(t.c.tenant_id == "beta")).scalar_one() == 1
