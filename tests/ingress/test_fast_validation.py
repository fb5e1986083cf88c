"""The fast whole-column check (``_all_valid``) never accepts what the exact per-row check refuses.

``decode_ticks`` trusts ``_all_valid`` for the common case (a valid batch) and only runs the
slower ``_check`` — which names rows and fields — when it says "not sure". These tests plant
one breach of each rule (and some harmless oddities) into valid batches and hold the two to
agreeing: fast-valid ⇒ exact finds nothing, and on every batch whose rows all carry a book or
none does, fast-valid ⇔ exact finds nothing (so valid batches really take the fast path).
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thunderline.ingress import decode_arrow, decode_csv, payload_checks
from thunderline.ingress import payload as P

from .ticks import arrow, ticks

FLOATS = ("bid_px", "bid_sz", "ask_px", "ask_sz", "trade_px", "trade_sz")


def _set(t: pa.Table, name: str, i: int, value) -> pa.Table:
    vals = t.column(name).to_pylist()
    vals[i] = value
    typ = t.schema.field(name).type
    typ = pa.int64() if pa.types.is_integer(typ) else typ  # room for out-of-range values (300)
    return t.set_column(t.schema.get_field_index(name), name, pa.array(vals, typ))


def _both(t: pa.Table) -> tuple[bool, list]:
    wire = decode_arrow._from_arrow(arrow(t), stream=True)
    stamped = payload_checks._stamp(wire, "acme")
    return payload_checks._all_valid(wire, stamped) is not None, payload_checks._check(wire, stamped, lambda i: i + 1)


def _base(depth: int, streams: int, n: int = 24) -> pa.Table:
    parts = [ticks(n, seed=7 + k, symbol=f"S{k}", depth=depth) for k in range(streams)]
    t = pa.concat_tables(parts).drop_columns(["tenant_id"])
    if streams > 1:  # interleave the streams row by row: each keeps its own rising seq
        order = np.argsort(np.tile(np.arange(n), streams), kind="stable")
        t = t.take(pa.array(order))
    return t


def _earlier(t: pa.Table, i: int) -> int:
    """The previous row of row ``i``'s stream."""
    sym = t.column("symbol").to_pylist()
    return max(j for j in range(i) if sym[j] == sym[i])


def _later(t: pa.Table, i: int) -> int:
    """Row ``i``, or the first row after it that has an earlier row in its stream."""
    sym = t.column("symbol").to_pylist()
    return next(j for j in range(i, len(sym)) if sym[j] in sym[:j])


MUTATIONS = {
    "negative size": lambda t, i: _set(t, "bid_sz", i, -1.0),
    "infinite size": lambda t, i: _set(t, "ask_sz", i, math.inf),
    "zero price": lambda t, i: _set(t, "ask_px", i, 0.0),
    "negative price": lambda t, i: _set(t, "bid_px", i, -2.0),
    "infinite price": lambda t, i: _set(t, "bid_px", i, -math.inf),
    "absent price (fine)": lambda t, i: _set(t, "bid_px", i, None),
    "nan size (fine)": lambda t, i: _set(t, "bid_sz", i, math.nan),
    "trade without price": lambda t, i: _set(_set(t, "event_type", i, 1), "trade_px", i, None),
    "trade of size 0": lambda t, i: _set(_set(_set(t, "event_type", i, 1), "trade_px", i, 10.0), "trade_sz", i, 0.0),
    "event type 3": lambda t, i: _set(t, "event_type", i, 3),
    "event type -1": lambda t, i: _set(t, "event_type", i, -1),
    "event type 300": lambda t, i: _set(t, "event_type", i, 300),
    "trade side 2": lambda t, i: _set(t, "trade_side", i, 2),
    "trade side absent (fine)": lambda t, i: _set(t, "trade_side", i, None),
    "ts in seconds": lambda t, i: _set(t, "ts", i, 1_704_205_800),
    "ts past 2100": lambda t, i: _set(t, "ts", i, 4_102_444_800_000_000),
    "seq repeated": lambda t, i: _set(t, "seq", _later(t, i), t.column("seq")[_earlier(t, _later(t, i))].as_py()),
    "seq falls": lambda t, i: _set(t, "seq", _later(t, i), -5),
    "seq jumps (fine)": lambda t, i: _set(t, "seq", t.num_rows - 1, t.column("seq")[-1].as_py() + 1000),
    "symbol with slash": lambda t, i: _set(t, "symbol", i, "BAD/SYM"),
    "venue with space": lambda t, i: _set(t, "venue", i, "X Y"),
    "venue missing": lambda t, i: _set(t, "venue", i, None),
    "seq missing": lambda t, i: _set(t, "seq", i, None),
    "ts missing": lambda t, i: _set(t, "ts", i, None),
    "event type missing": lambda t, i: _set(t, "event_type", i, None),
}
BOOK_MUTATIONS = {
    "negative book size": lambda t, i: _set(t, "book_bid_sz", i, [1.0, -1.0, 2.0]),
    "zero book price": lambda t, i: _set(t, "book_ask_px", i, [0.0, 1.0, 2.0]),
    "infinite book price": lambda t, i: _set(t, "book_bid_px", i, [math.inf, 1.0, 2.0]),
    "empty book level (fine)": lambda t, i: _set(t, "book_bid_px", i, [None, 101.0, 102.0]),
    "book lengths differ": lambda t, i: _set(t, "book_ask_sz", i, [1.0, 2.0]),
    "one book list missing": lambda t, i: _set(t, "book_ask_sz", i, None),
}


