"""Body decoding: the three formats give the same ticks; every contract breach names its row and field."""

from __future__ import annotations

import gzip
import io

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from thunderline.contracts import TICK_SCHEMA
from thunderline.ingress.app import PAYLOAD_STATUS
from thunderline.ingress.payload import PayloadError, decode_ticks, inflate

from .ticks import ARROW, CSV, JSONL, arrow, body, csv, jsonl, rows_of, ticks


def decode(data, ctype, tenant="acme", max_rows=10_000):
    return decode_ticks(data, ctype, tenant, max_rows=max_rows)


def refused(data, ctype, **kw) -> PayloadError:
    with pytest.raises(PayloadError) as e:
        decode(data, ctype, **kw)
    return e.value


@pytest.mark.parametrize("depth", [0, 3])
def test_three_formats_decode_to_the_same_stamped_ticks(depth):
    t = ticks(40, depth=depth)
    out = {fmt: decode(*body(fmt, t)).table for fmt in ("jsonl", "csv", "arrow")}
    for fmt, got in out.items():
        assert got.schema == TICK_SCHEMA, fmt
        assert set(got.column("tenant_id").to_pylist()) == {"acme"}  # stamped from the key, not the payload
        for c in TICK_SCHEMA.names:
            if c not in ("tenant_id", "source", "source_row"):
                a, b = out["jsonl"].column(c).to_pylist(), got.column(c).to_pylist()
                assert [x if x == x else "nan" for x in _flat(a)] == [x if x == x else "nan" for x in _flat(b)], (fmt, c)


def _flat(v):
    out = []
    for x in v:
        out.extend(x if isinstance(x, list) else [x])
    return out


def test_json_lines_problems_name_line_and_field():
    rows = rows_of(ticks(6))
    rows[2]["bid_px"] = -1.0
    rows[4]["symbol"] = "../../etc"
    e = refused(jsonl(rows), JSONL)
    assert PAYLOAD_STATUS[e.code] == 422
    assert [(p.row, p.field) for p in e.problems] == [(3, "bid_px"), (5, "symbol")]
    assert "price" in e.problems[0].reason

    rows = rows_of(ticks(4))
    rows[1]["ts"] = 1.5
    rows[3]["colour"] = "red"
    e = refused(jsonl(rows), JSONL)
    assert [(p.row, p.field) for p in e.problems] == [(2, "ts"), (4, "colour")]

    data = jsonl(rows_of(ticks(3))).replace(b'"bid_sz": ', b'"bid_sz": NaN, "x": ', 1)
    assert refused(data, JSONL).problems[0].row == 1
    e = refused(b'{"venue": "X"}\nnot json\n', JSONL)
    assert (e.problems[0].row, e.problems[0].field) == (2, "*")
    e = refused(b'[{"venue": "X"}]', "application/json")
    assert (e.problems[0].row, e.problems[0].reason) == (1, "expected a JSON object, got list")


def test_json_lines_contract_rules():
    rows = rows_of(ticks(5))
    rows[1]["ts"] = rows[1]["ts"] // 1_000_000  # seconds instead of µs
    rows[2]["event_type"] = 7
    rows[3]["seq"] = rows[0]["seq"]  # duplicate seq within the request
    del rows[4]["venue"]
    e = refused(jsonl(rows), JSONL)
    got = {(p.row, p.field) for p in e.problems}
    assert {(2, "ts"), (3, "event_type"), (5, "venue")} <= got
    rows = rows_of(ticks(5))
    rows[3]["seq"] = rows[0]["seq"]
    e = refused(jsonl(rows), JSONL)
    assert (e.problems[0].row, e.problems[0].field) == (4, "seq") and "seq" in e.problems[0].reason
    rows = rows_of(ticks(3, depth=2))
    rows[1]["book_ask_px"] = rows[1]["book_ask_px"][:1]
    assert (refused(jsonl(rows), JSONL).problems[0].row, "book") == (2, "book")


def test_csv_problems_name_line_and_field():
    rows = rows_of(ticks(5, depth=2))
    data = csv(rows).decode().splitlines()
    data[3] = data[3].replace(",", ",abc,", 1).replace(",abc,", ",", 1)  # untouched
    f = data[4].split(",")
    f[5] = "1.2.3"  # bid_px of the 4th tick (line 5)
    data[4] = ",".join(f)
    e = refused(("\n".join(data) + "\n").encode(), CSV)
    assert (e.problems[0].row, e.problems[0].field) == (5, "bid_px")
    lines = csv(rows).decode().splitlines()
    lines[2] = lines[2].rsplit(",", 1)[0]  # a truncated line 3
    e = refused(("\n".join(lines) + "\n").encode(), CSV)
    assert e.problems[0].row == 3 and "columns" in e.problems[0].reason
    lines = csv(rows).decode().splitlines()
    f = lines[1].split(",")
    f[12] = "1;x"  # book_bid_px level
    lines[1] = ",".join(f)
    assert (refused(("\n".join(lines) + "\n").encode(), CSV).problems[0].row, "ok") == (2, "ok")
    e = refused(b"venue,symbol,price\nX,Y,1\n", CSV)
    assert e.problems[0].row == 1
    lines = csv(rows).decode().splitlines()
    lines[3] = lines[3].replace(",", ",NaN,", 0)
    f = lines[3].split(",")
    f[6] = "NaN"
    lines[3] = ",".join(f)
    assert (refused(("\n".join(lines) + "\n").encode(), CSV).problems[0].row) == 4


def test_arrow_problems_name_column_and_row():
    t = ticks(6).drop_columns(["tenant_id"])
    bad = t.set_column(t.schema.get_field_index("ask_px"), "ask_px",
                       pa.array([1.0, 2.0, 3.0, -4.0, 5.0, 6.0]))
    e = refused(arrow(bad), ARROW)
    assert (e.problems[0].row, e.problems[0].field) == (4, "ask_px")
    e = refused(arrow(t.drop_columns(["seq"])), ARROW)
    assert e.problems[0].field == "seq" and "missing" in e.problems[0].reason
    e = refused(arrow(t.set_column(t.schema.get_field_index("ts"), "ts", pa.array(["soon"] * 6))), ARROW)
    assert e.problems[0].field == "ts" and "cast" in e.problems[0].reason
    e = refused(b"not arrow", ARROW)
    assert PAYLOAD_STATUS[e.code] == 422
    sink = io.BytesIO()
    with ipc.new_file(sink, t.schema) as w:
        w.write_table(t)
    assert decode(sink.getvalue(), "application/vnd.apache.arrow.file").table.num_rows == 6


def test_media_types_sizes_and_encodings():
    data, _ = body("jsonl", ticks(20))
    assert PAYLOAD_STATUS[refused(data, "application/xml").code] == 415
    assert PAYLOAD_STATUS[refused(data, JSONL, max_rows=10).code] == 413
    assert PAYLOAD_STATUS[refused(b"", JSONL).code] == 422
    assert decode(inflate(gzip.compress(data), "gzip", 1 << 20), JSONL).table.num_rows == 20
    bomb = gzip.compress(b" " * (4 << 20))
    with pytest.raises(PayloadError) as e:
        inflate(bomb, "gzip", 1 << 20)
    assert PAYLOAD_STATUS[e.value.code] == 413
    with pytest.raises(PayloadError) as e:
        inflate(data, "br", 1 << 20)
    assert PAYLOAD_STATUS[e.value.code] == 415
