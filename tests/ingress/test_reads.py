"""GET /v1/decisions and /v1/features: filters by symbol/kind/key and time, keyset pagination, parameter errors."""

from __future__ import annotations

from publish.rows import T0, decision_row, feature_row, seed


def pages(api, path, **params):
    out, cursor, n = [], None, 0
    while True:
        q = {**params, **({"cursor": cursor} if cursor else {})}
        j = api.client.get(path, headers=api.auth("acme"), params=q).json()
        out.append([x["id"] for x in j["items"]])
        cursor = j["next_cursor"]
        n += 1
        if not cursor or n > 20:
            return out


def test_decisions_filter_and_paginate(api):
    rows = [decision_row("acme", i, symbol="AAPL" if i < 7 else "MSFT") for i in range(10)]
    seed(api.warehouse, "acme", rows)
    aapl = [r["id"] for r in sorted(rows[:7], key=lambda r: (r["window_start"], r["id"]))]
    got = pages(api, "/v1/decisions", symbol="AAPL", limit=3)
    assert [len(p) for p in got] == [3, 3, 1] and sum(got, []) == aapl
    minute = 60_000_000
    j = api.client.get("/v1/decisions", headers=api.auth("acme"),
                       params={"from": T0 + 2 * minute, "to": T0 + 5 * minute}).json()
    assert [x["window_start_us"] for x in j["items"]] == [T0 + k * minute for k in (2, 3, 4)]
    iso = api.client.get("/v1/decisions", headers=api.auth("acme"),
                         params={"from": "2024-01-02T14:38:00Z", "symbol": "MSFT"}).json()
    assert [x["symbol"] for x in iso["items"]] == ["MSFT", "MSFT"]
    item = j["items"][0]
    assert item["type"] == "decision_trace" and item["blended_action"] == "buy" and item["tenant_id"] == "acme"
    for bad in ({"limit": "0"}, {"limit": "5000"}, {"from": "yesterday"}, {"cursor": "zz"}, {"symbol": "a/b"}):
        r = api.client.get("/v1/decisions", headers=api.auth("acme"), params=bad)
        assert r.status_code == 400, bad
        assert r.json()["error"] == "bad_parameter"


def test_features_filter_and_paginate(api):
    seed(api.warehouse, "acme", features=[feature_row("acme", i, key="AAPL" if i % 2 else "MSFT") for i in range(9)])
    got = pages(api, "/v1/features", key="AAPL", kind="market", limit=2)
    assert [len(p) for p in got] == [2, 2] and len(set(sum(got, []))) == 4
    j = api.client.get("/v1/features", headers=api.auth("acme"), params={"symbol": "MSFT", "limit": 1}).json()
    assert j["items"][0]["features"] == {"ofi": 1.0, "spread": None} and j["next_cursor"]
    assert api.client.get("/v1/features", headers=api.auth("acme"), params={"kind": "x"}).status_code == 400
    assert api.client.get("/v1/features", headers=api.auth("acme"), params={"kind": "edgar"}).json()["items"] == []
