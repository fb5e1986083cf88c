"""Running experts on a batch of windows in isolation, under a latency budget.

Why: one broken or slow expert must cost the batch at most its budget, never
the batch itself. :meth:`ExpertRunner.run` therefore never raises and never
waits longer than the budget (plus a worker's wake-up, tens of microseconds):

* the expert's ``predict`` runs alone on a daemon worker thread (persistent,
  reused once the call returns: no thread start per call); the caller waits at
  most ``budget_ms``;
* on an exception, or an output that breaks the contract (wrong length,
  unknown action, confidence outside [0, 1]), every window of the batch gets
  ``abstain`` with confidence 0 and the flag ``expert_error:<name>``;
* on a budget breach, every window gets ``abstain`` and ``latency_budget:<name>``,
  and the result of the late call is discarded when it arrives.

The limit of a pure-Python hard cap: a thread cannot be killed. A call that
breached its budget keeps running in the background until ``predict`` returns
on its own. So the expert is marked **degraded**: for the next
``degrade_batches`` batches — and for as long as the abandoned call is still
running, so threads never pile up — it is not called at all and its windows get
``abstain`` with ``expert_degraded:<name>``. A truly hung expert therefore costs
one parked thread, not one per batch. (A process pool could kill, but would pay
pickling of every batch and model per call, far above a 50 ms budget.)

An expert that fails (raises, or breaks the output contract) ``fail_batches``
batches in a row is degraded the same way: skipped for the next
``degrade_batches`` batches, then called again; one good answer resets its count.
Without this, an expert broken for good would be called (and pay its failure)
on every batch forever.

Latency is measured in the expert's thread around ``predict`` (per batch and
amortised per window). Experts of one batch run one after another by default;
``parallel=True`` overlaps them, at the price that Python-level work shares the
GIL and inflates each expert's measured latency.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

import numpy as np
import pandas as pd

from thunderline.contracts import ACTIONS, ExpertAction
from thunderline.experts import _workers
from thunderline.experts.catalog import DEFAULT_LATENCY_BUDGET_MS

log = logging.getLogger(__name__)

STATUS_OK, STATUS_ERROR, STATUS_TIMEOUT, STATUS_DEGRADED = "ok", "error", "timeout", "degraded"
_ACTION_SET = frozenset(ACTIONS)


def flag_error(name: str) -> str:
    return f"expert_error:{name}"


def flag_latency(name: str) -> str:
    return f"latency_budget:{name}"


def flag_degraded(name: str) -> str:
    return f"expert_degraded:{name}"


class Expert(Protocol):
    """What the runner needs: a name and ``predict(df) -> DataFrame(action, confidence, ...)``.

    ``version``, ``alias`` and ``latency_budget_ms`` are read when present
    (:class:`~thunderline.experts.registry.LoadedExpert` has them all).
    """

    name: str

    def predict(self, df: pd.DataFrame) -> pd.DataFrame: ...


@dataclass(frozen=True, eq=False)
class ExpertResult:
    """One expert on one batch: per-window actions and confidences, latency, status and flags."""

    expert: str
    version: str
    alias: str
    status: str
    actions: np.ndarray  # object array of action strings, one per window
    confidences: np.ndarray  # float64 in [0, 1], 0 where abstaining
    latency_ms: float
    budget_ms: float
    flags: tuple[str, ...] = ()
    error: str | None = None
    output: pd.DataFrame | None = field(default=None, repr=False)  # the expert's full output when ok
    #: signed scores in [-1, 1] (0 where abstaining); None means all zero
    scores: np.ndarray | None = field(default=None, repr=False)

    @property
    def signed_scores(self) -> np.ndarray:
        """Per window the expert's signed score in [-1, 1] (0 where it abstained or failed)."""
        return self.scores if self.scores is not None else np.zeros(self.n)

    @property
    def n(self) -> int:
        return int(self.actions.shape[0])

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    @property
    def is_shadow(self) -> bool:
        return self.alias == "shadow"

    @property
    def latency_per_window_ms(self) -> float:
        """Batch latency amortised over its windows."""
        return self.latency_ms / self.n if self.n else 0.0

    def expert_actions(self, layer: int, weights: Any = 0.0) -> list[ExpertAction]:
        """One :class:`~thunderline.contracts.ExpertAction` per window (shadow experts get weight 0)."""
        w = np.broadcast_to(np.asarray(weights, dtype=np.float64), (self.n,))
        if self.is_shadow:
            w = np.zeros(self.n)
        lat = self.latency_per_window_ms
        return [
            ExpertAction(layer=layer, expert=self.expert, model_version=self.version, alias=self.alias,
                         action=str(a), confidence=float(c), latency_ms=lat, weight=float(wi), flags=self.flags,
                         score=float(s))
            for a, c, wi, s in zip(self.actions.tolist(), self.confidences.tolist(), w.tolist(),
                                   self.signed_scores.tolist())
        ]


