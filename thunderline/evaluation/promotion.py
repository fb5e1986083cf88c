"""Blue/green promotion of expert versions: shadow → challenger → champion, with rollback.

The state of a version *is* its MLflow alias on ``thunderline.expert.<name>``
(``shadow``, ``challenger``, ``champion``; none = out of rotation). A
:class:`Promoter` moves one expert at most one step per :meth:`~Promoter.step`,
on evidence from the evaluation harness: the candidate and the current
champion are replayed on the same decided windows of the evidence period whose
labels are realised (:func:`thunderline.evaluation.harness.load_evidence`) —
never on windows the candidate was trained or selected on (its
``thunderline.train_data_end_us`` tag) — and paper-traded at the expert's
horizon with the policy's cost model.

Gates (:class:`GatePolicy`):

* shadow → challenger: at least ``min_count`` realised trades and IC above
  ``shadow_min_ic``; otherwise *held* (too little evidence) or *rejected* (the
  shadow alias is removed);
* challenger → champion: at least ``min_count`` trades, IC above the
  champion's by ``ic_margin`` **and** net PnL (after spread and fees) above the
  champion's by ``pnl_margin``; otherwise held or rejected. An expert without a
  champion is compared with not trading (IC 0, PnL 0).

Promotion moves the ``champion`` alias; the model promotion sensor
(``sensors/model_promotion.py``) then publishes a router version that routes
to it (:func:`publish_router_for_champions` does the same in-process, e.g. for
the demo). :meth:`Promoter.rollback` moves ``champion`` back to the version it
replaced; :meth:`Promoter.guard` does so on evidence (the replaced version beats
the champion on IC and net PnL on windows after the champion's training data),
which also catches a champion set by hand (:meth:`Promoter.force_champion`). Every transition — including *held* and *rejected* — is written to
``promotion_events`` (who, why, both sides' metrics and the thresholds), logged
as a run of the MLflow experiment ``thunderline-promotions``, and tagged on the
model version (``thunderline.lifecycle``, ``thunderline.last_transition``).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

from thunderline.evaluation.harness import Evidence, load_evidence, replay_performance
from thunderline.evaluation.metrics import Performance, jsonable
from thunderline.evaluation.pnl import CostModel
from thunderline.hashing import content_id

PROMOTION_EXPERIMENT = "thunderline-promotions"
LIFECYCLE_TAG = "thunderline.lifecycle"
TRANSITION_TAG = "thunderline.last_transition"
PREVIOUS_CHAMPION_TAG = "thunderline.previous_champion"
TRAIN_END_TAG = "thunderline.train_data_end_us"
DAY_US = 86_400_000_000


class PromotionError(RuntimeError):
    """A transition is impossible (no such alias, nothing to roll back to); the message says which."""


@dataclass(frozen=True)
class GatePolicy:
    min_count: int = 200
    shadow_min_ic: float = 0.0
    ic_margin: float = 0.0
    pnl_margin: float = 0.0
    lookback_days: float = 31.0
    cost: CostModel = CostModel()

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["cost"] = self.cost.to_json()
        return d


@dataclass
class Transition:
    expert: str
    version: str
    from_state: str
    to_state: str
    decision: str  # registered | promoted | forced | held | kept | rejected | rolled_back
    actor: str
    reason: str
    previous_champion: str | None = None
    champion_after: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    mlflow_run_id: str | None = None
    at_us: int = 0

    @property
    def moved_champion(self) -> bool:
        return self.previous_champion != self.champion_after


def record_event(warehouse, tenant_id: str, t: Transition) -> None:
    """Insert ``t`` into ``promotion_events`` (its own transaction)."""
    from thunderline.experts.catalog import registered_model_name

    t.at_us = t.at_us or int(time.time() * 1e6)
    row = dict(id=content_id("promotion_event", [tenant_id, t.expert, t.version, t.from_state, t.to_state,
                                                 t.decision, t.at_us]),
               expert=t.expert, registered_model=registered_model_name(t.expert), version=str(t.version),
               from_state=t.from_state, to_state=t.to_state, decision=t.decision,
               previous_champion=t.previous_champion, champion_after=t.champion_after, actor=t.actor,
               reason=t.reason, metrics=_clean(t.metrics), mlflow_run_id=t.mlflow_run_id, at_us=t.at_us)
    with warehouse.session(tenant_id) as s:
        s.insert("promotion_events", [row])


def _clean(x: Any) -> Any:
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, Mapping):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


class Promoter:
    """Drives the blue/green state machine of experts in one registry, for one tenant."""

    def __init__(self, registry, warehouse, tenant_id: str, *, policy: GatePolicy = GatePolicy(),
                 actor: str = "thunderline.promotion", ticker_map: Sequence[dict] = (),
                 experiment: str = PROMOTION_EXPERIMENT, evidence: Evidence | None = None) -> None:
        self.registry = registry
        self.client = registry.client
        self.warehouse = warehouse
        self.tenant_id = tenant_id
        self.policy = policy
        self.actor = actor
        self.ticker_map = list(ticker_map)
        self.experiment = experiment
        self._evidence = evidence
        self._experiment_id: str | None = None

    # ------------------------------------------------------------------ evidence
    def evidence(self) -> Evidence:
        """Decided windows of the last ``lookback_days`` (data time, ending at the latest decision)."""
        if self._evidence is None:
            import sqlalchemy as sa

            from thunderline.experts import DEFAULT_EXPERT_SPECS

            with self.warehouse.session(self.tenant_id) as s:
                dt_ = s.table("decision_traces")
                last = s.execute(sa.select(sa.func.max(dt_.c.window_start))
                                 .where(dt_.c.tenant_id == self.tenant_id)).scalar()
                end = int(last) + 1 if last is not None else 0
                start = end - int(self.policy.lookback_days * DAY_US)
                horizons = sorted({int(s_.horizon) for s_ in DEFAULT_EXPERT_SPECS} | {self.policy.cost.horizon})
                self._evidence = load_evidence(s, start, end, horizons, ticker_map=self.ticker_map)
        return self._evidence

    def compare(self, name: str, alias: str) -> dict[str, Any]:
        """Replay metrics of ``name@alias`` and of its champion on the same evidence windows."""
        cand_v = self.registry.resolve(name, alias)
        ev = self.evidence().restrict(_int(cand_v.tags.get(TRAIN_END_TAG)))
        cand = self.registry.load(name, alias)
        for h in {cand.horizon} - set(ev.labels):
            raise PromotionError(f"{name}: evidence has no labels at horizon {h}")
        perf_c = replay_performance(cand, ev, self.policy.cost)
        champ_version, perf_k = None, None
        if "champion" in self.registry.aliases(name):
            champ = self.registry.load(name, "champion")
            champ_version = champ.version
            perf_k = replay_performance(champ, ev, self.policy.cost)
        return {"candidate": perf_c, "champion": perf_k, "candidate_version": cand_v.version,
                "champion_version": champ_version, "windows": len(ev), "evidence_start_us": ev.start_us,
                "evidence_end_us": ev.end_us}

    # ------------------------------------------------------------------ state machine
    def step(self, name: str) -> Transition | None:
        """Advance ``name`` by at most one state: the challenger is judged first, else the shadow."""
        aliases = self.registry.aliases(name)
        if "challenger" in aliases:
            return self._judge(name, "challenger", aliases)
        if "shadow" in aliases:
            return self._judge(name, "shadow", aliases)
        return None

    def step_all(self, rounds: int = 1) -> list[Transition]:
        """Up to ``rounds`` steps for every expert with a shadow or challenger: a candidate goes on (shadow →
        challenger → champion) while each step promotes it, and stops at the first hold, rejection or champion."""
        out = []
        for info in self.registry.list_experts():
            if not {"shadow", "challenger"} & set(info.aliases):
                continue
            for _ in range(max(1, rounds)):
                t = self.step(info.name)
                if t is None:
                    break
                out.append(t)
                if t.decision != "promoted" or t.to_state == "champion":
                    break
        return out

    def _judge(self, name: str, alias: str, aliases: Mapping[str, str]) -> Transition:
        cmp = self.compare(name, alias)
        c: Performance = cmp["candidate"]
        k: Performance | None = cmp["champion"]
        p = self.policy
        version = cmp["candidate_version"]
        champion = aliases.get("champion")
        evidence = {"candidate": jsonable(c), "champion": jsonable(k) if k else None, "policy": p.to_json(),
                    "windows": cmp["windows"], "evidence_start_us": cmp["evidence_start_us"],
                    "evidence_end_us": cmp["evidence_end_us"], "champion_version": champion}
        if c.n < p.min_count:
            return self._transition(name, version, alias, alias, "held",
                                    f"{c.n} realised trades in the evidence window, the gate needs {p.min_count}",
                                    champion, champion, evidence)
        if alias == "shadow":
            ok = math.isfinite(c.ic) and c.ic > p.shadow_min_ic
            why = f"IC {c.ic:+.4f} {'>' if ok else '<='} {p.shadow_min_ic:+.4f} over {c.n} trades"
            if ok:
                self.client.set_registered_model_alias(_rm(name), "challenger", version)
                self.client.delete_registered_model_alias(_rm(name), "shadow")
                return self._transition(name, version, "shadow", "challenger", "promoted", why, champion, champion,
                                        evidence)
            self.client.delete_registered_model_alias(_rm(name), "shadow")
            return self._transition(name, version, "shadow", "none", "rejected", why, champion, champion, evidence)
        ic_k = k.ic if k is not None and math.isfinite(k.ic) else 0.0
        net_k = k.net if k is not None else 0.0
        beats_ic = math.isfinite(c.ic) and c.ic > ic_k + p.ic_margin
        beats_pnl = c.net > net_k + p.pnl_margin
        why = (f"IC {c.ic:+.4f} vs champion {ic_k:+.4f} (margin {p.ic_margin:g}): {'beats' if beats_ic else 'does not'}"
               f"; net PnL {c.net:+.6f} vs {net_k:+.6f} (margin {p.pnl_margin:g}): "
               f"{'beats' if beats_pnl else 'does not'}; {c.n} trades")
        if beats_ic and beats_pnl:
            self.client.set_registered_model_alias(_rm(name), "champion", version)
            self.client.delete_registered_model_alias(_rm(name), "challenger")
            if champion is not None:
                self.client.set_registered_model_tag(_rm(name), PREVIOUS_CHAMPION_TAG, str(champion))
                self._tag(name, champion, "previous_champion", None)
            return self._transition(name, version, "challenger", "champion", "promoted", why, champion, version,
                                    evidence)
        self.client.delete_registered_model_alias(_rm(name), "challenger")
        return self._transition(name, version, "challenger", "none", "rejected", why, champion, champion, evidence)

    def force_champion(self, name: str, version: str, *, reason: str, actor: str | None = None) -> Transition:
        """Make ``version`` the champion by hand, without evidence (an operator's override); recorded like
        every step, and the replaced champion is kept so :meth:`guard` can judge the override and
        :meth:`rollback` can undo it."""
        aliases = self.registry.aliases(name)
        champion = aliases.get("champion")
        if champion == str(version):
            raise PromotionError(f"{_rm(name)}: v{version} already is the champion")
        from_state = next((a for a in ("challenger", "shadow") if aliases.get(a) == str(version)), "none")
        self.client.set_registered_model_alias(_rm(name), "champion", str(version))
        if from_state != "none":
            self.client.delete_registered_model_alias(_rm(name), from_state)
        if champion is not None:
            self.client.set_registered_model_tag(_rm(name), PREVIOUS_CHAMPION_TAG, str(champion))
            self._tag(name, champion, "previous_champion", None)
        return self._transition(name, str(version), from_state, "champion", "forced", reason, champion,
                                str(version), {}, actor=actor)

    def guard(self, name: str) -> Transition:
        """Champion watch: replay the champion and the version it replaced on the same evidence windows (after
        the champion's training data); when the replaced version beats it on both IC and net PnL — the
        promotion rule, applied in reverse — the champion is rolled back, else it is *kept* (or *held*
        with fewer than ``min_count`` trades). Every outcome is recorded like a promotion step."""
        rm = self.client.get_registered_model(_rm(name))
        previous = (rm.tags or {}).get(PREVIOUS_CHAMPION_TAG)
        current = (rm.aliases or {}).get("champion")
        if not previous or current is None:
            raise PromotionError(f"{_rm(name)}: needs a champion and the version it replaced to guard it")
        cur_v = self.registry.resolve(name, "champion")
        ev = self.evidence().restrict(_int(cur_v.tags.get(TRAIN_END_TAG)))
        c = replay_performance(self.registry.load(name, "champion"), ev, self.policy.cost)
        k = replay_performance(self.registry.load_version(name, previous), ev, self.policy.cost)
        p = self.policy
        evidence = {"candidate": jsonable(c), "champion": jsonable(k), "policy": p.to_json(), "windows": len(ev),
                    "evidence_start_us": ev.start_us, "evidence_end_us": ev.end_us,
                    "champion_version": str(current), "restored_version": str(previous)}
        if c.n < p.min_count:
            return self._transition(name, str(current), "champion", "champion", "held",
                                    f"{c.n} realised trades since the champion's training data, the guard needs "
                                    f"{p.min_count}", str(current), str(current), evidence)
        ic_c, ic_k = (x.ic if math.isfinite(x.ic) else 0.0 for x in (c, k))
        worse = ic_k > ic_c + p.ic_margin and k.net > c.net + p.pnl_margin
        why = (f"champion v{current} IC {ic_c:+.4f}, net {c.net:+.6f} vs replaced v{previous} IC {ic_k:+.4f}, "
               f"net {k.net:+.6f} over {c.n} trades: {'worse on both' if worse else 'not worse on both'}")
        if worse:
            return self.rollback(name, reason=f"champion guard: {why}", evidence=evidence)
        return self._transition(name, str(current), "champion", "champion", "kept", why, str(current),
                                str(current), evidence)

    def rollback(self, name: str, *, reason: str, actor: str | None = None,
                 evidence: Mapping[str, Any] | None = None) -> Transition:
        """Point ``champion`` back at the version the last promotion replaced."""
        rm = self.client.get_registered_model(_rm(name))
        previous = (rm.tags or {}).get(PREVIOUS_CHAMPION_TAG)
        current = (rm.aliases or {}).get("champion")
        if not previous:
            raise PromotionError(f"{_rm(name)}: no previous champion recorded; nothing to roll back to")
        if current is None:
            raise PromotionError(f"{_rm(name)}: has no champion to roll back")
        self.registry.set_alias(name, "champion", previous)
        self.client.delete_registered_model_tag(_rm(name), PREVIOUS_CHAMPION_TAG)
        self._tag(name, previous, "champion", None)
        return self._transition(name, str(current), "champion", "none", "rolled_back", reason, str(current),
                                str(previous), {"restored_version": str(previous), **(evidence or {})}, actor=actor)

    def register_shadow(self, name: str, version: str, *, reason: str, metrics: Mapping[str, Any] | None = None,
                        actor: str | None = None) -> Transition:
        """Record that ``version`` entered the rotation as the shadow (the alias is set by whoever registered it)."""
        champion = self.registry.aliases(name).get("champion")
        return self._transition(name, str(version), "none", "shadow", "registered", reason, champion, champion,
                                dict(metrics or {}), actor=actor)

    # ------------------------------------------------------------------ bookkeeping
    def _tag(self, name: str, version: str, lifecycle: str, transition: dict | None) -> None:
        self.client.set_model_version_tag(_rm(name), str(version), LIFECYCLE_TAG, lifecycle)
        if transition is not None:
            self.client.set_model_version_tag(_rm(name), str(version), TRANSITION_TAG,
                                              json.dumps(transition, sort_keys=True)[:5000])

    def _transition(self, name, version, from_state, to_state, decision, reason, previous, after, evidence,
                    actor: str | None = None) -> Transition:
        t = Transition(expert=name, version=str(version), from_state=from_state, to_state=to_state,
                       decision=decision, actor=actor or self.actor, reason=reason, previous_champion=previous,
                       champion_after=after, metrics=_clean(evidence), at_us=int(time.time() * 1e6))
        t.mlflow_run_id = self._log_run(t)
        lifecycle = {"held": from_state, "kept": from_state, "rejected": "rejected",
                     "rolled_back": "rolled_back"}.get(decision, to_state)
        self._tag(name, version, lifecycle, {"decision": decision, "from": from_state, "to": to_state,
                                             "actor": t.actor, "reason": reason, "run_id": t.mlflow_run_id,
                                             "at_us": t.at_us})
        record_event(self.warehouse, self.tenant_id, t)
        return t

    def _experiment_id_(self) -> str:
        if self._experiment_id is None:
            from thunderline.experts.tracking import ensure_experiment

            self._experiment_id = ensure_experiment(self.client, self.experiment,
                                                    getattr(self.registry, "artifact_location", None))
        return self._experiment_id

    def _log_run(self, t: Transition) -> str:
        from mlflow.entities import Metric, Param

        run = self.client.create_run(self._experiment_id_(), run_name=f"{t.expert} v{t.version} {t.from_state}→"
                                     f"{t.to_state} ({t.decision})",
                                     tags={"thunderline.expert": t.expert, "thunderline.decision": t.decision,
                                           "thunderline.actor": t.actor, "mlflow.note.content": t.reason})
        now = int(time.time() * 1000)
        params = {"expert": t.expert, "version": t.version, "from_state": t.from_state, "to_state": t.to_state,
                  "decision": t.decision, "actor": t.actor, "previous_champion": t.previous_champion,
                  "champion_after": t.champion_after}
        metrics = {}
        for side in ("candidate", "champion"):
            for k, v in ((t.metrics or {}).get(side) or {}).items():
                if isinstance(v, (int, float)) and v is not None and math.isfinite(float(v)):
                    metrics[f"{side}_{k}"] = float(v)
        self.client.log_batch(run.info.run_id, metrics=[Metric(k, v, now, 0) for k, v in sorted(metrics.items())],
                              params=[Param(k, str(v)) for k, v in sorted(params.items())])
        self.client.set_terminated(run.info.run_id, "FINISHED")
        return run.info.run_id


def _rm(name: str) -> str:
    from thunderline.experts.catalog import registered_model_name

    return registered_model_name(name)


def _int(x) -> int | None:
    try:
        return int(x) if x not in (None, "") else None
    except (TypeError, ValueError):
        return None


def alias_snapshot(client) -> dict[str, dict[str, str]]:
    """``{registered model: {alias: version}}`` of every ``thunderline.expert.*`` model."""
    from thunderline.experts.catalog import EXPERT_MODEL_PREFIX

    models = client.search_registered_models(filter_string=f"name LIKE '{EXPERT_MODEL_PREFIX}%'")
    return {m.name: {a: str(v) for a, v in (m.aliases or {}).items()} for m in models}