@pytest.mark.parametrize("depth", [0, 3])
@pytest.mark.parametrize("streams", [1, 3])
def test_valid_batches_take_the_fast_path(depth, streams):
    fast, problems = _both(_base(depth, streams))
    assert problems == [] and fast


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(MUTATIONS) + sorted(BOOK_MUTATIONS)), st.integers(0, 71), st.sampled_from([1, 3]))
def test_fast_check_agrees_with_the_exact_one(name, row, streams):
    book = name in BOOK_MUTATIONS
    t = _base(3 if book else 0, streams)
    t = (BOOK_MUTATIONS if book else MUTATIONS)[name](t, row % t.num_rows)
    fast, problems = _both(t)
    if fast:
        assert problems == [], (name, problems[:2])
    if name != "one book list missing":
        assert fast == (problems == []), (name, fast, problems[:2])
    assert ("(fine)" in name) == (problems == []), (name, problems[:2])


def test_rows_without_a_book_among_rows_with_one_are_checked_exactly():
    t = _base(3, 1)
    for c in ("book_bid_px", "book_bid_sz", "book_ask_px", "book_ask_sz"):
        t = _set(t, c, 5, None)
    fast, problems = _both(t)
    assert not fast and problems == []  # valid, but left to the exact check
    assert P.decode_ticks(arrow(t), "application/vnd.apache.arrow.stream", "acme", max_rows=100).table.num_rows == 24


# --------------------------------------------------------------------------- CSV: typed reader vs exact path
_INT_CELLS = ["", "+5", "-5", "005", " 5", "5 ", "5.0", "1e3", "0x10", "1_000", "0b1", "9" * 18, "9" * 19,
              "-" + "9" * 19, "abc", "nan", "\u0663", "1704205800000001"]
_FLOAT_CELLS = ["", "1.5", "+1.5", ".5", "5.", "1e5", "1E5", "1e400", "-1e400", "1e-400", "nan", "NaN", "inf", "-inf",
                "Infinity", " 1.5", "1.5 ", "0x1p3", "1_000", "1.5e", "e5", "--1", "1.5f", "\u0661", "-0", "0"]
_CSV_CASES = ([(c, v) for c in ("ts", "seq", "event_type", "trade_side", "source_row") for v in _INT_CELLS]
              + [(c, v) for c in ("bid_px", "ask_sz", "trade_px") for v in _FLOAT_CELLS])


def _decode_csv(body: bytes, *, exact: bool, monkeypatch):
    from thunderline.ingress.landing import parquet_bytes

    if exact:
        monkeypatch.setattr(decode_csv, "_csv_typed", lambda *a: None)
    try:
        return "ok", parquet_bytes(P.decode_ticks(body, "text/csv", "acme", max_rows=100).table).to_pybytes()
    except P.PayloadError as e:
        return "refused", e.code, [p.as_dict() for p in e.problems]
    finally:
        monkeypatch.undo()


@pytest.mark.parametrize("column,cell", _CSV_CASES)
def test_typed_csv_reading_decides_exactly_like_the_exact_path(column, cell, monkeypatch):
    from .ticks import csv, rows_of

    lines = csv(rows_of(ticks(5, depth=2))).decode().split("\n")
    cells = lines[2].split(",")
    cells[lines[0].split(",").index(column)] = cell
    lines[2] = ",".join(cells)
    body = "\n".join(lines).encode()
    assert _decode_csv(body, exact=False, monkeypatch=monkeypatch) == _decode_csv(body, exact=True,
                                                                                   monkeypatch=monkeypatch)


def test_a_plain_csv_body_takes_the_typed_path_crlf_too():
    from .ticks import csv, rows_of

    for body in (csv(rows_of(ticks(20, depth=3))), csv(rows_of(ticks(20))).replace(b"\n", b"\r\n")):
        header = body.split(b"\n", 1)[0].rstrip(b"\r").decode().split(",")
        assert decode_csv._csv_typed(body, header) is not None
