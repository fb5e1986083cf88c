"""Shared pieces of the fuzz tests: budget, hostile values, mutations and the accounting check.

Budget: ``THUNDERLINE_FUZZ_EXAMPLES`` examples per test (default 40: the CI suite stays well
under two minutes); ``make fuzz`` raises it. Runs are derandomized (a fixed seed per test, so
CI is reproducible) unless ``THUNDERLINE_FUZZ_RANDOM=1`` asks for fresh randomness; a failing
example is printed by hypothesis and can be replayed with ``@reproduce_failure``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from thunderline.identifiers import is_symbol
from thunderline.timebounds import supported_range_us

EXAMPLES = int(os.environ.get("THUNDERLINE_FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=os.environ.get("THUNDERLINE_FUZZ_RANDOM") != "1",
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                           HealthCheck.function_scoped_fixture],
)

LO, HI = supported_range_us()

#: values an attacker or a broken exporter puts in a field
HOSTILE_TEXT = [
    "", " ", "-", "+", "0", "-0", "-5", "1e309", "-1e309", "NaN", "nan", "inf", "-inf", "Infinity", "1e-400",
    "12345678901234567890", "-98765432109876543210", "9223372036854775807", "9223372036854775808",
    "-9223372036854775809", "0x10", "1_000", "１２３", "1.2.3", "..", "../../../../etc/passwd", "A|B", "a/b",
    "a\\b", "\x00", "X\x00Y", "\x07", "\x1f", "\ufeff", "é", "\u2028", '"', '""', '"a,b"', "a,b", ";", ";;",
    "true", "false", "null", "[]", "{}", "x" * 300, "9" * 400, "﷽", "\t", "buy", "sell", "snap", "set",
]
INTS = st.one_of(st.integers(min_value=-(10**25), max_value=10**25), st.integers(min_value=LO - 10**6, max_value=HI + 10**6),
                 st.sampled_from([0, -1, -5, LO, HI, HI - 1, 2**63 - 1, -(2**63), 2**63, 2**64]))
FLOATS = st.floats(allow_nan=True, allow_infinity=True)


def field_text() -> st.SearchStrategy[str]:
    """Text for one CSV field: numbers, hostile tokens, and arbitrary short text (no line breaks)."""
    return st.one_of(
        st.sampled_from(HOSTILE_TEXT),
        INTS.map(str),
        FLOATS.map(repr),
        st.decimals(allow_nan=False, allow_infinity=False, places=6).map(str),
        st.text(alphabet=st.characters(blacklist_characters="\r\n,", blacklist_categories=("Cs",)), max_size=12),
    )


def lines_of(data: bytes) -> list[str]:
    """The data lines a text reader sees after the header (UTF-8 with replacement, \\n / \\r / \\r\\n ends)."""
    text = data.decode("utf-8", "replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    parts = re.split(r"\r\n|\r|\n", text)
    if parts and parts[-1] == "":
        parts.pop()
    return parts


@st.composite
def mutated(draw, data: bytes, *, max_ops: int = 4) -> bytes:
    """``data`` after a few line- and byte-level mutations of the kinds real damage takes."""
    lines = data.split(b"\n")
    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(st.sampled_from(["field", "flip", "drop", "dup", "swap", "truncate", "insert", "bom", "crlf", "cut"]))
        i = draw(st.integers(0, max(0, len(lines) - 1)))
        if op == "field" and lines:
            cols = lines[i].split(b",")
            j = draw(st.integers(0, len(cols) - 1))
            cols[j] = draw(field_text()).encode("utf-8", "surrogatepass")
            lines[i] = b",".join(cols)
        elif op == "flip" and lines and lines[i]:
            k = draw(st.integers(0, len(lines[i]) - 1))
            b = bytearray(lines[i])
            b[k] = draw(st.integers(0, 255))
            lines[i] = bytes(b)
        elif op == "drop" and len(lines) > 1:
            del lines[i]
        elif op == "dup" and lines:
            lines.insert(i, lines[i])
        elif op == "swap" and len(lines) > 2:
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "truncate" and lines and lines[i]:
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        elif op == "insert":
            lines.insert(i, draw(st.binary(max_size=40)))
        elif op == "bom":
            lines[0] = b"\xef\xbb\xbf" + lines[0]
        elif op == "crlf" and lines:
            lines[i] = lines[i] + b"\r"
        elif op == "cut":
            lines = lines[: max(1, i)]
    return b"\n".join(lines)


def head_bytes(path: Path, n_lines: int) -> bytes:
    """The first ``n_lines`` lines of a (large) real file, read at test time."""
    out = []
    with open(path, "rb") as fh:
        for _ in range(n_lines):
            line = fh.readline()
            if not line:
                break
            out.append(line)
    return b"".join(out)


def check_kept_rows(batches) -> None:
    """Rows a reader keeps never carry what the admission screen refuses."""
    for b in batches:
        if b.num_rows == 0:
            continue
        for name in ("symbol", "venue"):
            for v in set(b.column(name).to_pylist()):
                assert isinstance(v, str) and (is_symbol(v) if name == "symbol" else _venue_ok(v)), (name, v)
        ts = b.column("ts").to_pylist()
        assert all(LO <= t < HI for t in ts), (min(ts), max(ts))


def _venue_ok(v: str) -> bool:
    from thunderline.identifiers import InvalidIdentifier, check_venue

    try:
        check_venue(v)
        return True
    except InvalidIdentifier:
        return False


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` with (size, mtime_ns): to prove a run touched nothing else."""
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            try:
                st_ = os.stat(p)
            except FileNotFoundError:
                continue
            out[p] = (st_.st_size, st_.st_mtime_ns)
    return out
