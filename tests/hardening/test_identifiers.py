"""The identifier type and the lake's path joins (issue 16, item 1)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from thunderline.identifiers import (
    InvalidIdentifier,
    UnsafePath,
    check_cik,
    check_symbol,
    check_venue,
    invalid_mask,
    safe_join,
)
from thunderline.store.lake import Lake


@pytest.mark.parametrize("ok", ["AAPL", "BRK.B", "BTC-PERPETUAL", "ES=F", "^GSPC", "BTCUSDT", "A:B", "x" * 64])
def test_valid_symbols_pass(ok):
    assert check_symbol(ok) == ok


@pytest.mark.parametrize("bad", ["", "..", ".", "../x", "a/b", "a\\b", "A|B", "A B", "AAPL\n", "A\x00", "x" * 65,
                                 "é", None, 5])
def test_invalid_symbols_name_field_and_rule(bad):
    with pytest.raises(InvalidIdentifier) as e:
        check_symbol(bad)
    assert e.value.field == "symbol" and "symbol must be" in str(e.value)


def test_venue_and_cik():
    assert check_venue("binance-futures") == "binance-futures"
    for bad in ("XN\x00AS", "-x", "a/b", ""):
        with pytest.raises(InvalidIdentifier):
            check_venue(bad)
    assert check_cik("0000320193") == 320193 and check_cik(1961) == 1961
    for bad in ("0", "12345678901", "-5", "3.2", True, 0, 10**10):
        with pytest.raises(InvalidIdentifier):
            check_cik(bad)


def test_invalid_mask_is_vectorised_and_treats_null_as_invalid():
    col = pa.array(["AAA", "A|B", None, "AAA", "../x"])
    assert invalid_mask(col, "symbol").tolist() == [False, True, True, False, True]


def test_lake_refuses_paths_outside_its_root(tmp_path):
    lake = Lake(tmp_path / "lake")
    assert lake.partition_dir("default", "2024-01", "AAPL") == tmp_path / "lake/tenant=default/ticks/month=2024-01/symbol=AAPL"
    for sym in ("../../../../x", "A|B", ".."):
        with pytest.raises(InvalidIdentifier):
            lake.partition_dir("default", "2024-01", sym)
    with pytest.raises(InvalidIdentifier):
        lake.partition_dir("../x", "2024-01", "AAPL")
    with pytest.raises(InvalidIdentifier):
        lake.partition_dir("default", "2024-01/../..", "AAPL")
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.parquet").write_bytes(b"x")
    with pytest.raises(InvalidIdentifier):
        lake.clear_partition("default", "2024-01", "../../../../victim")
    assert (victim / "keep.parquet").exists()


def test_safe_join_refuses_a_symlink_that_leaves_the_root(tmp_path):
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    (root / "a" / "out").symlink_to(tmp_path)
    assert safe_join(root, "a", "b") == root / "a" / "b"
    with pytest.raises(UnsafePath):
        safe_join(root, "a", "out", "x")
    with pytest.raises(UnsafePath):
        safe_join(root, "..")
