"""LineReader hands out every byte once, as whole lines, with the row path's line ends (LF, CRLF, a lone
CR read as LF, a last line without its end closed, a leading byte-order mark dropped), whatever the
block size, whether read in blocks (``block``) or by line counts (``lines``, the LOBSTER pairing)."""

from __future__ import annotations

import io
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from thunderline.market.columnar import LineReader
from thunderline.market.line_scan import after_nth_line, count_lines

_TOKENS = st.sampled_from([b"a", b"bc,1", b"\n", b"\r", b"\r\n", b"\n\n", b"x" * 40])


def _expected(data: bytes) -> bytes:
    data = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    data = re.sub(rb"\r(?!\n)", b"\n", data)
    return data + b"\n" if data and not data.endswith(b"\n") else data


@settings(max_examples=200, deadline=None)
@given(parts=st.lists(_TOKENS, max_size=40), bom=st.booleans(), block=st.integers(1, 64),
       takes=st.lists(st.integers(1, 5), min_size=1, max_size=8))
def test_line_reader_blocks_and_line_counts(parts, bom, block, takes):
    data = (b"\xef\xbb\xbf" if bom else b"") + b"".join(parts)
    want = _expected(data)
    lr = LineReader(io.BytesIO(data), block)
    got, n = [], 0
    while True:
        out, k = lr.block()
        if k == 0:
            assert out == b""
            break
        assert out.endswith(b"\n") and out.count(b"\n") == k
        got.append(out)
        n += k
    assert b"".join(got) == want and n == want.count(b"\n") and lr.next_line == n + 1
    for pooled in (False, True):  # pooled: a memoryview of a buffer in Arrow's pool, the same bytes
        lr = LineReader(io.BytesIO(data), block, pooled=pooled)
        got, i = [], 0
        while True:
            out, k = lr.lines(takes[i % len(takes)])
            out = bytes(out)
            assert k <= takes[i % len(takes)] and out.count(b"\n") == k
            i += 1
            got.append(out)
            if k < takes[(i - 1) % len(takes)]:
                break
        assert b"".join(got) == want


def test_line_scans():
    data = b"ab\n\ncd\n" * 2_000 + b"tail"
    assert count_lines(data) == 6_000 and count_lines(b"") == 0
    assert after_nth_line(data, 1) == (3, 1) and after_nth_line(data, 2) == (4, 2)
    assert after_nth_line(data, 4_000) == (7 * 1_333 + 3, 4_000)  # past 4 kB: the strided scan
    assert after_nth_line(data, 6_000) == (len(data) - 4, 6_000)
    assert after_nth_line(data, 10**6) == (len(data) - 4, 6_000) and after_nth_line(b"abc", 1) == (0, 0)
