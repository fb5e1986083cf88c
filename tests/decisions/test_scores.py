"""The continuous decision: signed scores blended into one conviction, actions from fitted thresholds.

Semantics under test (``thunderline.experts.blend``): the blended score is the weight-averaged,
α-scaled signed score of the live experts (abstaining, zero-weight experts never count), it stays in
[−1, 1], it is 0 with an ``abstain`` action when no expert is live; the discrete action is ``buy``
strictly above the buy threshold, ``sell`` strictly below minus the sell threshold, ``hold`` between.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thunderline.decisions.router_state import BlendSpec
from thunderline.experts.blend import ABSTAIN, BUY, HOLD, SELL, blend_scores, score_actions
from thunderline.experts.runner import _check_output


def test_blend_is_the_weighted_mean_of_live_scaled_scores():
    codes = np.array([[BUY, SELL, ABSTAIN], [HOLD, HOLD, HOLD]], dtype=np.int8)
    scores = np.array([[0.8, -0.4, 0.9], [0.1, -0.3, 0.0]])
    weights = np.array([[0.5, 0.5, 5.0], [1.0, 0.0, 1.0]])
    z, Z = blend_scores(codes, scores, weights, scale=np.array([1.0, 0.5, 1.0]))
    # window 0: the abstaining expert's weight and score do not count
    assert z[0] == pytest.approx((0.5 * 0.8 + 0.5 * 0.5 * -0.4) / 1.0)
    assert Z[0] == pytest.approx(1.0)
    # window 1: a zero-weight expert does not count
    assert z[1] == pytest.approx((0.1 + 0.0) / 2.0)


def test_an_expert_scaled_to_zero_cannot_move_the_blend():
    codes = np.array([[BUY, SELL]], dtype=np.int8)
    z1, _ = blend_scores(codes, [[0.5, -1.0]], [[0.5, 0.5]], scale=[1.0, 0.0])
    z2, _ = blend_scores(codes, [[0.5, 1.0]], [[0.5, 0.5]], scale=[1.0, 0.0])
    assert z1[0] == z2[0] == pytest.approx(0.25)


def test_thresholds_are_strict_and_no_live_expert_abstains():
    z = np.array([0.3, 0.30000001, -0.1, -0.10000001, 0.0, 0.9])
    Z = np.array([1, 1, 1, 1, 1, 0.0])
    codes, conf = score_actions(z, Z, (0.3, 0.1))
    assert codes.tolist() == [HOLD, BUY, HOLD, SELL, HOLD, ABSTAIN]
    assert conf[1] == pytest.approx(0.30000001) and conf[0] == pytest.approx(0.7) and conf[5] == 0.0


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 6), st.integers(1, 5), st.data())
def test_blended_score_in_unit_interval_and_sign_agrees_with_action(n, k, data):
    unit = st.floats(-1, 1, allow_nan=False)
    codes = np.array(data.draw(st.lists(st.sampled_from([BUY, SELL, HOLD, ABSTAIN]), min_size=n * k,
                                        max_size=n * k)), dtype=np.int8).reshape(n, k)
    scores = np.array(data.draw(st.lists(unit, min_size=n * k, max_size=n * k))).reshape(n, k)
    weights = np.array(data.draw(st.lists(st.floats(0, 10), min_size=n * k, max_size=n * k))).reshape(n, k)
    scale = np.array(data.draw(st.lists(st.floats(0, 1), min_size=k, max_size=k)))
    tb, ts = data.draw(st.floats(0, 1)), data.draw(st.floats(0, 1))
    z, Z = blend_scores(codes, scores, weights, scale)
    assert np.all(np.abs(z) <= 1.0)
    act, conf = score_actions(z, Z, (tb, ts))
    assert np.all((conf >= 0) & (conf <= 1))
    assert np.all(z[act == BUY] > tb) and np.all(z[act == SELL] < -ts)
    assert np.all(z[Z <= 0] == 0.0) and np.all(act[Z <= 0] == ABSTAIN)


def test_blend_spec_validates_and_round_trips():
    spec = BlendSpec((0.2, 0.25), {"a": 1.0, "b": 0.0}, 1000, {"n": 5})
    assert BlendSpec.from_json(spec.to_json()) == spec
    with pytest.raises(ValueError, match="thresholds"):
        BlendSpec((1.5, 0.1))
    with pytest.raises(ValueError, match="scale of 'x'"):
        BlendSpec((0.1, 0.1), {"x": 2.0})


def test_runner_reads_scores_and_rejects_out_of_range():
    out = pd.DataFrame({"action": ["buy", "abstain", "sell"], "confidence": [0.6, 0.0, 0.7],
                        "prob_buy": [0.6, np.nan, 0.1], "prob_sell": [0.1, np.nan, 0.7]})
    _, _, s = _check_output(out, 3)
    np.testing.assert_allclose(s, [0.5, 0.0, -0.6])
    out["score"] = [0.5, np.nan, -1.5]
    with pytest.raises(ValueError, match="score -1.5 at window 2"):
        _check_output(out, 3)
