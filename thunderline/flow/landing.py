"""The landing index: which files have arrived, and which partitions each one touches.

Why an index: a file is identified by the sha256 of its bytes, so the same file
dropped twice (or seen again after a restart) is processed exactly once, and a
partition's asset run knows precisely which files feed it without rescanning
the whole landing area. Classification (format + partitions touched) is
delegated to the market / EDGAR readers; files they cannot classify are
recorded as ``rejected`` with the reason, never silently skipped.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import sqlalchemy as sa

from thunderline.flow.ledger import LIVE_FILE_STATUSES
from thunderline.hashing import content_id, file_sha256
from thunderline.store.content import ContentStore
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
    sha_of: Callable[[Path], str] | None = None,
    default_tenant: str | None = None,
    store: ContentStore | None = None,
    prefix_of: Callable[[Path], bytes] | None = None,
) -> list[LandedFile]:
    """Record ``paths`` in ``landing_files``; already-known contents are returned with ``is_new=False``.

    A file's identity is the sha256 of its bytes — for tick files, of what the file *means*:
    a LOBSTER file's day and symbol live only in its name, so its identity also covers them,
    and a LOBSTER message file's identity covers its orderbook partner's bytes: the pair is one
    delivery (:func:`thunderline.market.identity.tick_file_identity`). A corrected orderbook next
    to the same message file is therefore new content, which the tick ingest's per-source ledger
    deduplicates or refuses as a conflict like any re-delivered file.

    Only files of the session's tenant are indexed: a file under ``ticks/tenant=<t>/`` (or
    ``edgar/tenant=<t>/``) belongs to tenant ``t`` — written there by the ingress from the API
    key — and is skipped by every other tenant's scan; untagged files belong to
    ``default_tenant`` (``THUNDERLINE_TENANT``; default: the scanning tenant).

    With a ``store``, new content is copied into it (content-addressed) before it is
    classified, and every later read of that content id goes to the copy: the landing path
    may then be deleted, archived or rewritten without changing any partition. A path
    rewritten with content that *extends* its earlier content (rows appended) supersedes the
    earlier content id, so the appended file is read once, not on top of its own prefix;
    any other rewrite is simply new content. A LOBSTER orderbook is stored once, inside its
    message file's entry (the reader opens the pair there), never as an entry of its own.
    """
    from thunderline.ingress.landing import tenant_of_landing_path

    if sha_of is None:
        if kind == "ticks":
            from thunderline.market.identity import tick_file_identity as sha_of
            from thunderline.market.identity import tick_identity_prefix as prefix_of
        else:
            sha_of = file_sha256
    prefix_of = prefix_of or (lambda _p, **_k: b"")
    owner = default_tenant or session.tenant_id
    out: list[LandedFile] = []
    for path in [p for p in paths if (tenant_of_landing_path(p) or owner) == session.tenant_id]:
        landed = _index_one(session, kind, path, classify, sha_of, store, prefix_of)
        if landed is not None:
            out.append(landed)
    return out


def _index_one(session: TenantSession, kind: str, path: Path, classify: Classifier, sha_of: Callable[[Path], str],
               store: ContentStore | None, prefix_of: Callable[[Path], bytes]) -> LandedFile | None:
    """One file: known content is returned as it was recorded; new content is stored (with a ``store``),
    classified and recorded (a file that cannot be read is recorded rejected, with a quarantine row).
    None when the file vanished before it could be read."""
    from thunderline.faults import fault_point

    try:
        sha = sha_of(path)
    except FileNotFoundError:  # removed between listing and hashing: not landed any more
        return None
    known = _known(session, sha)
    read_path, size = path, None
    if _stored_with_partner(path):
        store = None  # a LOBSTER orderbook is copied once, into its message file's entry (the pair's id)
    if not known and store is not None:
        try:
            stored = store.put(path, kind, sha=sha, companions=_companions(path), prefix=_prefix_for(path, prefix_of))
        except FileNotFoundError:
            return None
        read_path, size = stored.path, stored.size
        if stored.sha256 != sha:  # rewritten while we read it: the copy is what counts
            sha = stored.sha256
            known = _known(session, sha)
        fault_point("landing.file_stored")
    if known:
        return _as_recorded(known[0], sha, kind)
    try:
        c = classify(read_path)
        status, detail, fmt, parts = "indexed", None, c.format, sorted(set(c.partitions))
    except Exception as exc:  # noqa: BLE001 - any failure is recorded with its reason
        # the reason names the landing path, whichever copy was read
        detail = file_reject_reason(Path(read_path), kind, exc).replace(str(read_path), str(path))
        status, fmt, parts = "rejected", "unknown", []
    size = size if size is not None else path.stat().st_size
    if store is not None:
        session.upsert("landed_content", [dict(id=sha, kind=kind, stored_path=str(read_path), size=size)])
    if status == "indexed":
        _supersede_prefixes(session, kind, path, sha, read_path, size)
        if _companions(path):  # the pair is complete now: its wait for the partner is over
            t = session.table("landing_files")
            session.delete("landing_files", t.c.kind == kind, t.c.path == str(path), t.c.status == "rejected")
    if not session.insert_new("landing_files", [dict(id=sha, kind=kind, path=str(path), format=fmt, size=size,
                                                     partitions=parts, status=status, detail=detail)]):
        return _as_recorded(_known(session, sha)[0], sha, kind)  # another indexer got there first: theirs stands
    if status == "rejected":
        # the whole file is unusable: say so in quarantine (the file itself stays in the landing area)
        session.upsert("quarantine", [dict(id=content_id("quarantine", ["landing", kind, sha, detail]),
                                           stage=f"landing.{kind}", source=str(path), row_number=None,
                                           field="*", reason=detail, raw=None, partition_key=None)])
    return LandedFile(sha, str(path), kind, fmt, parts, status, detail, True)


def _as_recorded(k, sha: str, kind: str) -> LandedFile:
    """A ``landing_files`` row already recorded, as a LandedFile that is not new."""
    return LandedFile(sha, k["path"], kind, k["format"], list(k["partitions"]), k["status"], k["detail"], False)


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


def _known(session: TenantSession, sha: str) -> list[dict]:
    t = session.table("landing_files")
    known = session.select("landing_files", t.c.id == sha)
    if known and known[0]["status"] == "rejected":
        # retry: a rejected file may only have been waiting for a partner (LOBSTER pairs)
        session.delete("landing_files", t.c.id == sha)
        return []
    return known


def _prefix_for(path: Path, prefix_of: Callable[..., bytes]) -> bytes | Callable[[list], bytes]:
    """The store's prefix for ``path``: for a file with a companion (a LOBSTER message file), a callable
    given the companion's sha256 as the store copied it, so the id hashes the bytes stored (one read)."""
    if not _companions(path):
        return prefix_of(path)
    return lambda shas: prefix_of(path, partner_sha=shas[0])


