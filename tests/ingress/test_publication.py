"""``thunderline serve`` relays every decision and window written to the warehouse, by anyone, once."""

from __future__ import annotations

import time

from publish.rows import decision_row, feature_row, seed


def test_serve_publishes_what_any_writer_stores(api_factory):
    api = api_factory(relay=True, relay_poll_s=0.05)
    got = []
    api.publisher.subscribe("thunderline.*.>", got.append)
    # the relay serves the tenants whose keys it has seen (plus configured ones and landing directories)
    for t in ("acme", "beta"):
        assert api.client.get("/v1/decisions", headers=api.auth(t)).status_code == 200
    seed(api.warehouse, "acme", [decision_row("acme", i) for i in range(6)], [feature_row("acme", 0)])
    seed(api.warehouse, "beta", [decision_row("beta", i) for i in range(2)])
    for _ in range(600):  # bounded wait for the background relay (delivery, then bookkeeping)
        if len(got) >= 9 and "thunderline_publish_sent_total 9" in api.client.get("/metrics").text:
            break
        time.sleep(0.05)
    subjects = sorted(m.subject for m in got)
    assert len(got) == 9 and len({m.id for m in got}) == 9
    assert subjects.count("thunderline.acme.decisions.AAPL") == 6 and subjects.count("thunderline.beta.decisions.AAPL") == 2
    assert "thunderline.acme.features.AAPL" in subjects
    assert "thunderline_publish_sent_total 9" in api.client.get("/metrics").text
