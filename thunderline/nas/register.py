"""NAS candidates → new versions of ``thunderline.expert.<name>``: the best as ``shadow``, linked to their slice.

For the ``top_k`` candidates with the best validation IC, each fitted estimator
is wrapped as a :class:`~thunderline.experts.training.FittedExpert` of the
target (its family's features, its horizon) and registered through the expert
registry (pyfunc + signature + input example, like every expert). The best
gets the ``shadow`` alias — its decisions are logged on every window and never
blended — the others stay registered without an alias (``thunderline.lifecycle
= candidate``). Version tags tie each to its search: ``thunderline.slice_id``,
``thunderline.slice_manifest_sha256``, ``thunderline.nas_run_id``,
``thunderline.nas.architecture`` and ``thunderline.train_data_end_us`` (the
end of the slice's data: promotion evidence must come after it). With a
warehouse, lineage edges ``training_slice → nas_candidate → expert_version``
and a ``registered`` promotion event are written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thunderline.contracts import FEATURE_SCHEMA_VERSION
from thunderline.nas.protocol import Candidate, NasError, NasResult, NasTarget


@dataclass(frozen=True)
class RegisteredCandidate:
    name: str
    version: str
    alias: str | None
    run_id: str | None
    architecture: dict[str, Any]
    metrics: dict[str, float]


def fitted_expert(candidate: Candidate, target: NasTarget, data, seed: int):
    """The candidate's estimator as a FittedExpert of ``target``."""
    from thunderline.experts.training import FittedExpert

    if candidate.fit is None:
        raise NasError(f"candidate #{candidate.number} of {target.name!r} has no fitted estimator")
    train, _ = data.split()
    cols = list(target.features)
    example = train.loc[train[cols].notna().all(axis=1), cols].head(3).astype("float64").reset_index(drop=True)
    arch = candidate.architecture
    info = {"n_train": int(candidate.fit.train_rows), "steps": int(candidate.fit.steps),
            **{k: float(v) for k, v in candidate.metrics.items()}, "slice_id": data.slice_id,
            "slice_manifest_sha256": data.manifest_sha256, "nas_runner": candidate.runner,
            "nas_trial": int(candidate.number)}
    return FittedExpert(
        name=target.name, family=target.family, horizon=int(target.horizon), features=target.features,
        estimator=candidate.fit.estimator, estimator_kind=str(arch["kind"]), params=dict(arch),
        feature_schema_version=str(data.manifest.get("feature_schema_version") or FEATURE_SCHEMA_VERSION),
        latency_budget_ms=float(target.latency_budget_ms),
        seed=int(seed), train_info=info,
        description=f"NAS candidate ({candidate.runner} trial {candidate.number}) for {target.name}: "
                    f"{json.dumps(arch, sort_keys=True)}",
        example=example)


def slice_training_data(data):
    """The training slice as an MLflow dataset: named by its id, digest = manifest sha256, source = its directory."""
    from thunderline.experts.tracking import TrainingData, mlflow_type

    months = sorted(data.manifest.get("spec", {}).get("months", []))
    span = f" {months[0]}..{months[-1]}" if months else ""
    name = f"training_slice {data.slice_id[:8]}{span}"
    return TrainingData(name=name, digest=data.manifest_sha256, source_uri=Path(data.path).resolve().as_uri(),
                        columns=[(str(c), mlflow_type(t)) for c, t in data.frame.dtypes.items()],
                        rows=len(data.frame))


def register_candidates(registry, result: NasResult, data, *, top_k: int = 1, warehouse=None,
                        tenant_id: str | None = None, actor: str = "thunderline.nas") -> list[RegisteredCandidate]:
    """Register the ``top_k`` best candidates of ``result``; the best gets alias ``shadow``."""
    from thunderline.lineage import Edge, expert_version_node, record_edges

    target = result.target
    if result.slice_id != data.slice_id or result.manifest_sha256 != data.manifest_sha256:
        raise NasError(f"NAS result is for slice {result.slice_id} ({result.manifest_sha256[:12]}), "
                       f"not {data.slice_id} ({data.manifest_sha256[:12]})")
    chosen = [c for c in result.candidates if c.fit is not None][: max(0, int(top_k))]
    train_end = int(data.manifest["time_range_us"][1])
    out: list[RegisteredCandidate] = []
    for i, cand in enumerate(chosen):
        alias = "shadow" if i == 0 else None
        fx = fitted_expert(cand, target, data, seed=int(cand.number))
        tags = {"thunderline.slice_id": data.slice_id, "thunderline.slice_manifest_sha256": data.manifest_sha256,
                "thunderline.nas_run_id": cand.run_id or "", "thunderline.nas.study": result.study,
                "thunderline.nas.runner": cand.runner, "thunderline.nas.trials_tried": str(result.trials_tried),
                "thunderline.nas.architecture": json.dumps(cand.architecture, sort_keys=True),
                "thunderline.train_data_end_us": str(train_end),
                "thunderline.lifecycle": "shadow" if alias else "candidate"}
        metrics = {k: float(v) for k, v in cand.metrics.items() if v == v}
        v = registry.register(fx, alias=alias, metrics=metrics, tags=tags, training_data=slice_training_data(data))
        out.append(RegisteredCandidate(target.name, v.version, alias, cand.run_id, cand.architecture, metrics))
        if warehouse is not None:
            tid = tenant_id or registry.tenant_id
            node = cand.run_id or f"{result.study}/trial-{cand.number}"
            with warehouse.session(tid) as s:
                record_edges(s, [
                    Edge("training_slice", data.slice_id, "nas_candidate", node, "searched",
                         {"manifest_sha256": data.manifest_sha256, "study": result.study}),
                    Edge("nas_candidate", node, "expert_version", expert_version_node(target.name, v.version),
                         "registered", {"alias": alias, "val_ic": metrics.get("val_ic")}),
                ], job_name="thunderline.nas")
            if alias == "shadow":
                from thunderline.evaluation.promotion import Transition, record_event

                champion = registry.aliases(target.name).get("champion")
                record_event(warehouse, tid, Transition(
                    expert=target.name, version=str(v.version), from_state="none", to_state="shadow",
                    decision="registered", actor=actor,
                    reason=f"best of {result.trials_tried} NAS trials ({result.runner}) on slice "
                           f"{data.slice_id[:8]}: val IC {metrics.get('val_ic', float('nan')):+.4f}",
                    previous_champion=champion, champion_after=champion,
                    metrics={"candidate": metrics, "architecture": cand.architecture}, mlflow_run_id=cand.run_id))
    return out
