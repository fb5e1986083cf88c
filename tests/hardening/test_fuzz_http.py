"""Fuzzing the HTTP payload decoders and the read endpoints (issue 16, suite parts b and e).

The decoders (JSON lines, CSV, Arrow stream/file) get grammar-built bodies — objects of
the canonical fields holding any JSON value, nested arrays, numbers no int64 holds — and
mutations of real encodings of valid batches. A body either decodes into ticks that obey
every rule (valid identifiers, times with a partition, rising seq, time order) or is
refused with a 4xx PayloadError listing problems with a field and a reason. Nothing else
may escape. The read endpoints of a real server get random query strings and cursors:
never a 5xx.
"""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from thunderline.ingress.payload import PayloadError, decode_ticks
from thunderline.market.canonical import CANONICAL_COLUMNS

from .fuzzing import FUZZ, HI, LO, check_kept_rows, field_text, mutated

pytestmark = pytest.mark.fuzz
JSONL, CSV = "application/x-ndjson", "text/csv"
ARROW_STREAM, ARROW_FILE = "application/vnd.apache.arrow.stream", "application/vnd.apache.arrow.file"


def _decode(body: bytes, ctype: str) -> None:
    try:
        d = decode_ticks(body, ctype, "acme", max_rows=500)
    except PayloadError as exc:
        from thunderline.ingress.app import PAYLOAD_STATUS

        assert 400 <= PAYLOAD_STATUS[exc.code] < 500, exc.code
        b = exc.body()
        assert b["problems"], b
        for p in b["problems"]:
            assert p["field"] and p["reason"] and "Traceback" not in p["reason"], p
        json.dumps(b)  # the error body is JSON-serialisable as sent
        return
    t = d.table
    assert t.num_rows > 0 and set(t.column("tenant_id").to_pylist()) == {"acme"}
    check_kept_rows(t.to_batches())
    key = [f"{v}\x1f{s}" for v, s in zip(t.column("venue").to_pylist(), t.column("symbol").to_pylist())]
    seq, ts = t.column("seq").to_numpy(), t.column("ts").to_numpy()
    for k in set(key):
        idx = np.array([i for i, x in enumerate(key) if x == k])
        assert (np.diff(seq[idx]) > 0).all() and (np.diff(ts[idx]) >= 0).all(), k


def _valid_rows(n: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    ts0 = int(rng.integers(LO, HI - 10**9))
    return [dict(venue="XNAS", symbol="AAA", ts=ts0 + 10 * i, seq=i + 1, event_type=0, bid_px=10.0 + i / 100,
                 bid_sz=1.0, ask_px=10.5 + i / 100, ask_sz=2.0) for i in range(n)]


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(10**30), 10**30), st.floats(allow_nan=False),
              field_text(), st.integers(LO - 10, HI + 10)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(["a", "ts"]), inner, max_size=3)),
    max_leaves=8,
)


@st.composite
def json_lines_body(draw) -> bytes:
    rows = _valid_rows(draw(st.integers(1, 6)), draw(st.integers(0, 99)))
    for _ in range(draw(st.integers(0, 4))):
        r = rows[draw(st.integers(0, len(rows) - 1))]
        r[draw(st.sampled_from(CANONICAL_COLUMNS + ["tenant_id", "extra"]))] = draw(JSON_VALUES)
    lines = [json.dumps(r, allow_nan=True).encode() for r in rows]
    if draw(st.integers(0, 9)) == 0:
        depth = draw(st.integers(1, 20_000))
        lines.append(b"[" * depth + b"]" * depth)
    if draw(st.integers(0, 9)) == 0:
        lines.insert(0, draw(st.binary(max_size=30)))
    return b"\n".join(lines) + b"\n"


@FUZZ
@given(body=json_lines_body())
def test_json_lines_grammar(body):
    _decode(body, JSONL)


def _csv_body(rows: list[dict]) -> bytes:
    out = [",".join(CANONICAL_COLUMNS)]
    for r in rows:
        out.append(",".join("" if r.get(c) is None else str(r.get(c)) for c in CANONICAL_COLUMNS))
    return ("\n".join(out) + "\n").encode()


def _arrow_body(rows: list[dict], stream: bool) -> bytes:
    t = pa.Table.from_pylist(rows)
    sink = io.BytesIO()
    writer = ipc.new_stream(sink, t.schema) if stream else ipc.new_file(sink, t.schema)
    writer.write_table(t)
    writer.close()
    return sink.getvalue()


REAL = {  # valid encodings of one batch, mutated below
    CSV: _csv_body(_valid_rows(12, 1)),
    JSONL: b"\n".join(json.dumps(r).encode() for r in _valid_rows(12, 2)) + b"\n",
    ARROW_STREAM: _arrow_body(_valid_rows(12, 3), True),
    ARROW_FILE: _arrow_body(_valid_rows(12, 4), False),
}


@pytest.mark.parametrize("ctype", sorted(REAL))
def test_mutated_bodies(ctype):
    real = REAL[ctype]
    _decode(real, ctype)  # the unmutated body decodes

    @FUZZ
    @given(body=mutated(real))
    def run(body):
        _decode(body, ctype)

    run()


# --------------------------------------------------------------------------- the read endpoints of a real server
@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import os

    from thunderline.config import load_settings
    from thunderline.ingress import ServeConfig, build_app, create_key
    from thunderline.ingress.server import ServerThread
    from thunderline.publish import InProcessPublisher
    from thunderline.store import Warehouse

    home = tmp_path_factory.mktemp("home")
    env = {"THUNDERLINE_HOME": str(home), "THUNDERLINE_WAREHOUSE_URL": f"sqlite:///{home / 'w.db'}"}
    settings = load_settings({**os.environ, **env})
    wh = Warehouse(settings.warehouse_url)
    wh.init_schema()
    key = create_key(wh, "acme", "fuzz")[0]
    cfg = ServeConfig(relay=False, key_recheck_s=0.0, requests_per_s=1e6, request_burst=1e6)
    srv = ServerThread(build_app(settings, cfg, warehouse=wh, publisher=InProcessPublisher()), config=cfg).start()
    import httpx

    client = httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    yield client
    client.close()
    srv.stop()
    wh.dispose()


PARAM_VALUES = st.one_of(field_text(), st.integers(-(10**30), 10**30).map(str),
                         JSON_VALUES.map(lambda v: base64.urlsafe_b64encode(json.dumps(v).encode()).decode().rstrip("=")))


@FUZZ
@given(path=st.sampled_from(["/v1/features", "/v1/decisions"]),
       params=st.dictionaries(st.sampled_from(["from", "to", "cursor", "limit", "symbol", "key", "kind"]), PARAM_VALUES,
                              max_size=4))
def test_read_endpoints_never_answer_5xx(server, path, params):
    clean = {k: v.replace("\x00", "") for k, v in params.items()}  # NUL cannot travel in a URL
    r = server.get(path, params=clean)
    assert r.status_code < 500, (path, clean, r.status_code, r.text[:200])
    if r.status_code >= 400:
        assert r.json()["message"]
