"""The compiled CSV tokenizer equals the row rules field by field (a pure-Python reference beside it: the
row rules' grammar, ``float(Decimal(text))``, their sign and range rules), for generated lines of any
digits, signs, exponents and garbage, at any position in a block (the eight-byte reads near its end)."""

from __future__ import annotations

import math
import re
from decimal import Decimal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from thunderline.market import csv_tokens as ct

_GRAMMAR = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")  # _build._DEC_RE
_INT = re.compile(r"[+-]?[0-9]+\Z")  # _build._INT_RE


def ref_decimal(t: str, price: bool, empty_ok: bool) -> tuple[float, bool]:
    """(value, row flagged) of one decimal as the row rule reads it; flagged also for a nonzero decimal
    whose float is 0.0 (the tokenizer leaves those to the row rule)."""
    if t == "":
        return math.nan, not empty_ok
    if not _GRAMMAR.match(t):
        return math.nan, True
    d = Decimal(t)
    x = float(d)
    return x, (d <= 0 if price else d < 0) or math.isinf(x) or (d != 0 and x == 0.0)


def ref_list(field: str, price: bool) -> tuple[list[float] | None, bool]:
    if field == "":
        return None, False
    out, flagged = [], False
    for t in field.split(";"):
        x, f = ref_decimal(t, price, True)
        out.append(x)
        flagged |= f
    return out, flagged


def ref_int(t: str, empty_ok: bool) -> tuple[int, bool]:
    if t == "":
        return 0, not empty_ok
    if not _INT.match(t) or len(t.lstrip("+-")) > 18:
        return 0, True
    return int(t), False


_DIGITS = st.text("0123456789", min_size=0, max_size=22)
_NUMBER = st.builds(lambda s, a, p, f, e: f"{s}{a}{p}{f}{e}", st.sampled_from(["", "", "+", "-"]), _DIGITS,
                    st.sampled_from(["", ".", "."]), _DIGITS,
                    st.sampled_from(["", "", "", "e5", "E-3", "e+22", "e-23", "e400", "e-400", "e", "e99999999"]))
_ELEMENT = st.one_of(_NUMBER, st.sampled_from(["", "nan", "inf", "1_0", " 1", "0x1", "1.2.3", "\u00e9", ".", "-",
                                               "0.30000000000000004", "99.99", "1100.0", "5e-324", '"1"',
                                               "1.7976931348623157e308", "9007199254740993", "12345678.5"]))
_FIELD = st.lists(_ELEMENT, min_size=0, max_size=6).map(";".join)
_TEXT = st.sampled_from(["NASDAQ", "AMZN", "", "a b", '"q"', "\u00e9t\u00e9", "x;y"])
_LAYOUT = ct.Layout((ct.DICT, ct.INT, ct.INT, ct.DEC, ct.DEC, ct.LIST, ct.LIST, ct.SKIP),
                    (0, 0, ct.EMPTY_OK, ct.PRICE | ct.EMPTY_OK, 0, ct.PRICE, 0, 0))


def _same(got: float, want: float) -> bool:
    return (math.isnan(got) and math.isnan(want)) or (got == want and math.copysign(1, got) == math.copysign(1, want))