def _companions(path: Path) -> list[Path]:
    """Files a reader opens together with ``path``: a LOBSTER message file's orderbook partner."""
    from thunderline.market.lobster import lobster_pair, parse_lobster_name

    info = parse_lobster_name(path)
    if info is None or info["kind"] != "message":
        return []
    return [lobster_pair(path)[1]]


def _stored_with_partner(path: Path) -> bool:
    """True for a LOBSTER orderbook file: its bytes are part of its message file's identity and entry."""
    from thunderline.market.lobster import parse_lobster_name

    info = parse_lobster_name(path)
    return info is not None and info["kind"] == "orderbook"


def _supersede_prefixes(session: TenantSession, kind: str, path: Path, sha: str, read_path: Path, size: int) -> None:
    """Earlier contents of ``path`` that the new content extends are superseded by it.

    "Extends": the old bytes are a prefix of the new ones (a CSV/JSON-lines writer appended),
    or, for Parquet, the old rows are the first rows of the new file (rewritten with more rows).
    """
    t = session.table("landing_files")
    lc = session.table("landed_content")
    for old in session.select("landing_files", t.c.kind == kind, t.c.path == str(path), t.c.id != sha,
                              t.c.status.in_(("indexed", "processed"))):
        if old["size"] >= size and not str(path).endswith(".parquet"):
            continue
        stored = session.select("landed_content", lc.c.id == old["id"], columns=["stored_path"])
        old_copy = Path(stored[0]["stored_path"]) if stored else None
        if _prefix_sha(read_path, int(old["size"])) == old["id"] or (
                old_copy is not None and old_copy.exists() and _parquet_extends(old_copy, read_path)):
            session.execute(sa.update(t).where(t.c.tenant_id == session.tenant_id, t.c.id == old["id"])
                            .values(status="superseded", detail=f"{path} was extended: superseded by {sha}"))


