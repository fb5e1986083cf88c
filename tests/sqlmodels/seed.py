"""A small, hand-checkable warehouse: windows and traces for two symbols, three experts, two days.

Tenant "a" (the hand-computed one):
* AMZN market windows w0..w4, one minute each from 2024-01-02T14:30Z, mid_return
  0.001, 0.002, -0.003, 0.0005, 0.001; traces on every window with blended actions
  buy, sell, hold, buy, abstain. Outcome of trace i = next window's mid_return:
  pnl = +0.002, +0.003, 0, +0.001, pending.
* experts per trace: momentum v1 (champion, weight 0.6, 2 ms, same action as the
  blend), meanrev v3 (champion, weight 0.4, 4 ms, hold — abstain on w2, an error
  flag on w3), nas7 v1 (shadow, weight 0, 10 ms, always buy).
* MSFT: one window and trace on 2024-01-05 (momentum only, buy; label pending).
* one EDGAR window (open).
"""

from __future__ import annotations

T0 = 1_704_205_800_000_000  # 2024-01-02T14:30:00Z in µs
MIN = 60_000_000
DAY = 86_400_000_000
MSFT_T = T0 + 3 * DAY  # 2024-01-05T14:30:00Z

AMZN_RETURNS = [0.001, 0.002, -0.003, 0.0005, 0.001]
AMZN_ACTIONS = ["buy", "sell", "hold", "buy", "abstain"]


def window(i: int, key: str, start: int, features: dict, *, kind="market", status="filled", tenant="a") -> dict:
    return dict(id=f"fw-{tenant}-{key}-{i}", kind=kind, key=key, window_start=start, window_end=start + MIN,
                available_at=start + MIN, feature_schema_version="fs-1", recipe_version="r1", status=status,
                features=features, provenance={}, content_hash=f"h-{key}-{i}")


def act(expert, version, alias, action, weight, latency, flags=()):
    return dict(layer=0, expert=expert, model_version=version, alias=alias, action=action, confidence=0.5,
                latency_ms=latency, weight=weight, flags=list(flags))


def trace(i: int, key: str, start: int, blended: str, actions: list[dict], tenant="a") -> dict:
    return dict(id=f"dt-{tenant}-{key}-{i}", feature_window_id=f"fw-{tenant}-{key}-{i}", symbol=key, window_start=start,
                window_end=start + MIN, router_version="r1", gate_scores=[[0.6, 0.4]],
                selected_experts=[["momentum", "meanrev"]], expert_actions=actions, blended_action=blended,
                blended_confidence=0.7, risk_flags=[], embedding=[0.0, 1.0], content_hash=f"t-{key}-{i}")


def tenant_a_rows() -> tuple[list[dict], list[dict]]:
    windows = [window(i, "AMZN", T0 + i * MIN, {"mid_return": r, "spread_bps": 1.5}) for i, r in enumerate(AMZN_RETURNS)]
    windows.append(window(0, "MSFT", MSFT_T, {"mid_return": 0.0}))
    windows.append(window(0, "1018724", T0, {"n_items": 3.0}, kind="edgar", status="open"))
    traces = []
    for i, blended in enumerate(AMZN_ACTIONS):
        meanrev = act("meanrev", "3", "champion", "abstain" if i == 2 else "hold", 0.4, 4.0,
                      ["error: model raised"] if i == 3 else [])
        traces.append(trace(i, "AMZN", T0 + i * MIN, blended, [
            act("momentum", "1", "champion", blended, 0.6, 2.0), meanrev, act("nas7", "1", "shadow", "buy", 0.0, 10.0),
        ]))
    traces.append(trace(0, "MSFT", MSFT_T, "buy", [act("momentum", "1", "champion", "buy", 1.0, 3.0)]))
    return windows, traces


def tenant_b_rows() -> tuple[list[dict], list[dict]]:
    """Tenant b: two AMZN windows at the same instants as a's (same symbol, experts, router), one sell.

    Ids differ by tenant, as content-derived ids do (the tenant is part of every id's content).
    """
    windows = [window(i, "AMZN", T0 + i * MIN, {"mid_return": r}, tenant="b") for i, r in enumerate([0.01, -0.02])]
    traces = [trace(0, "AMZN", T0, "sell", [act("momentum", "1", "champion", "sell", 1.0, 7.0)], tenant="b")]
    return windows, traces


def seed(warehouse, tenant: str = "a") -> None:
    windows, traces = tenant_a_rows() if tenant == "a" else tenant_b_rows()
    with warehouse.session(tenant) as s:
        s.upsert("feature_windows", windows)
        s.upsert("decision_traces", traces)
