"""The columnar decision path must write exactly what the object path defines.

``DecisionTrace.content_hash`` (canonical bytes of ``hashed_content()``) is the
definition; the batch kernel in ``trace_codec`` is an optimisation and must give
the same bytes for every trace, including NaN/-0.0 floats, negative and huge ints,
non-ASCII names, empty and repeated flags, shadows and undercovered tokens. The
same holds for bulk ids (trace, window, lineage edge) and for the warehouse rows.
"""

from __future__ import annotations

import dataclasses
import json
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thunderline.contracts import ACTIONS, DecisionTrace, ExpertAction, FeatureWindow, feature_window_ids
from thunderline.decisions import trace_codec
from thunderline.decisions.bootstrap import bootstrap_from_windows
from thunderline.decisions.pipeline import decide
from thunderline.decisions.pool import load_pool
from thunderline.decisions.trace_codec import ActionColumn
from thunderline.experts import DEFAULT_EXPERT_SPECS
from thunderline.experts.registry import ExpertRegistry
from thunderline.flow.decision_partition import batch_columns, batch_edge_columns, trace_row
from thunderline.hashing import canonical_bytes, content_id, content_ids_of_lists
from thunderline.lineage import Edge, expert_version_node
from thunderline.lineage.edges import column_edges, edge_rows
from thunderline.market.features import build_windows, to_feature_windows
from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks
from thunderline.risk import RiskConfig

TENANT = "default"
text = st.text(min_size=0, max_size=12)
name = st.text(min_size=1, max_size=10)
floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -0.0, float("nan")]))


# --------------------------------------------------------------------------- ids

@given(st.lists(st.lists(st.one_of(text, st.integers(min_value=-(2**70), max_value=2**70)), min_size=3, max_size=3),
                min_size=0, max_size=20))
def test_bulk_ids_equal_content_id(rows):
    columns = [[r[k] for r in rows] for k in range(3)]
    assert content_ids_of_lists("kind", columns) == [content_id("kind", r) for r in rows]


def test_bulk_ids_take_constant_columns_and_refuse_other_types():
    assert content_ids_of_lists("k", ["a", [1, 2], "b"]) == [content_id("k", ["a", 1, "b"]),
                                                            content_id("k", ["a", 2, "b"])]
    with pytest.raises(TypeError, match="float"):
        content_ids_of_lists("k", [[1.5]])
    with pytest.raises(TypeError, match="bool"):
        content_ids_of_lists("k", [[True]])
    with pytest.raises(ValueError, match="different lengths"):
        content_ids_of_lists("k", [["a"], ["b", "c"]])


def _rows(columns):
    return [dict(zip(columns, vals)) for vals in zip(*columns.values())]


def column_edge_rows(*args):
    return _rows(column_edges(*args))


def test_column_edges_equal_edge_rows():
    traces = ["t1", "t2", "t3"]
    node = expert_version_node("flow", 3)
    got = column_edge_rows(TENANT, "decision_trace", traces, "expert_version", node, "used")
    want = edge_rows(TENANT, [Edge("decision_trace", t, "expert_version", node, "used") for t in traces])
    assert got == want
    with pytest.raises(Exception, match="not-a-version"):
        column_edge_rows(TENANT, "decision_trace", traces, "expert_version", "not-a-version", "used")
    with pytest.raises(Exception, match="edge #1"):
        column_edge_rows(TENANT, "decision_trace", ["a", "", "c"], "router_version", "rv", "routed")
    with pytest.raises(Exception, match="itself"):
        column_edge_rows(TENANT, "decision_trace", ["a", "b"], "decision_trace", ["x", "b"], "x")


# --------------------------------------------------------------------------- kernel vs definition

