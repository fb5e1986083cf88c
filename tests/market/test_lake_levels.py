"""Lake layout ``levels``: rectangular books stored as one plain column per level, read back as the same windows.

Lake files written before the layout (list columns) and before the decimal-tick codec (layout 1, float64
level columns) stay readable, alone or merged in one time-overlapping group with new files, and give
bitwise the same windows and window hashes; ragged books keep the list columns. On the real
AMZN LOBSTER day (1 level) and a synthetic 10-level book.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from thunderline.contracts import book_level_column
from thunderline.flow.market_windows import PartitionWindows, merge_groups
from thunderline.lake_codec import LAKE_LAYOUT, LAKE_LAYOUT_KEY, decimals_of
from thunderline.market import read_ticks
from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks
from thunderline.store.lake import Lake, book_depth_of, level_columns

AMZN = "lobster/AMZN_2012-06-21_34200000_57600000_message_1.csv"


def _windows(batches: list[dict], depth: int | None) -> list[str]:
    pw = PartitionWindows("t", "SYM", depth=depth, batch_rows=5_000)
    out = []
    for group in merge_groups(sorted(batches, key=lambda b: (b["ts_min"], b["id"]))):
        out += pw.feed_group(group)
    out += pw.flush()
    return [w.content_hash for w in out]


def _files(tmp: Path, table: pa.Table, parts: int, *, old: bool | str, tag: str) -> list[dict]:
    """``table`` cut in ``parts`` row ranges, as lake files in the current layout (``old=False``), as list-column
    files (``old=True``, before layout ``levels``) or as layout 1 files (``old="levels"``: float64 level
    columns, dictionary + zstd, before the decimal-tick codec of :mod:`thunderline.lake_codec`)."""
    out, lake = [], Lake(tmp / "lake")
    for i, lo in enumerate(range(0, table.num_rows, -(-table.num_rows // parts))):
        t = table.slice(lo, -(-table.num_rows // parts))
        bid = f"{tag}{i}"
        if old:
            d = tmp / ("old" if old is True else str(old))
            d.mkdir(exist_ok=True)
            path = d / f"{bid}.parquet"
            pq.write_table(t if old is True else level_columns(t), path, compression="zstd")
        else:
            path = lake.write_batch("t", "2024-01", "SYM", bid, t)
        ts = t.column("ts").to_numpy()
        out.append({"id": bid, "path": str(path), "venue": "V", "ts_min": int(ts.min()), "ts_max": int(ts.max())})
    return out


@pytest.fixture(scope="module")
def amzn(market_data) -> pa.Table:
    return pa.Table.from_batches(list(read_ticks(market_data / AMZN, "t")))


@pytest.fixture(scope="module")
def book10() -> pa.Table:
    return pa.Table.from_batches(list(synthetic_ticks(SyntheticSpec(n_ticks=40_000, seed=3, depth=10), "t", 8_192)))


@pytest.mark.parametrize("which", ["amzn", "book10"])
@pytest.mark.parametrize("depth", [None, 1, 5])
def test_level_columns_give_the_windows_of_list_columns(which, depth, request, tmp_path):
    table = request.getfixturevalue(which)
    new = _files(tmp_path, table, 3, old=False, tag="b")  # same batch ids: windows cite them
    assert book_depth_of(pq.read_schema(new[0]["path"])) == (1 if which == "amzn" else 10)
    assert "book_bid_px" not in pq.read_schema(new[0]["path"]).names
    old = _files(tmp_path, table, 3, old=True, tag="b")
    layout1 = _files(tmp_path, table, 3, old="levels", tag="b")
    assert LAKE_LAYOUT_KEY not in pq.read_schema(layout1[0]["path"]).metadata
    assert pq.read_schema(new[0]["path"]).metadata[LAKE_LAYOUT_KEY] == LAKE_LAYOUT
    assert decimals_of(pq.read_schema(new[0]["path"]).field("bid_px")) == 2  # cents: the codec really ran
    expect = _windows(old, depth)
    assert len(expect) > 10
    assert _windows(new, depth) == expect
    assert _windows(layout1, depth) == expect


def test_a_group_mixing_old_and_new_files_merges_like_old_files(book10, tmp_path):
    """Two feeds of the same interval (even/odd ticks) overlap in time: one merged group. One old
    file and one new file give the windows of two old files."""
    even, odd = book10.take(pa.array(np.arange(0, book10.num_rows, 2))), book10.take(
        pa.array(np.arange(1, book10.num_rows, 2)))
    both_old = _files(tmp_path, even, 1, old=True, tag="a") + _files(tmp_path, odd, 1, old=True, tag="b")
    mixed = _files(tmp_path, even, 1, old=True, tag="a") + _files(tmp_path, odd, 1, old=False, tag="b")
    assert len(merge_groups(sorted(mixed, key=lambda b: b["ts_min"]))) == 1
    assert _windows(mixed, None) == _windows(both_old, None)
    mixed1 = _files(tmp_path, even, 1, old="levels", tag="a") + _files(tmp_path, odd, 1, old=False, tag="b")
    assert _windows(mixed1, None) == _windows(both_old, None)


def test_ragged_or_missing_books_keep_their_list_columns(book10):
    t = book10.slice(0, 100)
    i = t.schema.get_field_index("book_bid_px")
    ragged = t.set_column(i, t.schema.field(i), pa.array([[1.0, 2.0]] + [[1.0]] * 99, pa.list_(pa.float64())))
    assert level_columns(ragged) is ragged
    nulls = t.set_column(i, t.schema.field(i), pa.array([None] * 100, pa.list_(pa.float64())))
    assert level_columns(nulls) is nulls
    flat = level_columns(t)
    assert book_depth_of(flat.schema) == 10 and flat.num_rows == 100
    np.testing.assert_array_equal(flat.column(book_level_column("book_ask_sz", 3)).to_numpy(),
                                  np.array(t.column("book_ask_sz").to_pylist())[:, 2])


@pytest.mark.parametrize("which", ["amzn", "book10"])
def test_a_lake_file_reads_back_as_the_tick_rows_written(which, request, tmp_path):
    from thunderline.market.canonical import ticks_sha256
    from thunderline.store.lake import read_lake_ticks

    table = request.getfixturevalue(which)
    path = Lake(tmp_path).write_batch("t", "2024-01", "SYM", "b0", table)
    back = read_lake_ticks(path)
    assert back.num_rows == table.num_rows and back.column_names == table.column_names
    assert ticks_sha256([back]) == ticks_sha256([table])
