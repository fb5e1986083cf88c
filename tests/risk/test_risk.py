"""Risk hooks: deny map, flags → abstain, position / notional limits, abstain fraction; vectorised."""

import logging

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thunderline.risk import (
    FLAG_ABSTAIN_FRACTION,
    FLAG_BAD_ACTION,
    FLAG_BAD_CONFIDENCE,
    FLAG_BAD_POSITION,
    FLAG_BAD_PRICE,
    FLAG_DENY,
    FLAG_LOW_CONFIDENCE,
    FLAG_MAX_NOTIONAL,
    FLAG_MAX_POSITION,
    RiskConfig,
    apply_risk,
    deny_pairs,
)

CONFIG = RiskConfig.from_mapping({
    "deny": {"acme": ["AMZN"], "*": ["GME"], "frozen": "*"},
    "limits": {"acme": {"max_position": 10, "max_notional": 1_000, "order_size": 2}},
    "default_limits": {"max_position": 100},
})


def run(actions, *, tenant="acme", symbol="AAPL", conf=0.8, price=50.0, pos=0.0, flags=None, config=CONFIG):
    return apply_risk(tenant, symbol, actions, conf, price, pos, flags, config=config)


def test_config_is_validated_with_the_setting_named():
    with pytest.raises(ValueError, match=r"limits.acme.max_position: Input should be greater than 0"):
        RiskConfig.from_mapping({"limits": {"acme": {"max_position": -1}}})
    with pytest.raises(ValueError, match="deny: 'Not A Tenant' is not a tenant id"):
        RiskConfig.from_mapping({"deny": {"Not A Tenant": ["X"]}})
    with pytest.raises(ValueError, match=r"deny\['acme'\]: symbol ' AMZN'"):
        RiskConfig.from_mapping({"deny": {"acme": [" AMZN"]}})
    with pytest.raises(ValueError, match="max_abstain_fraction"):
        RiskConfig.from_mapping({"max_abstain_fraction": 1.5})
    with pytest.raises(ValueError, match="max_postion"):
        RiskConfig.from_mapping({"default_limits": {"max_postion": 5}})  # typo: extra keys are refused
    with pytest.raises(ValueError, match="risk layer's own flags"):
        RiskConfig.from_mapping({"advisory_flag_prefixes": ["risk."]})
    assert list(deny_pairs(CONFIG)) == [("*", "GME"), ("acme", "AMZN"), ("frozen", "*")]
    with pytest.raises(Exception):
        CONFIG.max_abstain_fraction = 0.0  # frozen


def test_deny_map_halts_every_action_including_hold():
    acts, flags = run(["buy", "hold", "sell", "buy"], symbol=["AMZN", "AMZN", "GME", "AAPL"])
    assert acts.tolist() == ["abstain", "abstain", "abstain", "buy"]
    assert flags == [[FLAG_DENY], [FLAG_DENY], [FLAG_DENY], []]
    other, _ = run(["buy", "buy"], tenant="zeta", symbol=["AMZN", "GME"])  # AMZN is only denied for acme
    assert other.tolist() == ["buy", "abstain"]
    frozen, _ = run(["hold", "sell"], tenant="frozen", symbol=["AAPL", "MSFT"])  # "*" = every symbol
    assert frozen.tolist() == ["abstain", "abstain"]


def test_any_risk_flag_turns_the_action_into_abstain_and_is_kept(caplog):
    cfg = RiskConfig.from_mapping({"advisory_flag_prefixes": ["latency_budget:shadow_"]})
    incoming = [["expert_error:flow"], ["latency_budget:shadow_x"], [], ["latency_budget:mom"]]
    with caplog.at_level(logging.WARNING, logger="thunderline.risk.apply"):
        acts, flags = run(["buy", "sell", "hold", "hold"], flags=incoming, config=cfg)
    assert acts.tolist() == ["abstain", "sell", "hold", "abstain"]
    assert flags == incoming  # nothing added: the incoming flag is the reason, and it is logged
    assert "2 of 4 windows abstain" in caplog.text and "incoming_flags=2" in caplog.text