class _Call:
    """One ``predict`` on a persistent daemon worker of its own (:mod:`thunderline.experts._workers`)."""

    def __init__(self, expert: Expert, df: pd.DataFrame, on_exit) -> None:
        self.expert = expert
        self.df = df
        self.done = threading.Event()
        self.output: Any = None
        self.exc: BaseException | None = None
        self.elapsed_ms = float("nan")
        self.started = 0.0
        self._on_exit = on_exit

    def start(self) -> "_Call":
        self.started = time.perf_counter()
        _workers.submit(self._run, self.done.set)
        return self

    def _run(self) -> None:
        t0 = time.perf_counter()
        try:
            self.output = self.expert.predict(self.df)
        except BaseException as exc:  # noqa: BLE001 - isolation: nothing an expert raises may escape
            self.exc = exc
        finally:
            self.elapsed_ms = (time.perf_counter() - t0) * 1e3
            self._on_exit(self)  # before `done` (set by the worker): a woken caller must not see it in flight


def _name(expert: Any) -> str:
    return str(getattr(expert, "name", type(expert).__name__))


def _key(expert: Any) -> tuple[str, str]:
    return (_name(expert), str(getattr(expert, "version", "")))


class ExpertRunner:
    """Runs experts on batches with budgets; remembers which experts are degraded. Thread-safe."""

    def __init__(self, *, degrade_batches: int = 3, default_budget_ms: float = DEFAULT_LATENCY_BUDGET_MS,
                 fail_batches: int = 3) -> None:
        if degrade_batches < 0:
            raise ValueError("degrade_batches must be >= 0")
        if fail_batches < 1:
            raise ValueError("fail_batches must be >= 1")
        self.degrade_batches = int(degrade_batches)
        self.fail_batches = int(fail_batches)
        self._failures: dict[tuple[str, str], int] = {}  # consecutive failed batches per expert
        self.default_budget_ms = float(default_budget_ms)
        self._lock = threading.Lock()
        self._degraded: dict[tuple[str, str], int] = {}
        self._inflight: dict[tuple[str, str], _Call] = {}

    # ------------------------------------------------------------------ state
    def degraded(self) -> dict[str, int]:
        """``name@version`` → batches it will still be skipped (an abandoned call still running counts as ≥ 1)."""
        with self._lock:
            keys = set(self._degraded) | set(self._inflight)
            return {f"{n}@{v}": max(self._degraded.get((n, v), 0), 1 if (n, v) in self._inflight else 0)
                    for n, v in sorted(keys)}

    def reset(self) -> None:
        """Forget degradation and failure counters (abandoned calls still running keep their expert skipped)."""
        with self._lock:
            self._degraded.clear()
            self._failures.clear()

    def _failed(self, expert: Any) -> None:
        """Count one failed batch; the ``fail_batches``-th in a row degrades the expert."""
        key = _key(expert)
        with self._lock:
            self._failures[key] = self._failures.get(key, 0) + 1
            if self._failures[key] < self.fail_batches:
                return
            del self._failures[key]
            self._degraded[key] = self.degrade_batches
        log.warning("expert %s failed %d batches in a row; degraded for %d batches", _name(expert),
                    self.fail_batches, self.degrade_batches)

    def _exit(self, call: _Call) -> None:
        with self._lock:
            key = _key(call.expert)
            if self._inflight.get(key) is call:
                del self._inflight[key]

    # ------------------------------------------------------------------ running
    def run(self, expert: Expert, features_df: pd.DataFrame, budget_ms: float | None = None) -> ExpertResult:
        """Run ``expert`` on every window of ``features_df``; never raises (see the module docstring)."""
        started = self._start(expert, features_df, budget_ms)
        return started if isinstance(started, ExpertResult) else self._collect(*started)

    def run_all(
        self,
        experts: Sequence[Expert],
        features_df: pd.DataFrame,
        budget_ms: float | None = None,
        *,
        parallel: bool = False,
    ) -> list[ExpertResult]:
        """Run several experts on one batch, results in the order given. Never raises."""
        if not parallel:
            return [self.run(e, features_df, budget_ms) for e in experts]
        started = [self._start(e, features_df, budget_ms) for e in experts]
        return [s if isinstance(s, ExpertResult) else self._collect(*s) for s in started]

    def _budget(self, expert: Any, budget_ms: float | None) -> float:
        b = budget_ms if budget_ms is not None else getattr(expert, "latency_budget_ms", None)
        try:
            b = float(b) if b is not None else self.default_budget_ms
        except (TypeError, ValueError):
            b = self.default_budget_ms
        return b if b > 0 and np.isfinite(b) else self.default_budget_ms

    def _start(self, expert: Expert, df: pd.DataFrame, budget_ms: float | None):
        budget = self._budget(expert, budget_ms)
        n = _rows(df)
        key = _key(expert)
        with self._lock:
            if key in self._inflight:
                why = "a call that breached its budget is still running"
            elif self._degraded.get(key, 0) > 0:
                self._degraded[key] -= 1
                if self._degraded[key] == 0:
                    del self._degraded[key]
                why = "degraded after a latency-budget breach or repeated failures"
            else:
                why = None
                call = _Call(expert, df, self._exit)
                self._inflight[key] = call
        if why is not None:
            log.info("expert %s skipped: %s", _name(expert), why)
            return self._abstain(expert, n, STATUS_DEGRADED, flag_degraded(_name(expert)), 0.0, budget, why)
        try:
            call.start()
        except Exception as exc:  # e.g. cannot start a thread: the host is out of resources
            with self._lock:
                self._inflight.pop(key, None)
            return self._abstain(expert, n, STATUS_ERROR, flag_error(_name(expert)), 0.0, budget,
                                 f"cannot start expert thread: {exc}")
        return call, budget, n

    def _collect(self, call: _Call, budget: float, n: int) -> ExpertResult:
        expert, name = call.expert, _name(call.expert)
        remaining = budget / 1e3 - (time.perf_counter() - call.started)
        finished = call.done.wait(max(remaining, 0.0))
        if not finished:
            waited = (time.perf_counter() - call.started) * 1e3
            with self._lock:
                self._degraded[_key(expert)] = self.degrade_batches
            log.warning("expert %s breached its %.1f ms budget on %d windows; abstaining, degraded for %d batches",
                        name, budget, n, self.degrade_batches)
            return self._abstain(expert, n, STATUS_TIMEOUT, flag_latency(name), waited, budget,
                                 f"no answer within {budget:.1f} ms")
        if call.exc is not None:
            log.warning("expert %s failed on %d windows: %s: %s", name, n, type(call.exc).__name__, call.exc)
            self._failed(expert)
            return self._abstain(expert, n, STATUS_ERROR, flag_error(name), call.elapsed_ms, budget,
                                 f"{type(call.exc).__name__}: {call.exc}")
        try:
            actions, confidences, scores = _check_output(call.output, n)
        except ValueError as exc:
            log.warning("expert %s returned an invalid output: %s", name, exc)
            self._failed(expert)
            return self._abstain(expert, n, STATUS_ERROR, flag_error(name), call.elapsed_ms, budget, str(exc))
        if self._failures:
            with self._lock:
                self._failures.pop(_key(expert), None)
        result = ExpertResult(
            expert=name, version=str(getattr(expert, "version", "")), alias=str(getattr(expert, "alias", "")),
            status=STATUS_OK, actions=actions, confidences=confidences, latency_ms=call.elapsed_ms,
            budget_ms=budget, output=call.output, scores=scores,
        )
        log.debug("expert %s%s: %d windows in %.2f ms", name, " (shadow)" if result.is_shadow else "", n,
                  call.elapsed_ms)
        return result

    @staticmethod
    def _abstain(expert: Any, n: int, status: str, flag: str, latency_ms: float, budget: float,
                 error: str) -> ExpertResult:
        return ExpertResult(
            expert=_name(expert), version=str(getattr(expert, "version", "")), alias=str(getattr(expert, "alias", "")),
            status=status, actions=np.full(n, "abstain", dtype=object), confidences=np.zeros(n),
            latency_ms=float(latency_ms), budget_ms=budget, flags=(flag,), error=error,
        )


