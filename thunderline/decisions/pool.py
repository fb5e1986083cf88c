"""The experts a router version decides with: each routed expert at the model version that version records.

Why pinned, not by alias: every DecisionTrace names its router version and, per expert, the model
version that answered. The ``champion`` alias moves first and the router follows later (the model
promotion sensor publishes a router version for the new champion), so loading by alias would run a
version the trace does not name; and re-deciding an old partition with its old router version must
run the versions that version recorded, or the replay is not the decision it replays.

Guarantees:

* a routed expert whose version the router version records is loaded at exactly that version
  (:meth:`~thunderline.experts.registry.ExpertRegistry.load_version`) and reports the alias
  ``champion`` — the role it plays in the router, which traces keep in their ``alias`` column;
* a router version that records no version for a routed expert (rows written before versions were
  recorded) gets today's champion, with a warning naming expert and router version; the trace then
  carries ``unrouted_version:<expert>`` on that expert's entries (:mod:`thunderline.decisions.pipeline`);
* shadows are not part of the router: every expert with a ``shadow`` alias is loaded by that alias.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Iterable

import pandas as pd

from thunderline.decisions.router_state import RouterState

log = logging.getLogger(__name__)

ROUTED_ROLE = "champion"  # the alias column of a routed expert's trace entries: its role, not a registry lookup


def load_pool(registry, state: RouterState) -> tuple[dict[str, Any], list[Any]]:
    """Every expert ``state`` routes to, at the version it records (champion alias if it records none),
    plus every expert that has a shadow version; each warmed up."""
    experts = load_routed(registry, state)
    shadows = [registry.load(info.name, "shadow") for info in registry.list_experts() if "shadow" in info.aliases]
    for e in [*experts.values(), *shadows]:
        _warm_up(e)
    return experts, shadows


def load_routed(registry, state: RouterState) -> dict[str, Any]:
    """Expert name → the expert ``state`` routes to, at the version it records (champion alias if none)."""
    return {name: _routed(registry, state, name) for name in sorted({e for p in state.pools for e in p})}


def _routed(registry, state: RouterState, name: str):
    version = state.expert_versions.get(name)
    if version in (None, ""):
        log.warning("router version %s records no model version for expert %s: loading its current champion "
                    "(its traces carry unrouted_version:%s; a replay of them is not deterministic)",
                    state.version, name, name)
        return registry.load(name, "champion")
    return dataclasses.replace(registry.load_version(name, version), alias=ROUTED_ROLE)


def release_pool(registry, old: Iterable[Any], keep: Iterable[Any] = ()) -> None:
    """Unbind the pinned versions of ``old`` that ``keep`` does not use, so a long-lived registry (a live
    session following router versions) does not hold every version it ever routed with. Experts loaded by
    alias are left alone: the registry swaps those itself when the alias moves."""
    kept = {(e.name, str(e.version)) for e in keep}
    for e in old:
        key = (e.name, str(e.version))
        if key not in kept:
            registry.unpin(*key)  # a no-op for an expert bound by alias (a shadow, an unrecorded champion)


def _warm_up(expert) -> None:
    """One tiny prediction so the first real batch does not pay lazy loading against its latency budget."""
    example = pd.DataFrame([[0.0] * len(expert.features)], columns=list(expert.features))
    try:
        expert.predict(example)
    except Exception:  # noqa: BLE001 - a broken expert is isolated by the runner on the real batch
        pass