@st.composite
def _line(draw) -> tuple[str, list[str]]:
    f = [draw(_TEXT), draw(st.one_of(_DIGITS, _ELEMENT)), draw(st.one_of(_DIGITS, _ELEMENT)), draw(_ELEMENT),
         draw(_ELEMENT), draw(_FIELD), draw(_FIELD), draw(_TEXT)]
    how = draw(st.integers(0, 9))
    line = ",".join(f)
    if how == 0:
        line = line[:draw(st.integers(0, len(line)))]  # truncated
    elif how == 1:
        line += ",7"  # an extra field
    return line + draw(st.sampled_from(["\n", "\r\n"])), f if how > 1 else []


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(_line(), min_size=1, max_size=25), quotes_bad=st.booleans())
def test_tokenizer_equals_the_row_rules(lines, quotes_bad):
    layout = ct.Layout(_LAYOUT.roles, _LAYOUT.rules, quotes_bad)
    t = ct.tokenize("".join(x for x, _ in lines).encode(), len(lines), layout)
    for i, (raw, f) in enumerate(lines):
        body = raw.rstrip("\r\n")
        fields = body.split(",")
        if len(fields) != 8 or (quotes_bad and '"' in body):
            assert t.bad[i], raw
            continue
        (a, fa), (b, fb) = ref_int(fields[1], False), ref_int(fields[2], True)
        (x, fx), (y, fy) = ref_decimal(fields[3], True, True), ref_decimal(fields[4], False, False)
        (p, fp), (q, fq) = ref_list(fields[5], True), ref_list(fields[6], False)
        assert t.bad[i] == (fa or fb or fx or fy or fp or fq), raw
        if t.bad[i]:
            continue
        assert t.dicts[0][t.codes[0, i]] == fields[0]
        assert (t.ints[0, i], t.ints[1, i]) == (a, b)
        assert _same(t.decs[0, i], x) and _same(t.decs[1, i], y), (raw, t.decs[:, i])
        assert bool(t.dflag[0, i] & ct.EMPTY) == (fields[3] == "") and t.dwidth[0, i] == len(fields[3])
        for j, want in ((0, p), (1, q)):
            got = t.lists[j][i].as_py()
            assert (got is None) == (want is None) and t.lens[j, i] == (0 if want is None else len(want))
            assert want is None or all(_same(u, v) for u, v in zip(got, want)), (raw, got, want)


@settings(max_examples=100, deadline=None)
@given(ip=st.text("0123456789", max_size=10), fp=st.text("0123456789", max_size=10), sign=st.sampled_from(["", "-", "+"]),
       pad=st.integers(0, 40), dot=st.booleans())
def test_eight_byte_reads_anywhere_in_a_block(ip, fp, sign, pad, dot):
    """The eight-bytes-at-a-time path, the byte path near the block's end and every digit count agree."""
    text = sign + ip + ("." + fp if dot else "")
    line = f"{'x' * pad},{text}\n".encode()
    layout = ct.Layout((ct.SKIP, ct.DEC), (0, ct.EMPTY_OK))
    t = ct.tokenize(line * 3, 3, layout)
    want, flagged = ref_decimal(text, False, True)
    assert t.bad.tolist() == [flagged] * 3
    if not flagged:
        assert all(_same(v, want) for v in t.decs[0]), (text, t.decs[0], want)


def test_exact_on_long_significands_and_large_exponents():
    """Elements off the fast path (> 2**53 significands, powers of ten beyond 22) take the exact cast."""
    rng = np.random.default_rng(5)
    texts = [repr(float(x)) for x in rng.lognormal(3, 4, 2_000)]
    texts += ["123456789012345678901234567890", "1e23", "4.9e-324", "0.1e-30", "9007199254740993", "0.0000000000000000000001"]
    t = ct.tokenize((";".join(texts) + "," + texts[0] + "\n").encode(), 1, ct.Layout((ct.LIST, ct.DEC), (ct.PRICE, ct.PRICE)))
    assert not t.bad.any() and t.lens[0, 0] == len(texts)
    assert t.lists[0][0].as_py() == [float(Decimal(x)) for x in texts] and t.decs[0, 0] == float(Decimal(texts[0]))


def test_many_distinct_texts_grow_the_dictionary():
    lines = "".join(f"s{i % 300},{i}\n" for i in range(1_000)).encode()
    t = ct.tokenize(lines, 1_000, ct.Layout((ct.DICT, ct.INT), (0, 0)))
    assert [t.dicts[0][c] for c in t.codes[0]] == [f"s{i % 300}" for i in range(1_000)]
    assert t.ints[0].tolist() == list(range(1_000))


def test_lists_of_unequal_lengths_grow_the_room():
    """One list holding every ';' of a block outgrows the room for the mean list: the block is read again."""
    lines = "".join(f"{';'.join(['1.5'] * 40)},7,,\n" if i % 2 else "2,,,\n" for i in range(200)).encode()
    t = ct.tokenize(lines, 200, ct.Layout((ct.LIST,) * 4, (ct.PRICE, 0, 0, 0)))
    assert not t.bad.any()
    assert t.lens[0].tolist() == [1, 40] * 100 and t.lens[1].tolist() == [0, 1] * 100 and not t.lens[2:].any()
    assert t.lists[0][1].as_py() == [1.5] * 40 and t.lists[1][0].as_py() is None