def _parquet_extends(old: Path, new: Path) -> bool:
    """True when ``new`` holds every row of ``old``, in order, first (streamed; bounded memory).

    Compared with :func:`thunderline.market.canonical.ticks_sha256`, which does not depend on
    how rows are cut into batches and treats NaN as equal to NaN.
    """
    import pyarrow.parquet as pq

    from thunderline.market.canonical import ticks_sha256

    try:
        po, pn = pq.ParquetFile(old), pq.ParquetFile(new)
        n = po.metadata.num_rows
        if n > pn.metadata.num_rows or po.schema_arrow != pn.schema_arrow:
            return False

        def head():
            left = n
            for b in pn.iter_batches(batch_size=65_536):
                if left <= 0:
                    return
                yield b.slice(0, left)
                left -= b.num_rows

        return ticks_sha256(po.iter_batches(batch_size=65_536)) == ticks_sha256(head())
    except Exception:  # noqa: BLE001 - not canonical Parquet ticks (or unreadable): not an extension
        return False


def _prefix_sha(path: Path, n: int, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while n > 0 and (b := fh.read(min(chunk, n))):
            h.update(b)
            n -= len(b)
    return h.hexdigest()


def files_for_partition(session: TenantSession, kind: str, partition: str) -> list[dict]:
    """Indexed (or processed) files of ``kind`` that touch ``partition``, oldest first, deterministic order.

    ``path`` is the landing path the content arrived under (what records and quarantine cite);
    ``read_path`` is where its bytes are read from: the content-addressed copy when there is one.
    """
    t = session.table("landing_files")
    rows = session.select("landing_files", t.c.kind == kind, t.c.status.in_(LIVE_FILE_STATUSES),
                          order_by=[t.c.path, t.c.id])
    return with_read_paths(session, [r for r in rows if partition in (r["partitions"] or [])])


def with_read_paths(session: TenantSession, rows: list[dict]) -> list[dict]:
    """Set ``read_path`` on ``landing_files`` rows: the content-addressed copy, else the landing path."""
    lc = session.table("landed_content")
    ids = [r["id"] for r in rows]
    stored: dict[str, str] = {}
    for i in range(0, len(ids), 500):
        stored.update((r["id"], r["stored_path"]) for r in session.select(
            "landed_content", lc.c.id.in_(ids[i:i + 500]), columns=["id", "stored_path"]))
    for r in rows:
        r["read_path"] = stored.get(r["id"], r["path"])
    return rows


def read_path_of(f: dict) -> Path:
    """Where to read landing content ``f`` (a :func:`files_for_partition` row); a clear error when it is gone."""
    p = Path(f.get("read_path") or f["path"])
    if not p.exists():
        raise FileNotFoundError(f"landing content {f['id'][:16]} ({f['path']}) is gone and was indexed before "
                                f"landing files were kept content-addressed; restore the file to re-run its partition")
    return p


