"""``thunderline gates``: a tenant's router gates — which version it routes with, learn its own, share a seed.

The tenant is ``THUNDERLINE_TENANT`` (as for every command). ``show`` names the version the tenant routes
with and who owns it (the tenant, or ``_shared`` when it has none of its own), its parent, whose outcomes
trained it and each layer's gate; ``train`` learns the tenant's own gates from its realised outcomes only
(starting from the version it routes with) and publishes them as its own version; ``share`` makes one of
the tenant's seeded versions the shared router every tenant without its own falls back to — a version whose
gates were learned from a tenant's outcomes is refused (they would route other tenants).
"""

from __future__ import annotations

import numpy as np

from thunderline.config import load_settings
from thunderline.stores import open_stores


def gates_summary(session) -> dict | None:
    """What ``gates show`` prints, as a dict (None: no own and no shared version)."""
    from thunderline.decisions.router_state import router_history, router_record, state_of_row

    row = router_record(session)
    if row is None:
        return None
    state = state_of_row(row)
    layers = [{"layer": i, "experts": list(pool), "gate_column_norms": [round(float(x), 6) for x in
                                                                         np.linalg.norm(g, axis=0)]}
              for i, (pool, g) in enumerate(zip(state.pools, state.gates))]
    return {"tenant": session.tenant_id, "version": row["version"], "owner": row["owner"],
            "parent": row["parent_version"], "reason": row["reason"],
            "trained_on": row["experts"].get("trained_on"), "own_versions": len(router_history(session)),
            "layers": layers}


def cmd_show(args) -> int:
    import json

    with open_stores(load_settings()) as stores, stores.session() as s:
        out = gates_summary(s)
    if out is None:
        print(f"tenant {stores.tenant_id}: no router version of its own and no shared one (bootstrap experts, "
              "then `thunderline gates share`)")
        return 1
    if args.json:
        print(json.dumps(out, indent=1, sort_keys=True))
        return 0
    whose = "its own" if out["owner"] == out["tenant"] else f"the shared one ({out['owner']})"
    print(f"tenant {out['tenant']} routes with {out['version']}: {whose}; parent {out['parent']}; "
          f"{out['own_versions']} version(s) of its own")
    print(f"  reason: {out['reason']}")
    if out["trained_on"]:
        t = out["trained_on"]
        print(f"  trained on {t['windows']:,} decided windows of tenant {t['tenant_id']} "
              f"(ids sha256 {t['window_ids_sha256'][:16]}…)")
    for layer in out["layers"]:
        cols = ", ".join(f"{e} {n:.3f}" for e, n in zip(layer["experts"], layer["gate_column_norms"]))
        print(f"  layer {layer['layer']}: |W_g column| {cols}")
    return 0


def cmd_train(args) -> int:
    from resources.ticker_map import TickerMapResource
    from thunderline.flow.gate_retraining import GateRetrainError, retrain_router_gates
    from thunderline_cli.errors import CliError

    settings = load_settings()
    with open_stores(settings) as stores:
        try:
            rep = retrain_router_gates(stores.warehouse, stores.tenant_id, stores.registry,
                                       lookback_days=args.lookback_days, min_windows=args.min_windows,
                                       ticker_map=TickerMapResource(path=str(settings.ticker_map)).rows(),
                                       actor="thunderline gates train")
        except GateRetrainError as exc:
            raise CliError(f"tenant {stores.tenant_id}: gates not trained: {exc}") from None
    learned = sum(1 for x in rep.layers if x["learned"])
    print(f"tenant {stores.tenant_id}: gates learned from {rep.windows:,} of its own decided windows "
          f"({learned}/{len(rep.layers)} layers) starting from {rep.previous_version} ({rep.previous_owner}); "
          f"routes with {rep.version}" + ("" if rep.changed else " (unchanged)"))
    return 0


def share_version(settings, version: str | None = None) -> str:
    """Publish the tenant's seeded ``version`` (default: its active one) as the shared router; returns it."""
    from thunderline.decisions.router_state import SHARED_TENANT, publish_router_version, router_record, state_of_row
    from thunderline_cli.errors import CliError

    with open_stores(settings) as stores:
        with stores.session() as s:
            row = router_record(s, version)
        if row is None or row["owner"] != stores.tenant_id:
            raise CliError(f"tenant {stores.tenant_id} has no router version {version or '(active)'} of its own")
        if row["experts"].get("trained_on") or "gates learned" in (row["reason"] or ""):
            raise CliError(f"{row['version']}: its gates were learned from tenant {stores.tenant_id}'s outcomes; "
                           "only a seeded (bootstrap) version can be shared")
        with stores.warehouse.session(SHARED_TENANT) as s:
            return publish_router_version(s, state_of_row(row), parent=row["version"],
                                          reason=f"shared from tenant {stores.tenant_id}'s {row['version']}")


def cmd_share(args) -> int:
    version = share_version(load_settings(), args.version)
    print(f"shared router version {version}: tenants without gates of their own route with it")
    return 0


def demo_lines(settings, other_tenant: str) -> list[str]:
    """The demo's closing look at the gates: the demo tenant's own, and a tenant without any."""
    with open_stores(settings) as stores:
        with stores.session() as s:
            own = gates_summary(s)
        with stores.warehouse.session(other_tenant) as s:
            other = gates_summary(s)
    lines = []
    for out in (own, other):
        if out is None:
            continue
        whose = "its own" if out["owner"] == out["tenant"] else "the shared version"
        t = out["trained_on"]
        lines.append(f"tenant {out['tenant']:8} routes with {out['version']} ({whose}, parent {out['parent']})"
                     + (f", gates learned from {t['windows']:,} of its own decided windows" if t else ""))
    return lines


def register(sub) -> None:
    from thunderline_cli.args import positive_int

    p = sub.add_parser("gates", help="a tenant's router gates: show, train its own, share a seeded version")
    gc = p.add_subparsers(dest="gates_command", required=True)
    sh = gc.add_parser("show", help="the version the tenant routes with, its owner (own or shared) and gates")
    sh.add_argument("--json", action="store_true", help="print the summary as JSON")
    sh.set_defaults(func=cmd_show)
    tr = gc.add_parser("train", help="learn the tenant's own gates from its realised outcomes only")
    tr.add_argument("--lookback-days", type=float, default=31.0, help="evidence period, days of data time (default 31)")
    tr.add_argument("--min-windows", type=positive_int, default=50,
                    help="decided windows with realised labels needed (default 50)")
    tr.set_defaults(func=cmd_train)
    sr = gc.add_parser("share", help="publish one of the tenant's seeded versions as the shared router")
    sr.add_argument("--version", default=None, help="router version (default: the tenant's active one)")
    sr.set_defaults(func=cmd_share)