def test_position_and_notional_limits_only_stop_trades_that_add_exposure():
    # acme: max_position 10, max_notional 1000, order_size 2; price 50 → notional limit binds at 20 units
    acts, flags = run(["buy", "buy", "sell", "sell", "buy", "hold"], pos=[8.0, 9.0, 9.0, -9.0, -12.0, 50.0])
    assert acts.tolist() == ["buy", "abstain", "sell", "abstain", "buy", "hold"]
    assert flags[1] == [FLAG_MAX_POSITION] and flags[3] == [FLAG_MAX_POSITION]
    assert flags[4] == []  # -12 → -10 reduces exposure even though it is beyond the limit
    acts, flags = run(["buy", "buy"], price=[400.0, 600.0], pos=[0.0, 0.0])  # 2 units × 600 > 1000
    assert acts.tolist() == ["buy", "abstain"] and flags[1] == [FLAG_MAX_NOTIONAL]
    acts, flags = run(["buy", "buy", "sell"], price=[np.nan, 50.0, 0.0], pos=[0.0, np.nan, 5.0])
    assert acts.tolist() == ["abstain", "abstain", "sell"]  # the sell reduces: no price needed
    assert flags[:2] == [[FLAG_BAD_PRICE], [FLAG_BAD_POSITION]]
    # a tenant without its own entry gets the default limits
    acts, flags = run(["buy"], tenant="zeta", pos=100.0)
    assert acts.tolist() == ["abstain"] and flags == [[FLAG_MAX_POSITION]]


def test_confidence_checks_and_unknown_actions():
    cfg = RiskConfig.from_mapping({"min_confidence": 0.55})
    acts, flags = run(["buy", "sell", "hold", "buy", "yolo"], conf=[0.9, 0.5, 0.1, np.nan, 0.9], config=cfg)
    assert acts.tolist() == ["buy", "abstain", "hold", "abstain", "abstain"]
    assert flags[1:] == [[FLAG_LOW_CONFIDENCE], [], [FLAG_BAD_CONFIDENCE], [FLAG_BAD_ACTION]]


def test_too_many_abstentions_halt_the_whole_batch():
    cfg = RiskConfig.from_mapping({"max_abstain_fraction": 0.5})
    acts, flags = run(["buy", "abstain", "abstain", "sell"], config=cfg)
    assert acts.tolist() == ["buy", "abstain", "abstain", "sell"]  # exactly 0.5 is allowed
    acts, flags = run(["buy", "abstain", "abstain", "abstain"], config=cfg)
    assert set(acts) == {"abstain"} and all(FLAG_ABSTAIN_FRACTION in f for f in flags)


def test_shapes_are_checked():
    with pytest.raises(ValueError, match=r"prices has shape \(2,\); expected a scalar or \(3,\)"):
        run(["buy"] * 3, price=[1.0, 2.0])
    with pytest.raises(ValueError, match="2 flag lists for 3 windows"):
        run(["buy"] * 3, flags=[[], []])
    acts, flags = run([])
    assert acts.tolist() == [] and flags == []


def window(action, symbol, conf, price, pos, flag):
    return action, symbol, conf, price, pos, [flag] if flag else []


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(
    st.sampled_from(["buy", "sell", "hold", "abstain"]),
    st.sampled_from(["AAPL", "AMZN", "GME", "MSFT"]),
    st.sampled_from([0.0, 0.3, 0.8, 1.0, np.nan]),
    st.sampled_from([10.0, 50.0, 400.0, np.nan]),
    st.sampled_from([-12.0, -9.0, 0.0, 8.0, 9.0, 20.0, np.nan]),
    st.sampled_from([None, "expert_error:x", "latency_budget:y"]),
), min_size=1, max_size=12))
def test_batch_equals_window_by_window(rows):
    """Vectorised over the batch, with no window affecting another (abstain-fraction rule off)."""
    rows = [window(*r) for r in rows]
    cols = list(zip(*rows))
    acts, flags = apply_risk("acme", np.array(cols[1], dtype=object), list(cols[0]), np.array(cols[2]),
                             np.array(cols[3]), np.array(cols[4]), list(cols[5]), config=CONFIG)
    for i, (a, s, c, p, q, f) in enumerate(rows):
        one_a, one_f = apply_risk("acme", s, [a], c, p, q, [f], config=CONFIG)
        assert (acts[i], flags[i]) == (one_a[0], one_f[0])
        assert acts[i] in ("buy", "sell", "hold", "abstain")
        if acts[i] != a:
            assert acts[i] == "abstain" and (flags[i] != f or f)
