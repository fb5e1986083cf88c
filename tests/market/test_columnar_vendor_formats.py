"""Columnar Tardis (trades, quotes, book snapshots) and canonical CSV readers equal their exact row
readers: same ticks (hash) and the same quarantine rows (file, 1-based line, field, reason, raw), on
the real files in ../shared/datasets, on mutated copies of them made in tmp, for any block size, on
compressed copies, and for arbitrary generated lines (hypothesis)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thunderline.market import canonical, canonical_columnar, columnar, crypto, read_ticks, tardis_columnar
from thunderline.market.canonical import ticks_sha256, write_canonical_csv
from thunderline.market.readers import iter_tick_chunks

TARDIS = {
    "bitmex_trades_XBTUSD.csv": (crypto.iter_tardis_trades_rows, tardis_columnar.iter_tardis_trades, ()),
    "huobi-dm-swap_quotes_BTC-USD.csv": (crypto.iter_tardis_quotes_rows, tardis_columnar.iter_tardis_quotes, ()),
    "binance-futures_book_snapshot_5_BTCUSDT.csv": (crypto.iter_tardis_book_snapshot_rows,
                                                    tardis_columnar.iter_tardis_book_snapshot, (5,)),
    "binance-futures_book_snapshot_25_BTCUSDT.csv": (crypto.iter_tardis_book_snapshot_rows,
                                                     tardis_columnar.iter_tardis_book_snapshot, (25,)),
}
# one broken copy of a data line per entry: (how, field it breaks, or None when the row rule accepts it)
MUTATIONS = [
    lambda f: f[:2] + ["0x10"] + f[3:],                 # hex timestamp: pyarrow would read it
    lambda f: f[:2] + [" " + f[2]] + f[3:],             # a space: pyarrow would trim it
    lambda f: f[:2] + ["12.5"] + f[3:],                 # timestamp not an integer
    lambda f: f[:2] + [""] + f[3:],                     # timestamp empty
    lambda f: f[:-1] + ["-" + f[-1]],                   # negative amount
    lambda f: f[:-1] + ["nan"],                         # NaN
    lambda f: f[:-1] + ["inf"],                         # infinity
    lambda f: f[:-1] + ["1e400"],                       # beyond float64
    lambda f: f[:-1] + ["+" + f[-1]],                   # a plus sign (the rule accepts it)
    lambda f: f[:-1] + [""],                            # empty amount (quotes/snapshots: 0)
    lambda f: f[:-2] + ["", f[-1]],                     # empty price (quotes/snapshots: NaN)
    lambda f: f[:-2] + ["0", f[-1]],                    # zero price
    lambda f: f[:-2] + ["1_0", f[-1]],                  # underscore in a number
    lambda f: f[:-1],                                   # a column missing
    lambda f: f + ["7"],                                # a column too many
    lambda f: [f'"{f[0]}"'] + f[1:],                    # a quoted field
    lambda f: f[:5] + ["hold"] + f[6:],                 # (trades) a bad side
    lambda f: f[:4] + ["", ""] + f[6:],                 # local_timestamp / id empty
]


def _all(chunks) -> tuple[str, list]:
    chunks = list(chunks)
    return ticks_sha256([c.batch for c in chunks]), [r for c in chunks for r in c.rejects]


@pytest.fixture(scope="module")
def tardis_dir(market_data: Path) -> Path:
    return market_data / "crypto" / "tardis"


@pytest.mark.parametrize("name", sorted(TARDIS))
def test_tardis_columnar_equals_row_path_on_the_real_file(tardis_dir, name):
    rows, cols, extra = TARDIS[name]
    path = tardis_dir / name
    got, want = _all(cols(path, "t", 4, *extra)), _all(rows(path, "t", 4, *extra))
    assert got == want and want[1] == []
    assert _all(iter_tick_chunks(path, "t", 4)) == want  # the format detection reaches the columnar reader


def _mutated(src: Path, dst: Path) -> Path:
    """``src`` with every mutation applied to a copy of a data line, plus CRLF, blank and broken-UTF-8 lines."""
    lines = src.read_bytes().decode().splitlines()
    out = [lines[0]]
    for i, mutate in enumerate(MUTATIONS):
        out.append(lines[1 + i % (len(lines) - 1)])
        out.append(",".join(mutate(lines[1 + i % (len(lines) - 1)].split(","))))
    data = ("\n".join(out) + "\n").encode()
    data += lines[1].encode() + b"\r\n\n" + lines[1].encode().replace(b",", b"\xff,", 1) + b"\n" + lines[2].encode()
    dst.write_bytes(data)
    return dst


@pytest.mark.parametrize("block", [256, 1 << 20])
@pytest.mark.parametrize("name", sorted(TARDIS))
def test_tardis_mutated_copies_quarantine_the_same_rows(tardis_dir, tmp_path, monkeypatch, name, block):
    monkeypatch.setattr(columnar, "BLOCK_BYTES", block)
    rows, cols, extra = TARDIS[name]
    path = _mutated(tardis_dir / name, tmp_path / name)
    got, want = _all(cols(path, "t", 5, *extra)), _all(rows(path, "t", 5, *extra))
    assert got[1] == want[1]
    assert got[0] == want[0]
    assert len(want[1]) >= 10 and all(r.source == str(path) and r.source_row > 1 for r in want[1])
    gz = path.with_name(path.name + ".gz")
    gz.write_bytes(gzip.compress(path.read_bytes(), mtime=0))
    got_gz = _all(cols(gz, "t", 5, *extra))
    assert [(r.source_row, r.field, r.reason, r.raw) for r in got_gz[1]] == [
        (r.source_row, r.field, r.reason, r.raw) for r in want[1]]


@pytest.fixture(scope="module")
def canonical_amzn(lobster_message, tmp_path_factory) -> Path:
    """The real AMZN day as canonical CSV (57 k rows, 1-level books), written in tmp."""
    out = tmp_path_factory.mktemp("canon") / "amzn.csv"
    write_canonical_csv(read_ticks(lobster_message, "t"), out)
    return out


def test_canonical_columnar_equals_row_path_on_the_real_day(canonical_amzn, monkeypatch):
    monkeypatch.setattr(columnar, "BLOCK_BYTES", 1 << 18)
    want = _all(canonical.iter_canonical_csv_rows(canonical_amzn, "t", 10_000))
    assert _all(canonical_columnar.iter_canonical_csv(canonical_amzn, "t", 10_000)) == want
    assert want[1] == []


CANON_MUTATIONS = [
    ("venue", ""), ("symbol", ""), ("ts", "0x1"), ("ts", "1.5"), ("seq", ""), ("event_type", "3"),
    ("trade_side", "2"), ("trade_side", ""), ("bid_px", "-1"), ("bid_px", "NaN"), ("ask_sz", "-0"),
    ("ask_sz", " 4"), ("trade_px", ""), ("book_bid_px", ""), ("book_ask_sz", "1;2"), ("book_bid_px", "1;;x"),
    ("book_bid_sz", "-3"), ("book_ask_px", "inf"), ("book_ask_px", "1e-400"), ("book_bid_sz", "+5"),
]


def test_canonical_mutated_copy_quarantines_the_same_rows(canonical_amzn, tmp_path, monkeypatch):
    monkeypatch.setattr(columnar, "BLOCK_BYTES", 4_096)
    lines = canonical_amzn.read_text().splitlines()
    header = lines[0].split(",")
    out = [lines[0]]
    for i, (field, value) in enumerate(CANON_MUTATIONS):
        f = lines[1 + 13 * i].split(",")
        f[header.index(field)] = value
        out += [lines[2 + 13 * i], ",".join(f)]
    path = tmp_path / "mutated.csv"
    path.write_text("\n".join(out) + "\n")
    want = _all(canonical.iter_canonical_csv_rows(path, "t", 7))
    assert _all(canonical_columnar.iter_canonical_csv(path, "t", 7)) == want
    assert {r.field for r in want[1]} >= {"venue", "symbol", "ts", "seq", "event_type", "trade_side", "bid_px",
                                          "book", "book_bid_px", "book_bid_sz", "book_ask_px"}


_NUM = st.sampled_from(["1", "0", "-1", "2.5", ".5", "5.", "1e3", "1E-2", "+3", "-0", "", "nan", "inf", " 1",
                        "0x1", "1_0", "abc", "99999999999999999999", "1e400", "\u00e9"])
_TEXT = st.sampled_from(["bitmex", "XBTUSD", "", "a b", '"q"', "x,y"])
_INT = st.sampled_from(["1583020803145000", "0", "-5", "+7", "1.0", "", "0x10", " 3", "99999999999999999999"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(_TEXT, _TEXT, _INT, _INT, _TEXT, st.sampled_from(["buy", "sell", "", "x"]),
                               _NUM, _NUM), min_size=1, max_size=40),
       block=st.sampled_from([64, 1 << 20]))
def test_columnar_equals_row_path_on_any_lines(tmp_path_factory, rows, block):
    """Trades and quotes files of arbitrary tokens: the columnar readers agree with the row rules."""
    d = tmp_path_factory.mktemp("prop")
    body = "\n".join(",".join(r) for r in rows) + "\n"
    old = columnar.BLOCK_BYTES
    columnar.BLOCK_BYTES = block
    try:
        for header, rows_fn, col_fn in ((crypto.TARDIS_TRADES, crypto.iter_tardis_trades_rows,
                                         tardis_columnar.iter_tardis_trades),
                                        (crypto.TARDIS_QUOTES, crypto.iter_tardis_quotes_rows,
                                         tardis_columnar.iter_tardis_quotes)):
            p = d / f"{header[4]}.csv"
            p.write_text(",".join(header) + "\n" + body)
            assert _all(col_fn(p, "t", 8)) == _all(rows_fn(p, "t", 8))
    finally:
        columnar.BLOCK_BYTES = old
