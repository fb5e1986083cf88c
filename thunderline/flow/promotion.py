"""Router promotion: when MLflow champions move, the active router version follows them.

Why: every DecisionTrace names its router version, and a router version records
the expert versions it routes to. When a champion alias moves to another model
version, decisions made after that must carry a router version that says so.
:func:`promote_champions` derives the new state (same gates and pools, new
``expert_versions``) and publishes it atomically; publishing a state whose content
already exists re-activates that version (a rollback restores the old version id).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Mapping

from thunderline.decisions.router_state import RouterState, active_router, publish_router_version
from thunderline.evaluation.promotion import alias_snapshot
from thunderline.experts.catalog import EXPERT_MODEL_PREFIX
from thunderline.store.warehouse import TenantSession


def champion_versions(aliases: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """Expert name → champion version from ``{registered model: {alias: version}}`` (non-expert models ignored)."""
    return {name[len(EXPERT_MODEL_PREFIX):]: str(a["champion"]) for name, a in aliases.items()
            if name.startswith(EXPERT_MODEL_PREFIX) and "champion" in a}


def pending_change(state: RouterState | None, champions: Mapping[str, str]) -> dict[str, tuple[str | None, str]]:
    """Experts the router routes to whose champion differs from the version the router records: name → (old, new)."""
    if state is None:
        return {}
    routed = sorted({e for pool in state.pools for e in pool})
    return {n: (state.expert_versions.get(n), champions[n]) for n in routed
            if n in champions and str(state.expert_versions.get(n)) != champions[n]}


@dataclass(frozen=True)
class Promotion:
    previous: str | None
    version: str | None  # None: nothing to publish (no router yet, or already up to date)
    changes: dict[str, tuple[str | None, str]]
    missing: tuple[str, ...]  # routed experts without a champion alias (kept at their recorded version)


def promote_champions(session: TenantSession, champions: Mapping[str, str]) -> Promotion:
    """Publish the active router with ``champions`` as its expert versions, if any routed expert moved."""
    state = active_router(session)
    if state is None:
        return Promotion(None, None, {}, ())
    routed = sorted({e for pool in state.pools for e in pool})
    missing = tuple(n for n in routed if n not in champions)
    changes = pending_change(state, champions)
    if not changes:
        return Promotion(state.version, None, {}, missing)
    versions = {**state.expert_versions, **{n: new for n, (_, new) in changes.items()}}
    new_state = dataclasses.replace(state, expert_versions=versions)
    reason = "champion moved: " + ", ".join(f"{n} v{old}→v{new}" for n, (old, new) in sorted(changes.items()))
    version = publish_router_version(session, new_state, reason=reason, parent=state.version)
    return Promotion(state.version, version, changes, missing)


def publish_router_for_champions(client, session):
    """What the model promotion sensor's job does, in-process: route to the current MLflow champions."""
    return promote_champions(session, champion_versions(alias_snapshot(client)))


def rollback_drill(promoter, name: str, version: str, *,
                   reason: str = "rollback drill: a rejected candidate made champion by hand, without evidence"):
    """Show a rollback working on evidence: ``version`` (e.g. the demo's rejected poor candidate) is made the
    champion of ``name`` by hand (:meth:`~thunderline.evaluation.promotion.Promoter.force_champion`), then
    the champion guard judges it against the champion it replaced on realised labels
    (:meth:`~thunderline.evaluation.promotion.Promoter.guard`). Returns (forced, guarded) transitions; the
    CLI's learning loop and the promotion asset both call it through a :class:`Promoter`."""
    forced = promoter.force_champion(name, version, reason=reason)
    return forced, promoter.guard(name)
