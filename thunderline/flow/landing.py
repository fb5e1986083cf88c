"""The landing index: which files have arrived, and which partitions each one touches.

Why an index: a file is identified by the sha256 of its bytes, so the same file
dropped twice (or seen again after a restart) is processed exactly once, and a
partition's asset run knows precisely which files feed it without rescanning
the whole landing area. Classification (format + partitions touched) is
delegated to the market / EDGAR readers; files they cannot classify are
recorded as ``rejected`` with the reason, never silently skipped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import sqlalchemy as sa

from thunderline.hashing import content_id, file_sha256
from thunderline.store.warehouse import TenantSession


@dataclass(frozen=True)
class Classification:
    format: str
    partitions: list[str]  # "YYYY-MM|SYMBOL" for ticks, "YYYY-MM" for edgar


@dataclass(frozen=True)
class LandedFile:
    sha256: str
    path: str
    kind: str
    format: str
    partitions: list[str]
    status: str
    detail: str | None
    is_new: bool


Classifier = Callable[[Path], Classification]
log = logging.getLogger(__name__)

_SKIP_SUFFIXES = (".tmp", ".part", ".partial")


def candidate_files(root: Path) -> list[Path]:
    """Every regular file under ``root`` (recursively), in a stable order, skipping in-flight temp files."""
    if not root.exists():
        return []
    return sorted(
        p for p in root.rglob("*")
        if p.is_file() and not p.name.startswith(".") and not p.name.endswith(_SKIP_SUFFIXES)
    )


def index_files(
    session: TenantSession,
    kind: str,
    paths: Iterable[Path],
    classify: Classifier,
    sha_of: Callable[[Path], str] = file_sha256,
    default_tenant: str | None = None,
) -> list[LandedFile]:
    """Record ``paths`` in ``landing_files``; already-known contents are returned with ``is_new=False``.

    Only files of the session's tenant are indexed: a file under ``ticks/tenant=<t>/`` (or
    ``edgar/tenant=<t>/``) belongs to tenant ``t`` — written there by the ingress from the API
    key — and is skipped by every other tenant's scan; untagged files belong to
    ``default_tenant`` (``THUNDERLINE_TENANT``; default: the scanning tenant).
    """
    from thunderline.ingress.landing import tenant_of_landing_path

    t = session.table("landing_files")
    out: list[LandedFile] = []
    owner = default_tenant or session.tenant_id
    paths = [p for p in paths if (tenant_of_landing_path(p) or owner) == session.tenant_id]
    for path in paths:
        sha = sha_of(path)
        known = session.select("landing_files", t.c.id == sha)
        if known and known[0]["status"] == "rejected":
            # retry: a rejected file may only have been waiting for a partner (LOBSTER pairs)
            session.delete("landing_files", t.c.id == sha)
            known = []
        if known:
            k = known[0]
            out.append(LandedFile(sha, k["path"], kind, k["format"], list(k["partitions"]), k["status"], k["detail"], False))
            continue
        try:
            c = classify(path)
            status, detail, fmt, parts = "indexed", None, c.format, sorted(set(c.partitions))
        except Exception as exc:  # noqa: BLE001 - any failure is recorded with its reason
            status, detail, fmt, parts = "rejected", file_reject_reason(path, kind, exc), "unknown", []
        session.insert("landing_files", [dict(id=sha, kind=kind, path=str(path), format=fmt, size=path.stat().st_size,
                                              partitions=parts, status=status, detail=detail)])
        if status == "rejected":
            # the whole file is unusable: say so in quarantine (the file itself stays in the landing area)
            session.upsert("quarantine", [dict(id=content_id("quarantine", ["landing", kind, sha, detail]),
                                               stage=f"landing.{kind}", source=str(path), row_number=None,
                                               field="*", reason=detail, raw=None, partition_key=None)])
        out.append(LandedFile(sha, str(path), kind, fmt, parts, status, detail, True))
    return out


def file_reject_reason(path: Path, kind: str, exc: BaseException) -> str:
    """Why a whole landing file was refused, in our words: the file, and the rule or field it broke.

    Errors our readers raise already say that (they name the file, and the line, field and rule
    where there is one) and are kept as they are. Anything else is a reader that met input it
    did not expect: the reason says so without the internal exception text (which is logged).
    """
    from thunderline.edgar.errors import EdgarParseError
    from thunderline.identifiers import InvalidIdentifier, UnsafePath

    if isinstance(exc, (EdgarParseError, InvalidIdentifier, UnsafePath)):
        return str(exc)
    if type(exc) in (ValueError, FileNotFoundError) and str(path) in str(exc):
        return str(exc)
    if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError):
        return f"{path}: could not be read ({exc.strerror or 'I/O error'})"
    log.warning("landing file %s: %s reader failed", path, kind, exc_info=exc)
    return (f"{path}: unreadable {kind} file: its content breaks the format's structure in a way the reader "
            f"does not name (internal {type(exc).__name__}, logged)")


def files_for_partition(session: TenantSession, kind: str, partition: str) -> list[dict]:
    """Indexed (or processed) files of ``kind`` that touch ``partition``, oldest first, deterministic order."""
    t = session.table("landing_files")
    rows = session.select("landing_files", t.c.kind == kind, t.c.status.in_(("indexed", "processed")),
                          order_by=[t.c.path, t.c.id])
    return [r for r in rows if partition in (r["partitions"] or [])]


def mark_processed(session: TenantSession, shas: Sequence[str]) -> None:
    if shas:
        t = session.table("landing_files")
        session.execute(sa.update(t).where(t.c.tenant_id == session.tenant_id, t.c.id.in_(list(shas)))
                        .values(status="processed"))
