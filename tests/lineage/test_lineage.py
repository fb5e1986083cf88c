"""Lineage on both backends: idempotent recording, one-CTE walks up and down, depth, cycles, tenants, OpenLineage, CLI."""

import json

import pytest

from thunderline.lineage import (
    Edge,
    LineageError,
    describe,
    expert_version_node,
    node_kind,
    record_edges,
    walk,
)

BATCH, OTHER_BATCH, FILING = "batch-2024-01-AMZN-0001", "batch-2024-01-AMZN-0002", "edgar-0001018724-24-000008"
WINDOW, TRACE = "fw-AMZN-20240102T1430", "dt-AMZN-20240102T1430-r7"
EXPERT = expert_version_node("momentum", 3)
ROUTER = "router-r7"


def chain():
    return [
        Edge("tick_batch", BATCH, "feature_window", WINDOW, "feature_input", {"seq": [10, 900]}),
        Edge("edgar_doc", FILING, "feature_window", WINDOW, "feature_input", {"accession": "0001018724-24-000008"}),
        Edge("feature_window", WINDOW, "decision_trace", TRACE, "decided_on"),
        Edge("decision_trace", TRACE, "expert_version", EXPERT, "scored_by"),
        Edge("router_version", ROUTER, "decision_trace", TRACE, "routed_by"),
        # a batch that fed a different window: must not show up from TRACE
        Edge("tick_batch", OTHER_BATCH, "feature_window", "fw-AMZN-20240102T1431", "feature_input"),
    ]


@pytest.fixture
def seeded(warehouse):
    with warehouse.session("a") as s:
        assert record_edges(s, chain()) == 6
    return warehouse


def nodes(steps):
    return {s.node_id: (s.kind, s.depth, s.relation) for s in steps}


def test_recording_is_idempotent(seeded):
    with seeded.session("a") as s:
        assert record_edges(s, chain() + chain()) == 6  # duplicates in one batch collapse
        assert s.count("lineage_edges") == 6
        record_edges(s, [Edge("tick_batch", BATCH, "feature_window", WINDOW, "feature_input", {"seq": [10, 901]})])
        rows = s.select("lineage_edges", s.table("lineage_edges").c.from_id == BATCH)
    assert len(rows) == 1 and rows[0]["meta"] == {"seq": [10, 901]}  # meta updated, identity kept
    assert Edge("tick_batch", BATCH, "feature_window", WINDOW, "feature_input").edge_id("a") == rows[0]["id"]
    assert Edge("tick_batch", BATCH, "feature_window", WINDOW, "feature_input").edge_id("b") != rows[0]["id"]


def test_walk_up_from_trace_finds_the_exact_batch_and_filing(seeded):
    with seeded.session("a") as s:
        up = walk(s, TRACE, "up", depth=5)
    assert nodes(up) == {
        WINDOW: ("feature_window", 1, "decided_on"),
        ROUTER: ("router_version", 1, "routed_by"),
        BATCH: ("tick_batch", 2, "feature_input"),
        FILING: ("edgar_doc", 2, "feature_input"),
    }
    assert OTHER_BATCH not in nodes(up)
    assert [s.depth for s in up] == sorted(s.depth for s in up)
    assert {s.via for s in up if s.depth == 2} == {WINDOW}


def test_walk_down_from_batch_finds_trace_and_expert(seeded):
    with seeded.session("a") as s:
        down = walk(s, BATCH, "down", depth=5)
    assert nodes(down) == {
        WINDOW: ("feature_window", 1, "feature_input"),
        TRACE: ("decision_trace", 2, "decided_on"),
        EXPERT: ("expert_version", 3, "scored_by"),
    }


def test_depth_limits_the_walk(seeded):
    with seeded.session("a") as s:
        assert set(nodes(walk(s, BATCH, "down", depth=1))) == {WINDOW}
        assert set(nodes(walk(s, BATCH, "down", depth=2))) == {WINDOW, TRACE}
        assert set(nodes(walk(s, EXPERT, "up", depth=2))) == {TRACE, WINDOW, ROUTER}
        with pytest.raises(ValueError):
            walk(s, BATCH, "down", depth=0)
        with pytest.raises(ValueError):
            walk(s, BATCH, "sideways")


def test_cycles_terminate(warehouse):
    # s → n0 → n1 → n2 → n0 (a ring behind a tail)
    ring = ["n0", "n1", "n2"]
    with warehouse.session("a") as s:
        record_edges(s, [Edge("nas_candidate", "s", "nas_candidate", "n0", "mutated_into")]
                     + [Edge("nas_candidate", ring[i], "nas_candidate", ring[(i + 1) % 3], "mutated_into")
                        for i in range(3)])
        down = walk(s, "s", "down", depth=50)
        text = describe(s, "s", "down", 50)
        around = walk(s, "n0", "down", depth=50)
    assert [(x.node_id, x.depth, x.via) for x in down] == [("n0", 1, "s"), ("n1", 2, "n0"), ("n2", 3, "n1"),
                                                             ("n0", 4, "n2")]
    assert text.splitlines()[-1].endswith("nas_candidate n0  [mutated_into]  (cycle)")
    assert len(text.splitlines()) == 5
    assert [(x.node_id, x.depth) for x in around] == [("n1", 1), ("n2", 2)]  # the start node is never returned


