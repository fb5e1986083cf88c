"""Partition progress from what each step actually committed (the ``partition_steps`` ledger).

Why: a partition is built by a chain of steps (ticks: ``raw_ticks`` → ``market_feature_windows``
→ ``decision_traces``; EDGAR: ``raw_filings`` → ``edgar_feature_windows``), each its own
transaction. A process killed between two of them must leave a state the next ``ingest``
recognises as unfinished. So:

* each step records itself in the ledger *inside its own transaction* — the record exists
  if and only if the step's rows do;
* the first step records the digest of the landing contents it read; a later step records
  the digest its upstream step had when it read the upstream rows, so a step built on stale
  upstream rows never looks current;
* a partition is **complete** when every step of its kind carries the digest of the
  partition's current landing contents (:func:`incomplete_partitions` is what ``ingest``
  plans from);
* a landing file becomes ``processed`` only when the last step of *every* partition it
  touches has committed (:func:`settle_files`, called by that last step, in its transaction).
"""

from __future__ import annotations

import hashlib
from typing import Iterable, Sequence

import sqlalchemy as sa

from thunderline.store.schema import utcnow
from thunderline.store.warehouse import TenantSession

STEPS: dict[str, tuple[str, ...]] = {
    "ticks": ("raw_ticks", "market_feature_windows", "decision_traces"),
    "edgar": ("raw_filings", "edgar_feature_windows"),
}
LIVE_FILE_STATUSES = ("indexed", "processed")  # superseded, rejected and compacted contents feed no partition


def inputs_digest(shas: Iterable[str]) -> str:
    """sha256 over the sorted, de-duplicated content ids: the identity of a partition's inputs."""
    return hashlib.sha256("\n".join(sorted(set(shas))).encode()).hexdigest()


def _contents_by_partition(session: TenantSession, kind: str) -> tuple[dict[str, set[str]], list[dict]]:
    t = session.table("landing_files")
    rows = session.select("landing_files", t.c.kind == kind, t.c.status.in_(LIVE_FILE_STATUSES),
                          columns=["id", "partitions", "status"])
    by_part: dict[str, set[str]] = {}
    for r in rows:
        for p in r["partitions"] or []:
            by_part.setdefault(p, set()).add(r["id"])
    return by_part, rows


def _ledger(session: TenantSession, kind: str, partitions: Sequence[str] | None = None) -> dict[str, dict[str, str]]:
    t = session.table("partition_steps")
    where = [t.c.kind == kind]
    if partitions is not None:
        where.append(t.c.partition_key.in_(sorted(set(partitions))))
    out: dict[str, dict[str, str]] = {}
    for r in session.select("partition_steps", *where, columns=["partition_key", "step", "inputs"]):
        out.setdefault(r["partition_key"], {})[r["step"]] = r["inputs"]
    return out


def _complete(kind: str, steps: dict[str, str] | None, digest: str) -> bool:
    return bool(steps) and all(steps.get(s) == digest for s in STEPS[kind])


def record_step(session: TenantSession, kind: str, partition: str, step: str, *,
                inputs: str | None = None, files: int | None = None) -> str:
    """Record that ``step`` of ``partition`` committed (call inside the step's transaction).

    ``inputs``: the digest of the landing contents the step read (first steps). Omitted, a
    downstream step inherits its upstream step's digest. Returns the digest recorded. When
    ``step`` is the last of its kind, landing files whose every partition is now complete
    are marked ``processed`` in the same transaction.
    """
    steps = STEPS[kind]
    if step not in steps:
        raise ValueError(f"{kind} partitions have steps {steps}, not {step!r}")
    if inputs is None:
        i = steps.index(step)
        upstream = _ledger(session, kind, [partition]).get(partition, {}).get(steps[i - 1]) if i else None
        if upstream is None:  # built outside the ledger (or a first step called without inputs): current inputs
            shas = _contents_by_partition(session, kind)[0].get(partition, set())
            upstream, files = inputs_digest(shas), len(shas)
        inputs = upstream
    session.upsert("partition_steps", [dict(kind=kind, partition_key=partition, step=step, inputs=inputs,
                                            files=int(files or 0), committed_at=utcnow())])
    if step == steps[-1]:
        settle_files(session, kind)
    return inputs


def incomplete_partitions(session: TenantSession, kind: str) -> list[str]:
    """Partitions with landing contents not yet carried through every step (what a re-run must do)."""
    by_part, rows = _contents_by_partition(session, kind)
    candidates = sorted({p for r in rows if r["status"] == "indexed" for p in (r["partitions"] or [])})
    if not candidates:
        return []
    ledger = _ledger(session, kind, candidates)
    return [p for p in candidates if not _complete(kind, ledger.get(p), inputs_digest(by_part[p]))]


def mark_processed(session: TenantSession, shas: Sequence[str]) -> None:
    """Landing files ``shas`` have fed every step of their partitions (live micro-batches and settle_files)."""
    if shas:
        t = session.table("landing_files")
        session.execute(sa.update(t).where(t.c.tenant_id == session.tenant_id, t.c.id.in_(list(shas)))
                        .values(status="processed"))


def settle_files(session: TenantSession, kind: str) -> int:
    """Mark ``processed`` every indexed file whose partitions are all complete; returns how many."""
    by_part, rows = _contents_by_partition(session, kind)
    pending = [r for r in rows if r["status"] == "indexed" and r["partitions"]]
    if not pending:
        return 0
    ledger = _ledger(session, kind, sorted({p for r in pending for p in r["partitions"]}))
    done = [r["id"] for r in pending
            if all(_complete(kind, ledger.get(p), inputs_digest(by_part[p])) for p in r["partitions"])]
    mark_processed(session, done)
    return len(done)


def partition_status(session: TenantSession, kind: str) -> dict[str, dict[str, bool]]:
    """Per partition with landing contents: which steps are current (for status pages and tests)."""
    by_part, _ = _contents_by_partition(session, kind)
    ledger = _ledger(session, kind)
    return {p: {s: ledger.get(p, {}).get(s) == inputs_digest(shas) for s in STEPS[kind]}
            for p, shas in sorted(by_part.items())}