@st.composite
def batches(draw):
    n = draw(st.integers(1, 6))
    sizes = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    n_shadow = draw(st.integers(0, 2))
    columns = [ActionColumn(l, draw(name), draw(text), draw(st.sampled_from(["champion", "challenger"])),
                            tuple(draw(st.lists(text, max_size=2)))) for l, e in enumerate(sizes) for _ in range(e)]
    columns += [ActionColumn(-1, draw(name), draw(text), "shadow", tuple(draw(st.lists(text, max_size=2))))
                for _ in range(n_shadow)]
    G = len(columns)
    scores = [np.array(draw(st.lists(floats, min_size=n * e, max_size=n * e))).reshape(n, e) for e in sizes]
    kept = []
    for e in sizes:
        per_token = [draw(st.permutations(range(e)))[: draw(st.integers(0, e))] for _ in range(n)]
        kept.append((np.array([j for p in per_token for j in p], dtype=np.int64),
                     np.cumsum([0] + [len(p) for p in per_token]).astype(np.int64)))
    acts = np.array(draw(st.lists(st.sampled_from(ACTIONS), min_size=n * G, max_size=n * G)),
                    dtype=object).reshape(n, G)
    return dict(
        tenant_id=draw(text), router_version=draw(text),
        feature_window_ids=draw(st.lists(text, min_size=n, max_size=n)),
        symbols=draw(st.lists(name, min_size=n, max_size=n)),
        window_start_us=np.array(draw(st.lists(st.integers(-(2**62), 2**62), min_size=n, max_size=n))),
        window_end_us=np.array(draw(st.lists(st.integers(0, 2**63 - 1), min_size=n, max_size=n))),
        layer_scores=scores, layer_kept=kept, columns=columns, actions=acts,
        confidences=np.array(draw(st.lists(floats, min_size=n * G, max_size=n * G))).reshape(n, G),
        weights=np.array(draw(st.lists(floats, min_size=n * G, max_size=n * G))).reshape(n, G),
        n_live=G - n_shadow,
        blended_actions=np.array(draw(st.lists(st.sampled_from(ACTIONS), min_size=n, max_size=n)), dtype=object),
        blended_confidence=np.array(draw(st.lists(floats, min_size=n, max_size=n))),
        risk_flags=draw(st.lists(st.lists(text, max_size=3), min_size=n, max_size=n)),
        embedding=np.array(draw(st.lists(floats, min_size=n * 4, max_size=n * 4))).reshape(n, 4),
        scores=np.array(draw(st.lists(floats, min_size=n * G, max_size=n * G))).reshape(n, G),
        blended_score=np.array(draw(st.lists(floats, min_size=n, max_size=n))),
    )


