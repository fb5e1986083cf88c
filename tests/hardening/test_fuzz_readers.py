"""Fuzzing every tick reader, the partition ingest's lake writes and the EDGAR parsers (issue 16, suite part b).

Inputs come from two sources: strategies built from each format's grammar (canonical CSV and
Parquet), and mutations of the real files in ``shared/datasets`` (read at test time, never
copied into the repository). For every input:

* nothing escapes but a whole-file refusal in our words (a ValueError naming the file for an
  unrecognisable header, an EdgarParseError for filings);
* every data row ends as exactly one kept tick or one reject with a field and a reason
  (``kept + rejected == rows``), and kept ticks carry only valid identifiers and times;
* the partition ingest writes only inside the lake's partition directories of valid symbols.

Budget and seed: see ``fuzzing.py`` (``make fuzz`` runs the same tests longer).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from thunderline.contracts import TICK_SCHEMA
from thunderline.flow.landing import file_reject_reason
from thunderline.market import iter_tick_chunks
from thunderline.market.canonical import CANONICAL_COLUMNS, REQUIRED_CSV_COLUMNS

from .fuzzing import FUZZ, HI, LO, check_kept_rows, field_text, head_bytes, lines_of, mutated, tree

pytestmark = pytest.mark.fuzz

TARDIS = {
    "tardis_trades": "market/crypto/tardis/bitmex_trades_XBTUSD.csv",
    "tardis_quotes": "market/crypto/tardis/huobi-dm-swap_quotes_BTC-USD.csv",
    "tardis_book_snapshot_5": "market/crypto/tardis/binance-futures_book_snapshot_5_BTCUSDT.csv",
    "tardis_book_snapshot_25": "market/crypto/tardis/binance-futures_book_snapshot_25_BTCUSDT.csv",
    "tardis_incremental": "market/crypto/tardis/deribit_incremental_book_L2_BTC-PERPETUAL.csv",
    "binance_snap": "market/crypto/binance/btcusdt-depth-snap.csv",
    "binance_update": "market/crypto/binance/btcusdt-depth-update.csv",
}
LOBSTER = "market/lobster/AMZN_2012-06-21_34200000_57600000_{}_1.csv"


def _account(path: Path, expected_rows: int | None) -> tuple[int, int]:
    """Read ``path`` through the one reader entry point and check the accounting; (kept, rejected)."""
    try:
        chunks = list(iter_tick_chunks(path, "fuzz", 32))
    except Exception as exc:  # a whole-file refusal: only for a header no format recognises, in our words
        assert type(exc) is ValueError and str(path) in str(exc), repr(exc)
        assert file_reject_reason(path, "ticks", exc) == str(exc)
        return 0, -1
    batches = [c.batch for c in chunks]
    rejects = [r for c in chunks for r in c.rejects]
    assert all(c.batch.num_rows <= 32 and len(c.rejects) <= 32 for c in chunks)
    assert all(b.schema == TICK_SCHEMA for b in batches)
    kept = sum(b.num_rows for b in batches)
    for r in rejects:
        assert r.field and r.reason and "Traceback" not in r.reason, r
    check_kept_rows(batches)
    rows = [int(x) for b in batches for x in b.column("source_row").to_pylist()] + [r.source_row for r in rejects]
    assert len(rows) == len(set(rows)), "a row was both kept and rejected, or counted twice"
    if expected_rows is not None:
        assert kept + len(rejects) == expected_rows, (kept, len(rejects), expected_rows)
    return kept, len(rejects)


# --------------------------------------------------------------------------- real files, mutated
@pytest.mark.parametrize("name", sorted(TARDIS))
def test_mutated_vendor_csv_files(datasets, tmp_path_factory, name):
    real = head_bytes(datasets / TARDIS[name], 120)

    @FUZZ
    @given(data=mutated(real))
    def run(data):
        d = tmp_path_factory.mktemp("f")
        p = d / Path(TARDIS[name]).name
        p.write_bytes(data)
        before = tree(d)
        _account(p, len(lines_of(data)) - 1 if lines_of(data) else 0)
        assert tree(d) == before  # a reader writes nothing

    run()


def test_mutated_lobster_pairs(datasets, tmp_path_factory):
    msg = head_bytes(datasets / LOBSTER.format("message"), 80)
    ob = head_bytes(datasets / LOBSTER.format("orderbook"), 80)

    @FUZZ
    @given(m=mutated(msg), o=st.one_of(st.just(ob), mutated(ob)))
    def run(m, o):
        d = tmp_path_factory.mktemp("l")
        (d / Path(LOBSTER.format("message")).name).write_bytes(m)
        (d / Path(LOBSTER.format("orderbook")).name).write_bytes(o)
        _account(d / Path(LOBSTER.format("message")).name, max(len(lines_of(m)), len(lines_of(o))))

    run()


# --------------------------------------------------------------------------- canonical CSV from its grammar
VENUES = st.one_of(st.sampled_from(["XNAS", "binance-futures"]), field_text())
SYMBOLS = st.one_of(st.sampled_from(["AAA", "BTC-PERP", "BRK.B"]), field_text())
GOOD_TS = st.integers(LO, HI - 1)


@st.composite
def canonical_value(draw, col: str) -> str:
    hostile = draw(st.integers(0, 9)) == 0
    if hostile:
        return draw(field_text())
    if col == "venue":
        return draw(VENUES)
    if col == "symbol":
        return draw(SYMBOLS)
    if col == "ts":
        return str(draw(st.one_of(GOOD_TS, st.integers(-(10**20), 10**20))))
    if col in ("seq", "source_row"):
        return str(draw(st.integers(0, 10**6)))
    if col == "event_type":
        return draw(st.sampled_from(["0", "1", "2", "3", "-1"]))
    if col == "trade_side":
        return draw(st.sampled_from(["", "0", "1", "-1", "2"]))
    if col.startswith("book_"):
        n = draw(st.integers(0, 3))
        return ";".join(draw(st.sampled_from(["1.5", "2", "", "0", "-1", "1e400"])) for _ in range(n))
    if col == "source":
        return draw(st.sampled_from(["x", "feed.csv", ""]))
    return draw(st.sampled_from(["", "1.25", "100", "0", "-3", "1e-3", "NaN"]))


@st.composite
def canonical_csv(draw) -> bytes:
    optional = [c for c in CANONICAL_COLUMNS if c not in REQUIRED_CSV_COLUMNS]
    cols = draw(st.permutations(REQUIRED_CSV_COLUMNS + draw(st.lists(st.sampled_from(optional), unique=True))))
    rows = []
    for _ in range(draw(st.integers(0, 25))):
        vals = [draw(canonical_value(c)) for c in cols]
        if draw(st.integers(0, 19)) == 0:  # a column too many or too few
            vals = vals[:-1] if draw(st.booleans()) else vals + ["x"]
        rows.append(",".join(vals))
    bom = b"\xef\xbb\xbf" if draw(st.booleans()) else b""
    end = draw(st.sampled_from(["\n", "\r\n"]))
    return bom + (",".join(cols) + end + "".join(r + end for r in rows)).encode("utf-8", "surrogatepass")


@FUZZ
@given(data=canonical_csv())
def test_canonical_csv_grammar(tmp_path_factory, data):
    p = tmp_path_factory.mktemp("c") / "ticks.csv"
    p.write_bytes(data)
    _account(p, len(lines_of(data)) - 1)


# --------------------------------------------------------------------------- canonical Parquet, column mutations
@st.composite
def parquet_table(draw) -> pa.Table:
    from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks

    n = draw(st.integers(1, 40))
    t = pa.Table.from_batches(list(synthetic_ticks(SyntheticSpec(n_ticks=n, seed=draw(st.integers(0, 9)), depth=2),
                                                   "x", n)))
    cols = {name: t.column(name).to_pylist() for name in t.column_names}
    for _ in range(draw(st.integers(0, 6))):
        name = draw(st.sampled_from(t.column_names))
        i = draw(st.integers(0, n - 1))
        f = TICK_SCHEMA.field(name)
        if draw(st.integers(0, 3)) == 0:
            cols[name][i] = None
        elif pa.types.is_string(f.type):
            cols[name][i] = draw(field_text())
        elif pa.types.is_integer(f.type):
            bits = f.type.bit_width
            cols[name][i] = draw(st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1))
        elif pa.types.is_floating(f.type):
            cols[name][i] = draw(st.floats(allow_nan=True, allow_infinity=True))
        else:
            cols[name][i] = draw(st.one_of(st.none(), st.lists(st.floats(allow_nan=True), max_size=4)))
    return pa.table({k: pa.array(v, TICK_SCHEMA.field(k).type) for k, v in cols.items()})


@FUZZ
@given(t=parquet_table(), byte_damage=st.booleans(), where=st.floats(0, 1), val=st.integers(0, 255))
def test_canonical_parquet_mutations(tmp_path_factory, t, byte_damage, where, val):
    p = tmp_path_factory.mktemp("p") / "ticks.parquet"
    pq.write_table(t, p)
    if not byte_damage:
        _account(p, t.num_rows)
        return
    data = bytearray(p.read_bytes())
    data[int(where * (len(data) - 1))] = val
    p.write_bytes(bytes(data))
    _account(p, None)  # a damaged file may be refused whole, in our words; no count is promised then


# --------------------------------------------------------------------------- partition ingest: no path outside the lake
@FUZZ
@given(data=canonical_csv())
def test_partition_ingest_writes_only_inside_the_lake(tmp_path_factory, data):
    from thunderline.flow.tick_files import classify_tick_file
    from thunderline.flow.tick_ingest import PartitionIngest
    from thunderline.store.lake import Lake

    home = tmp_path_factory.mktemp("home")
    land, lake_root = home / "landing", home / "lake"
    land.mkdir()
    decoy = home.parent / f"{home.name}-outside"
    decoy.mkdir()
    (decoy / "keep.parquet").write_bytes(b"x")
    p = land / "ticks.csv"
    p.write_bytes(data)
    outside = tree(home.parent)
    try:
        c = classify_tick_file(p)
    except Exception as exc:  # noqa: BLE001 - the landing index records this as a rejected file
        assert file_reject_reason(p, "ticks", exc)
        return
    lake = Lake(lake_root)
    f = {"path": str(p), "id": hashlib.sha256(data).hexdigest(), "format": c.format}
    kept = 0
    for part in c.partitions:
        month, symbol = part.split("|")
        ing = PartitionIngest("fuzz", lake, month, symbol, run_expectations=False)
        ing.add_file(f)
        kept += ing.summary.rows_kept
        lake.clear_partition("fuzz", month, symbol, keep=ing.written)
    after = tree(home.parent)
    new = set(after) - set(outside)
    for path in new:
        rel = Path(path).relative_to(lake_root / "tenant=fuzz" / "ticks")
        assert rel.parts[0].startswith("month=") and rel.parts[1].startswith("symbol=") and len(rel.parts) == 3, path
    assert {k: v for k, v in after.items() if k in outside} == outside  # nothing outside changed or vanished
    written = sum(pq.ParquetFile(x).metadata.num_rows for x in new)
    assert written == kept


# --------------------------------------------------------------------------- EDGAR parsers
def _edgar_ok(path: Path) -> None:
    from thunderline.edgar import parse_path
    from thunderline.edgar.errors import EdgarParseError

    try:
        docs = parse_path(path, "fuzz")
    except EdgarParseError as exc:
        assert exc.reason and str(path.name) in str(exc) or exc.source, exc
        return
    for d in docs:
        assert 1 <= d.cik <= 9_999_999_999, d.cik


@st.composite
def submissions_mutation(draw, payload: dict) -> bytes:
    p = json.loads(json.dumps(payload))
    recent = p["filings"]["recent"]
    for _ in range(draw(st.integers(1, 4))):
        target = draw(st.sampled_from(["recent", "top", "cik", "filings"]))
        junk = draw(st.one_of(st.none(), st.integers(-(10**20), 10**20), st.floats(allow_nan=False), st.booleans(),
                              field_text(), st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)))
        if target == "recent":
            key = draw(st.sampled_from(sorted(recent)))
            if recent[key] and draw(st.booleans()):
                recent[key][draw(st.integers(0, len(recent[key]) - 1))] = junk
            else:
                recent[key] = junk
        elif target == "top":
            p[draw(st.sampled_from(["name", "tickers", "exchanges", "fiscalYearEnd"]))] = junk
        elif target == "cik":
            p["cik"] = junk
        else:
            p["filings"] = junk if draw(st.booleans()) else {"recent": junk}
            break
    return json.dumps(p).encode()


def test_submissions_json_mutations(datasets, tmp_path_factory):
    payload = json.loads((datasets / "edgar/aapl/CIK0000320193.json").read_bytes())
    for k, v in payload["filings"]["recent"].items():  # the first 30 filings keep each example small
        payload["filings"]["recent"][k] = v[:30]

    @FUZZ
    @given(data=submissions_mutation(payload))
    def run(data):
        p = tmp_path_factory.mktemp("s") / "CIK0000320193.json"
        p.write_bytes(data)
        _edgar_ok(p)

    run()


def test_sgml_submission_header_mutations(datasets, tmp_path_factory):
    real = (datasets / "edgar/worlds_inc/0001264931-18-000031.txt").read_bytes()
    head, body = real[:4000], real[4000:60000]  # the SGML header and the start of the first document

    @FUZZ
    @given(h=mutated(head, max_ops=3), cut=st.booleans())
    def run(h, cut):
        p = tmp_path_factory.mktemp("g") / "0001264931-18-000031.txt"
        p.write_bytes(h + (b"" if cut else body))
        _edgar_ok(p)

    run()