def _rows(df: Any) -> int:
    try:
        return len(df)
    except Exception:  # noqa: BLE001 - not even a sized object: the expert will fail on it, zero windows here
        return 0


def _check_output(out: Any, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(actions, confidences, scores) from an expert's output; ValueError naming what breaks the contract.

    ``scores`` come from the output's ``score`` column; an expert without one is scored
    ``prob_buy - prob_sell`` when it gives those, else ±confidence of a buy/sell action.
    Abstentions score 0.
    """
    if not isinstance(out, pd.DataFrame):
        raise ValueError(f"expected a DataFrame, got {type(out).__name__}")
    for col in ("action", "confidence"):
        if col not in out.columns:
            raise ValueError(f"output has no {col!r} column")
    if len(out) != n:
        raise ValueError(f"{len(out)} output rows for {n} windows")
    actions = out["action"].to_numpy(dtype=object)
    bad = [a for a in pd.unique(actions).tolist() if a not in _ACTION_SET]  # distinct values, found in C
    if bad:
        raise ValueError(f"unknown actions {sorted(map(str, bad))}")
    conf = pd.to_numeric(out["confidence"], errors="coerce").to_numpy(dtype=np.float64)
    abstain = actions == "abstain"
    conf = np.where(abstain, 0.0, conf)
    if not np.isfinite(conf).all() or (conf < 0).any() or (conf > 1).any():
        i = int(np.flatnonzero(~(np.isfinite(conf) & (conf >= 0) & (conf <= 1)))[0])
        raw = out["confidence"].iloc[i]
        raise ValueError(f"confidence {getattr(raw, 'item', lambda: raw)()!r} at window {i} is not in [0, 1]")
    if "score" in out.columns:
        score = pd.to_numeric(out["score"], errors="coerce").to_numpy(dtype=np.float64)
    elif "prob_buy" in out.columns and "prob_sell" in out.columns:
        score = (pd.to_numeric(out["prob_buy"], errors="coerce").to_numpy(dtype=np.float64)
                 - pd.to_numeric(out["prob_sell"], errors="coerce").to_numpy(dtype=np.float64))
    else:
        score = np.where(actions == "buy", conf, np.where(actions == "sell", -conf, 0.0))
    score = np.where(abstain, 0.0, score)
    bad = ~(np.isfinite(score) & (np.abs(score) <= 1.0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"score {float(score[i])!r} at window {i} is not in [-1, 1]")
    return actions, conf, score


def window_risk_flags(
    results: Sequence[ExpertResult],
    weights: Any = None,
    shadow_mask: Any = None,
) -> list[list[str]]:
    """Per window, the flags of every *live* expert that had a say in it.

    ``results`` are the columns of ``weights`` (n×k router blend weights; None:
    every expert counts for every window). Shadow experts (``shadow_mask`` or
    ``alias == "shadow"``) never contribute: their failures are logged in their
    results and traces but cannot halt a decision they do not influence.
    """
    if not results:
        return []
    n = results[0].n
    k = len(results)
    if weights is None:
        has_say = np.ones((n, k), dtype=bool)
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (n, k):
            raise ValueError(f"weights shape {w.shape} does not match {n} windows × {k} experts")
        has_say = w > 0
    shadow = np.array([r.is_shadow for r in results]) if shadow_mask is None else np.asarray(shadow_mask, dtype=bool)
    out: list[list[str]] = [[] for _ in range(n)]
    for j, r in enumerate(results):
        if not r.flags or shadow[j]:
            continue
        for i in np.flatnonzero(has_say[:, j]).tolist():
            out[i].extend(r.flags)
    return out
