"""Blending: confidence × weight votes; shadow experts never change the result (property-tested)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thunderline.experts import blend

ACTS = ["buy", "sell", "hold", "abstain"]
# Multiples of 1/8 in [0, 1]: sums of a few of them are exact in float64, so results can be compared
# bitwise however the experts are ordered or dropped.
EIGHTHS = st.integers(0, 8).map(lambda k: k / 8)


@st.composite
def batches(draw):
    n = draw(st.integers(1, 6))
    k = draw(st.integers(1, 5))
    cell = st.tuples(st.sampled_from(ACTS), EIGHTHS, EIGHTHS)
    rows = draw(st.lists(st.lists(cell, min_size=k, max_size=k), min_size=n, max_size=n))
    acts = np.array([[c[0] for c in r] for r in rows], dtype=object)
    conf = np.array([[c[1] for c in r] for r in rows])
    w = np.array([[c[2] for c in r] for r in rows])
    shadow = np.array(draw(st.lists(st.booleans(), min_size=k, max_size=k)))
    return acts, conf, w, shadow


@settings(max_examples=150, deadline=None)
@given(batch=batches(), junk=st.data())
def test_shadow_experts_never_change_the_blend(batch, junk):
    acts, conf, w, shadow = batch
    base_a, base_c = blend(acts, conf, w, shadow)
    # anything at all in the shadow columns — other actions, confidences, weights, even garbage
    acts2, conf2, w2 = acts.copy(), conf.copy(), w.copy()
    for j in np.flatnonzero(shadow):
        acts2[:, j] = junk.draw(st.sampled_from(ACTS + ["not-an-action"]))
        conf2[:, j] = junk.draw(st.sampled_from([0.0, 1.0, 7.5, -1.0, np.nan]))
        w2[:, j] = junk.draw(st.sampled_from([0.0, 1.0, 1e300, np.nan]))
    a2, c2 = blend(acts2, conf2, w2, shadow)
    np.testing.assert_array_equal(a2, base_a)
    np.testing.assert_array_equal(c2, base_c)
    # and it is the blend of the live experts alone
    live = ~shadow
    if live.any():
        a3, c3 = blend(acts[:, live], conf[:, live], w[:, live])
        np.testing.assert_array_equal(a3, base_a)
        np.testing.assert_array_equal(c3, base_c)
    else:
        assert set(base_a) == {"abstain"} and not base_c.any()


@settings(max_examples=100, deadline=None)
@given(batch=batches())
def test_blend_is_in_contract_and_order_and_scale_free(batch):
    acts, conf, w, shadow = batch
    a, c = blend(acts, conf, w, shadow)
    assert set(a) <= {"buy", "sell", "hold", "abstain"}
    assert ((c >= 0) & (c <= 1)).all()
    live = (~shadow[None, :]) & (acts != "abstain") & (w > 0)
    np.testing.assert_array_equal(a == "abstain", ~live.any(axis=1))
    perm = np.arange(acts.shape[1])[::-1]
    pa, pc = blend(acts[:, perm], conf[:, perm], w[:, perm], shadow[perm])
    np.testing.assert_array_equal(pa, a)
    np.testing.assert_array_equal(pc, c)
    sa, sc = blend(acts, conf, 4.0 * w, shadow)
    np.testing.assert_array_equal(sa, a)
    np.testing.assert_array_equal(sc, c)


def test_worked_examples():
    acts = np.array([
        ["buy", "buy", "sell"],      # 0.6·0.5 + 0.8·0.25 − 0.4·0.25 → buy 0.4
        ["buy", "sell", "hold"],     # buy and sell cancel, hold 0.5·0.5 → hold 0.25
        ["buy", "sell", "abstain"],  # exact tie between buy and sell → hold 0
        ["abstain", "abstain", "abstain"],
    ], dtype=object)
    conf = np.array([[0.6, 0.8, 0.4], [0.5, 0.5, 0.5], [0.5, 0.5, 0.9], [0.9, 0.9, 0.9]])
    w = np.array([[0.5, 0.25, 0.25], [0.25, 0.25, 0.5], [0.5, 0.5, 0.0], [1.0, 0.0, 0.0]])
    a, c = blend(acts, conf, w)
    assert a.tolist() == ["buy", "hold", "hold", "abstain"]
    np.testing.assert_allclose(c, [0.4, 0.25, 0.0, 0.0], atol=1e-15)
    # router weight 0 means "not kept": that expert does not count at all
    a, c = blend(np.array([["sell", "buy"]], dtype=object), [[1.0, 0.5]], [[0.0, 1.0]])
    assert (a.tolist(), c.tolist()) == (["buy"], [0.5])


def test_invalid_live_inputs_are_named():
    with pytest.raises(ValueError, match=r"actions\[0, 1\] = 'moon'"):
        blend([["buy", "moon"]], [[0.5, 0.5]], [[1.0, 1.0]])
    with pytest.raises(ValueError, match=r"confidences\[0, 0\] = 1.5"):
        blend([["buy"]], [[1.5]], [[1.0]])
    with pytest.raises(ValueError, match=r"weights\[0, 0\]"):
        blend([["buy"]], [[0.5]], [[-1.0]])
    with pytest.raises(ValueError, match="shape"):
        blend([["buy"]], [[0.5, 0.5]], [[1.0]])
    with pytest.raises(ValueError, match="shadow_mask"):
        blend([["buy"]], [[0.5]], [[1.0]], shadow_mask=[True, False])
