"""The compiled ``;``-list decimal parser equals the row rule element by element (a pure-Python
reference beside it: the row rule's grammar, ``float(Decimal(text))``, its sign and range rules), for
generated fields of any digits, signs, exponents and garbage, over chunked and sliced Arrow columns."""

from __future__ import annotations

import math
import re
from decimal import Decimal

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from thunderline.market.decimal_lists import decimal_lists

_GRAMMAR = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")  # _build._DEC_RE


def reference(field: str, price: bool) -> tuple[list[float] | None, bool, bool]:
    """(values, rule broken, underflow) of one field as the row rule (canonical._levels / _num) reads it;
    underflow: a nonzero decimal whose float is 0.0, which the kernel flags for the row rule to judge."""
    if field == "":
        return None, False, False
    out, wrong, under = [], False, False
    for t in field.split(";"):
        if t == "":
            out.append(math.nan)
            continue
        if not _GRAMMAR.match(t):
            out.append(math.nan)
            wrong = True
            continue
        d = Decimal(t)
        x = float(d)
        wrong |= (d <= 0 if price else d < 0) or math.isinf(x)
        under |= d != 0 and x == 0.0
        out.append(x)
    return out, wrong, under


_DIGITS = st.text("0123456789", min_size=0, max_size=22)
_NUMBER = st.builds(lambda s, a, p, f, e: f"{s}{a}{p}{f}{e}", st.sampled_from(["", "", "+", "-"]), _DIGITS,
                    st.sampled_from(["", ".", "."]), _DIGITS,
                    st.sampled_from(["", "", "", "e5", "E-3", "e+22", "e-23", "e400", "e-400", "e", "e99999999"]))
_ELEMENT = st.one_of(_NUMBER, st.sampled_from(["", "nan", "inf", "1_0", " 1", "0x1", "1.2.3", "\u00e9", ".", "-",
                                               "0.30000000000000004", "99.99", "1100.0", "5e-324", "1.7976931348623157e308"]))
_FIELD = st.lists(_ELEMENT, min_size=0, max_size=6).map(";".join)


def _same(got: float, want: float) -> bool:
    return (math.isnan(got) and math.isnan(want)) or (got == want and math.copysign(1, got) == math.copysign(1, want))


@settings(max_examples=150, deadline=None)
@given(fields=st.lists(_FIELD, min_size=1, max_size=30), price=st.booleans(), cut=st.integers(0, 30),
       skip=st.integers(0, 3))
def test_decimal_lists_equal_the_row_rule(fields, price, cut, skip):
    arr = pa.array(["1;2"] * skip + fields, pa.string()).slice(skip)  # a sliced array: offsets not at 0
    cut = min(cut, len(fields))
    col = pa.chunked_array([arr.slice(0, cut), arr.slice(cut)])
    lists, present, lens, wrong = decimal_lists(col, price=price)
    got = lists.to_pylist()
    for i, f in enumerate(fields):
        want, broken, under = reference(f, price)
        assert wrong[i] == (broken or under), (f, price)
        assert present[i] == (want is not None) and lens[i] == (0 if want is None else len(want))
        if want is None:
            assert got[i] is None
        elif not wrong[i]:
            assert len(got[i]) == len(want) and all(_same(a, b) for a, b in zip(got[i], want)), (f, got[i], want)


def test_decimal_lists_exact_on_long_significands_and_large_exponents():
    """Elements off the fast path (> 15 significant digits, powers of ten beyond 22) take the exact cast."""
    rng = np.random.default_rng(5)
    xs = rng.lognormal(3, 4, 2_000)
    texts = [repr(float(x)) for x in xs] + ["123456789012345678901234567890", "1e23", "4.9e-324", "0.1e-30"]
    lists, present, lens, wrong = decimal_lists(pa.chunked_array([pa.array([";".join(texts)])]), price=True)
    assert not wrong.any() and lens[0] == len(texts)
    got = np.asarray(lists.values)
    assert [float(Decimal(t)) for t in texts] == got.tolist()