def _reference_trace(b, t) -> DecisionTrace:
    acts = []
    base = np.cumsum([0] + [s.shape[1] for s in b["layer_scores"]])
    for l, (k, o) in enumerate(b["layer_kept"]):
        for j in k[o[t]:o[t + 1]].tolist():
            g = int(base[l] + j)
            c = b["columns"][g]
            acts.append(ExpertAction(c.layer, c.expert, c.model_version, c.alias, b["actions"][t, g],
                                     float(b["confidences"][t, g]), 0.0, float(b["weights"][t, g]), c.flags,
                                     float(b["scores"][t, g])))
    for g in range(b["n_live"], len(b["columns"])):
        c = b["columns"][g]
        acts.append(ExpertAction(c.layer, c.expert, c.model_version, c.alias, b["actions"][t, g],
                                 float(b["confidences"][t, g]), 0.0, float(b["weights"][t, g]), c.flags,
                                 float(b["scores"][t, g])))
    selected = [[b["columns"][int(base[l] + j)].expert for j in k[o[t]:o[t + 1]].tolist()]
                for l, (k, o) in enumerate(b["layer_kept"])]
    return DecisionTrace(
        tenant_id=b["tenant_id"], feature_window_id=b["feature_window_ids"][t], symbol=b["symbols"][t],
        window_start_us=int(b["window_start_us"][t]), window_end_us=int(b["window_end_us"][t]),
        router_version=b["router_version"], gate_scores=[s[t].tolist() for s in b["layer_scores"]],
        selected_experts=selected, expert_actions=acts, blended_action=b["blended_actions"][t],
        blended_confidence=float(b["blended_confidence"][t]), risk_flags=list(b["risk_flags"][t]),
        embedding=b["embedding"][t].tolist(), blended_score=float(b["blended_score"][t]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_kernel_writes_the_canonical_bytes_of_every_trace(b):
    buf, off = trace_codec.encode_batch(**b)
    for t in range(len(b["feature_window_ids"])):
        want = canonical_bytes(_reference_trace(b, t).hashed_content())
        assert bytes(buf[off[t]:off[t + 1]]) == want, f"trace {t}"


# --------------------------------------------------------------------------- real batches

@pytest.fixture(scope="module")
def real(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow")
    spec = SyntheticSpec(n_ticks=60_000, seed=4, symbol="SYN", start_us=1_704_205_800_000_000)
    history = to_feature_windows(build_windows(synthetic_ticks(spec, TENANT)), tenant_id=TENANT, symbol="SYN")
    specs = [s for s in DEFAULT_EXPERT_SPECS if s.family != "filing"][:4]
    with ExpertRegistry(tracking_uri=f"sqlite:///{root / 'mlflow.db'}") as reg:
        state, _ = bootstrap_from_windows(reg, history, specs=specs, seed=3)
        experts, _ = load_pool(reg, state)
        yield state, experts, history


@pytest.mark.parametrize("variant", ["plain", "shadow+backpressure", "deny"])
def test_batch_hashes_ids_rows_and_edges_match_the_trace_objects(real, variant):
    state, experts, windows = real
    kw = {}
    if variant == "shadow+backpressure":
        names = sorted(experts)
        kw = dict(shadows=[experts[names[0]]], p_shift=0.1, abstain_experts=[names[1]])
    elif variant == "deny":
        kw = dict(risk=RiskConfig.model_validate({"deny": {TENANT: ["SYN"]}}))
    batch = decide(windows, state, experts, tenant_id=TENANT, enforce_budgets=False, **kw)
    traces = batch.traces
    assert len(traces) == len(batch) == len(windows) > 100
    assert [t.content_hash for t in traces] == batch.content_hashes
    assert [t.id for t in traces] == batch.ids
    if variant == "deny":
        assert {t.blended_action for t in traces} == {"abstain"} and all(t.risk_flags for t in traces)
    if variant == "shadow+backpressure":
        assert all(any(a.alias == "shadow" for a in t.expert_actions) for t in traces)
    # warehouse rows: the same JSON as the per-trace row
    canon = lambda rows: json.loads(json.dumps(rows, sort_keys=True))  # noqa: E731
    want_rows = [trace_row(t) for t in traces]
    cols = batch_columns(batch)  # the bulk path: JSON columns as text
    for k in ("gate_scores", "selected_experts", "expert_actions", "risk_flags", "embedding"):
        got = [json.loads(x) for x in cols[k]]
        assert canon(got) == canon([r[k] for r in want_rows]), k
        assert repr(canon(got)) == repr(canon([r[k] for r in want_rows])), k  # floats stay floats (1.0, not 1)
    for k in ("id", "feature_window_id", "symbol", "window_start", "window_end", "blended_action",
              "blended_confidence", "content_hash"):
        assert cols[k] == [r[k] for r in want_rows], k
    # lineage: the same edges as building them trace by trace
    edges = []
    for t in traces:
        edges.append(Edge("feature_window", t.feature_window_id, "decision_trace", t.id, "decided"))
        edges.append(Edge("router_version", t.router_version, "decision_trace", t.id, "routed"))
        for n, v in sorted({(a.expert, a.model_version) for a in t.expert_actions if a.model_version}):
            edges.append(Edge("decision_trace", t.id, "expert_version", expert_version_node(n, v), "used"))
    want = {r["id"]: r for r in edge_rows(TENANT, edges)}
    assert {r["id"]: r for r in _rows(batch_edge_columns(batch))} == want


def test_bulk_window_ids_equal_the_property(real):
    windows = real[2][:200]
    fresh = [dataclasses.replace(w) for w in windows]
    assert feature_window_ids(fresh) == [FeatureWindow.id.func(w) for w in windows]


def test_non_finite_floats_take_the_general_serializer(real):
    state, experts, windows = real
    batch = decide(windows[:20], state, experts, tenant_id=TENANT, enforce_budgets=False)
    batch.embedding[3, 0] = float("nan")
    cols = batch_columns(batch)
    assert "NaN" in cols["embedding"][3]
    assert json.loads(cols["expert_actions"][0]) == json.loads(json.dumps(trace_row(batch.traces[0])["expert_actions"]))


def test_decide_windows_writes_behind_and_rolls_back_on_a_writer_error(real, warehouse, monkeypatch):
    """decide_windows persists batch i while deciding batch i+1; the result is the same rows, and a
    failed write fails the call and leaves nothing behind (one transaction)."""
    from thunderline.flow import decision_partition
    from thunderline.flow.decision_partition import decide_windows

    state, experts, windows = real
    monkeypatch.setattr(decision_partition, "BATCH_WINDOWS", 50)
    with warehouse.session(TENANT) as s:
        summary = decide_windows(s, windows, state, experts, enforce_budgets=False)
    want = {}
    for i in range(0, len(windows), 50):  # routing is per batch: compare with the same batches
        b = decide(windows[i:i + 50], state, experts, tenant_id=TENANT, enforce_budgets=False)
        want.update(zip(b.ids, b.content_hashes))
    with warehouse.session(TENANT) as s:
        stored = {r["id"]: r["content_hash"] for r in s.select("decision_traces", columns=["id", "content_hash"])}
        batches = -(-len(windows) // 50)
        assert s.count("lineage_ranges") >= 2 * batches  # router → traces, traces → ≥ 1 expert version
        assert len({r["lineage_batch"] for r in s.select("decision_traces", columns=["lineage_batch"])}) == batches
        s.delete("decision_traces")
        s.delete("lineage_ranges")
    assert summary.traces == len(windows) == len(stored)
    assert stored == want

    written = []
    write = decision_partition.write_prepared

    seen, before = [], sys.getswitchinterval()

    def fails_on_the_third_batch(session, b):
        seen.append(sys.getswitchinterval())
        if len(written) == 2:
            raise OSError("disk full")
        written.append(len(b))
        return write(session, b)

    monkeypatch.setattr(decision_partition, "write_prepared", fails_on_the_third_batch)
    with pytest.raises(OSError, match="disk full"):
        with warehouse.session(TENANT) as s:
            decide_windows(s, windows, state, experts, enforce_budgets=False)
    assert written == [50, 50]
    # on SQLite the GIL switch interval is short while the writer thread runs, and Python's again afterwards,
    # error or not; PostgreSQL's writer leaves it alone
    during = before if warehouse.is_postgres else min(decision_partition.WRITER_SWITCH_INTERVAL_S, before)
    assert seen == [during] * 3
    assert sys.getswitchinterval() == before
    with warehouse.session(TENANT) as s:
        assert s.count("decision_traces") == 0 and s.count("lineage_ranges") == 0
