"""The external NAS bridge: run a Cerebros-style search program as a subprocess, speak JSON with it.

Handshake, protocol ``thunderline.nas/1``. Thunderline starts ``command`` (an argv
list, no shell), writes **one JSON request to its stdin** and closes it; the
program writes **one JSON response to its stdout** and exits 0. Anything it
wants to log goes to stderr (kept, and quoted when something goes wrong).

Request::

    {"protocol": "thunderline.nas/1",
     "slice": {"path": "<slice dir>", "manifest": {...manifest.json...},
               "fold_column": "split_f2", "train": "train", "validation": "validation"},
     "target": {"name": "momentum_gbm_h1", "family": "momentum", "horizon": 1,
                "features": [...], "label_column": "label_h1", "return_column": "fwd_return_h1"},
     "budget": {"max_candidates": 4, "seed": 0},
     "architecture_schema": {"kinds": ["mlp", "gbm"], "mlp": {...defaults...}, "gbm": {...defaults...}}}

The slice's Parquet files are listed in the manifest (paths relative to
``slice.path``, each with its sha256); the program reads them itself.

Response::

    {"protocol": "thunderline.nas/1", "trials_tried": 12,
     "candidates": [{"architecture": {"kind": "mlp", "hidden": [32], ...},
                     "metrics": {"val_ic": 0.08, ...}, "note": "optional"}]}

Architectures use the schema of :mod:`thunderline.nas.space`. Thunderline then
re-fits every candidate itself on the same train split (deterministically,
seed ``budget.seed + i``) and scores it on the validation split: the
program's own metrics are kept as ``external_*`` but the ranking and the
registered model are Thunderline's, so a bridge can never register a model
nobody here trained or measured. Each candidate becomes a trial run in MLflow.

Failures raise :class:`ExternalNasError` naming the program and the cause —
non-zero exit (with the last lines of its stderr), timeout (the process is
killed), stdout that is not one JSON object, a protocol mismatch, or an invalid
architecture — and the study run is marked FAILED. Nothing is registered.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from typing import Any, Sequence

from thunderline.nas.protocol import Candidate, NasError, NasResult, NasTarget, split_arrays
from thunderline.nas.space import GBM_DEFAULTS, KINDS, MLP_DEFAULTS, ArchitectureError, fit_architecture

PROTOCOL = "thunderline.nas/1"


class ExternalNasError(NasError):
    """The external program failed or answered something unusable."""


def _tail(text: str, lines: int = 12) -> str:
    t = [x for x in (text or "").strip().splitlines() if x.strip()]
    return "\n    ".join(t[-lines:]) if t else "(no stderr)"


@dataclass
class ExternalNasRunner:
    command: Sequence[str]
    timeout_s: float = 600.0
    max_candidates: int = 4
    seed: int = 0
    fold: int = -1
    env: dict[str, str] | None = None
    name: str = "external"
    last_stderr: str = field(default="", repr=False)

    def request(self, data, target: NasTarget) -> dict[str, Any]:
        fold = self.fold if self.fold >= 0 else len(data.manifest["folds"]) + self.fold
        return {
            "protocol": PROTOCOL,
            "slice": {"path": str(data.path), "manifest": data.manifest, "fold_column": data.fold_column(fold),
                      "train": "train", "validation": "validation"},
            "target": target.to_json(),
            "budget": {"max_candidates": int(self.max_candidates), "seed": int(self.seed)},
            "architecture_schema": {"kinds": list(KINDS), "mlp": MLP_DEFAULTS, "gbm": GBM_DEFAULTS},
        }

    def _call(self, req: dict[str, Any]) -> dict[str, Any]:
        cmd = list(self.command)
        who = " ".join(cmd)
        try:
            proc = subprocess.run(cmd, input=json.dumps(req), capture_output=True, text=True,
                                  timeout=self.timeout_s, env=self.env)
        except subprocess.TimeoutExpired as exc:
            self.last_stderr = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
            raise ExternalNasError(f"external NAS program [{who}] did not answer within {self.timeout_s:g}s "
                                   f"and was killed; its stderr ends:\n    {_tail(self.last_stderr)}") from None
        except OSError as exc:
            raise ExternalNasError(f"external NAS program [{who}] could not be started: {exc}") from None
        self.last_stderr = proc.stderr or ""
        if proc.returncode != 0:
            raise ExternalNasError(f"external NAS program [{who}] exited with status {proc.returncode}; "
                                   f"its stderr ends:\n    {_tail(proc.stderr)}")
        try:
            resp = json.loads(proc.stdout)
        except json.JSONDecodeError as exc:
            raise ExternalNasError(f"external NAS program [{who}] wrote stdout that is not one JSON document "
                                   f"({exc.msg} at char {exc.pos}); it starts: {proc.stdout[:200]!r}") from None
        if not isinstance(resp, dict) or resp.get("protocol") != PROTOCOL:
            got = resp.get("protocol") if isinstance(resp, dict) else type(resp).__name__
            raise ExternalNasError(f"external NAS program [{who}] answered protocol {got!r}, expected {PROTOCOL!r}")
        if not isinstance(resp.get("candidates"), list):
            raise ExternalNasError(f"external NAS program [{who}]: response has no 'candidates' list")
        return resp

    def search(self, data, target: NasTarget, *, tracker=None) -> NasResult:
        study = f"nas-ext-{target.name}-{data.manifest_sha256[:12]}-s{self.seed}"
        settings = {"command": list(self.command), "max_candidates": self.max_candidates, "seed": self.seed,
                    "timeout_s": self.timeout_s, "protocol": PROTOCOL}
        study_run = tracker.start_study(study=study, runner=self.name, target=target, data=data,
                                        settings=settings) if tracker else None
        tried = 0
        try:
            arrays = split_arrays(data, target, self.fold)
            resp = self._call(self.request(data, target))
            raw = resp["candidates"][: self.max_candidates]
            archs = []
            for i, c in enumerate(raw):
                if not isinstance(c, dict) or "architecture" not in c:
                    raise ExternalNasError(f"external NAS candidate #{i}: expected an object with 'architecture'")
                try:
                    from thunderline.nas.space import validate_architecture

                    archs.append(validate_architecture(c["architecture"]))
                except ArchitectureError as exc:
                    raise ExternalNasError(f"external NAS candidate #{i}: {exc}") from None
            candidates = []
            for i, (c, arch) in enumerate(zip(raw, archs)):
                fit = fit_architecture(arch, arrays.X_train, arrays.y_train, arrays.X_val, arrays.y_val,
                                       arrays.r_val, seed=self.seed + i)
                tried = i + 1
                ext = {f"external_{k}": v for k, v in (c.get("metrics") or {}).items()
                       if isinstance(v, (int, float)) and not isinstance(v, bool)}
                run_id = None
                if tracker:
                    run_id = tracker.log_trial(study_run, study=study, runner=self.name, target=target, data=data,
                                               number=i, architecture=fit.architecture,
                                               metrics={**fit.metrics, **ext, "steps": fit.steps}, state="COMPLETE",
                                               trials_tried=int(resp.get("trials_tried") or 0) or tried,
                                               seed=self.seed + i,
                                               extra_tags={"thunderline.nas.note": str(c.get("note", ""))[:500]})
                candidates.append(Candidate(i, fit.architecture, dict(fit.metrics), self.name, run_id, fit, ext))
        except BaseException as exc:
            if tracker and study_run:
                tracker.end_study(study_run, trials_tried=tried, best=None, error=f"{type(exc).__name__}: {exc}")
            raise
        candidates.sort(key=lambda c: (-c.objective, c.number))
        trials = int(resp.get("trials_tried") or len(raw))
        if tracker and study_run:
            tracker.end_study(study_run, trials_tried=trials, best=candidates[0].objective if candidates else None)
        return NasResult(self.name, study, target, data.slice_id, data.manifest_sha256, trials, candidates, study_run)