def test_another_tenant_sees_nothing(seeded):
    with seeded.session("b") as s:
        assert walk(s, TRACE, "up", 5) == []
        assert walk(s, BATCH, "down", 5) == []
        assert node_kind(s, TRACE) is None and describe(s, TRACE) is None
        # b records the same edge: its own row, a's untouched
        record_edges(s, [Edge("feature_window", WINDOW, "decision_trace", TRACE, "decided_on")])
        assert set(nodes(walk(s, TRACE, "up", 5))) == {WINDOW}
    with seeded.session("a") as s:
        assert s.count("lineage_edges") == 6


def test_bad_edges_are_refused_with_their_position(warehouse):
    with warehouse.session("a") as s:
        with pytest.raises(LineageError, match=r"edge #1 .*to_kind 'feature_windw'"):
            record_edges(s, [chain()[0], Edge("tick_batch", BATCH, "feature_windw", WINDOW, "feature_input")])
        with pytest.raises(LineageError, match="thunderline.expert.<name>/<version>"):
            record_edges(s, [Edge("decision_trace", TRACE, "expert_version", "momentum-v3", "scored_by")])
        assert s.count("lineage_edges") == 0


def test_tree_printer(seeded):
    with seeded.session("a") as s:
        text = describe(s, TRACE, "up", 5)
    assert text.splitlines() == [
        f"decision_trace {TRACE}  — inputs (upstream), depth ≤ 5",
        f"├── feature_window {WINDOW}  [decided_on]",
        f"│   ├── edgar_doc {FILING}  [feature_input]",
        f"│   └── tick_batch {BATCH}  [feature_input]",
        f"└── router_version {ROUTER}  [routed_by]",
    ]


def test_openlineage_events_follow_commits(warehouse, tmp_path, monkeypatch):
    out = tmp_path / "ol" / "events.jsonl"
    monkeypatch.setenv("THUNDERLINE_OPENLINEAGE_FILE", str(out))
    with warehouse.session("a") as s:
        record_edges(s, chain()[:3], job_name="market_feature_windows")
        assert not out.exists()  # nothing before the commit
    with pytest.raises(RuntimeError):
        with warehouse.session("a") as s:
            record_edges(s, chain()[3:])
            raise RuntimeError("rolled back")
    with warehouse.session("a") as s:
        record_edges(s, chain()[:3], job_name="market_feature_windows")
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(events) == 2  # the rolled-back batch was never announced
    ev = events[0]
    assert ev["eventType"] == "COMPLETE" and ev["schemaURL"].endswith("OpenLineage.json#/$defs/RunEvent")
    assert ev["producer"].startswith("https://") and ev["eventTime"].endswith("Z")
    assert ev["job"] == {"namespace": "thunderline", "name": "market_feature_windows",
                         "facets": {"jobType": {"_producer": ev["producer"], "_schemaURL": ev["job"]["facets"]["jobType"]["_schemaURL"],
                                                "processingType": "BATCH", "integration": "THUNDERLINE", "jobType": "LINEAGE"}}}
    assert {d["name"] for d in ev["inputs"]} == {f"tick_batch/{BATCH}", f"edgar_doc/{FILING}", f"feature_window/{WINDOW}"}
    assert {d["name"] for d in ev["outputs"]} == {f"feature_window/{WINDOW}", f"decision_trace/{TRACE}"}
    assert all(d["namespace"] == "thunderline://a" for d in ev["inputs"] + ev["outputs"])
    facet = ev["run"]["facets"]["thunderline_lineage"]
    assert facet["tenant_id"] == "a" and len(facet["edges"]) == 3 and "_producer" in facet and "_schemaURL" in facet
    assert events[1]["run"]["runId"] == ev["run"]["runId"]  # same batch, same run id


def _run_cli(argv):
    import argparse

    from thunderline_cli.lineage import register

    parser = argparse.ArgumentParser(prog="thunderline")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_prints_the_tree(settings_env, capsys):
    from thunderline.store import Warehouse

    wh = Warehouse(settings_env.warehouse_url)
    wh.init_schema()
    with wh.session(settings_env.tenant_id) as s:
        record_edges(s, chain())
    wh.dispose()
    assert _run_cli(["lineage", TRACE]) == 0
    out = capsys.readouterr().out
    assert f"tick_batch {BATCH}" in out and f"edgar_doc {FILING}" in out
    assert _run_cli(["lineage", BATCH, "--down", "--depth", "1"]) == 0
    out = capsys.readouterr().out
    assert f"feature_window {WINDOW}" in out and TRACE not in out
    assert _run_cli(["lineage", "nope"]) == 1
    assert "no lineage edges" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _run_cli(["lineage", TRACE, "--depth", "0"])


def test_cli_registers_the_lineage_command():
    from thunderline_cli.main import build_parser

    args = build_parser().parse_args(["lineage", TRACE, "--down", "--depth", "3"])
    assert (args.node_id, args.direction, args.depth) == (TRACE, "down", 3)
