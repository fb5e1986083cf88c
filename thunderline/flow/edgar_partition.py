"""One month (of acceptance times) of the EDGAR path: landing files → raw_edgar_docs → EDGAR windows.

Why here: Dagster assets, the sensors and tests call the same two functions.
Guarantees:

* documents of months tiered to cold storage still count as a CIK's history
  (``thunderline.retention.edgar.cold_doc_rows``);
* a document's ``source`` is its file name plus the file's content hash, never
  the machine's path, so ids and hashes replay identically elsewhere;
* a file that cannot be parsed is quarantined with the parser's reason (file,
  line) and the rest of the month continues;
* windows are recomputed per CIK from every document accepted before the
  month's end, so an amendment that arrives this month marks the earlier
  window ``superseded`` (both stay queryable), a late XBRL instance turns an
  ``open`` window ``filled``, and stale windows of those CIKs are removed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from thunderline.contracts import EDGARDoc
from thunderline.edgar import EdgarParseError, build_windows, parse_path
from thunderline.edgar.errors import EdgarMissingFieldError
from thunderline.edgar.rows import doc_row, row_doc  # noqa: F401  (row_doc: re-exported for callers here)
from thunderline.edgar.sidecar import hints_for, is_sidecar, missing_date_advice
from thunderline.edgar.submissions import SubmissionsIndex, parse_submissions_json
from thunderline.faults import fault_point
from thunderline.flow.landing import Classification, files_for_partition, read_path_of
from thunderline.flow.ledger import inputs_digest, record_step
from thunderline.hashing import content_id, file_sha256
from thunderline.partitioning import month_bounds_us, month_of_us
from thunderline.store.warehouse import TenantSession
from thunderline.store.window_rows import window_row
from thunderline.timebounds import out_of_range_reason, supported_range_us

#: Landing-index format of filing metadata beside a document (``thunderline.edgar.sidecar``).
SIDECAR_FORMAT = "edgar_sidecar"


def stable_source(path: Path, sha256: str) -> str:
    return f"{path.name}@{sha256[:16]}"


def classify_edgar_file(path: Path, indexes: dict[int, SubmissionsIndex] | None = None) -> Classification:
    """The EDGAR kind of a file and the acceptance months of the documents in it.

    ``indexes`` (submissions JSON by CIK) date documents that carry no acceptance time
    themselves (bare XBRL instances, bare HTML).
    """
    if is_sidecar(path):
        return Classification(SIDECAR_FORMAT, [])
    f = {"path": str(path), "id": file_sha256(path)}
    docs = _parse_landing_file(f, "classify", indexes or {})
    kinds = sorted({d.doc_kind for d in docs}) or ["empty"]
    dated = [d for d in docs if d.doc_kind != "submissions_json"]
    months = sorted({month_of_us(d.accepted_at_us) for d in dated if _in_range(d)})
    if dated and not months:  # no document has a partition: say why, instead of a key Dagster cannot run
        raise EdgarParseError(str(path), f"accepted_at: {_range_reason()} (first document accepted "
                                         f"{_iso(dated[0].accepted_at_us)})")
    return Classification("+".join(kinds), months)


def _in_range(d: EDGARDoc) -> bool:
    lo, hi = supported_range_us()
    return lo <= d.accepted_at_us < hi


def _range_reason() -> str:
    return out_of_range_reason(*supported_range_us()).replace("ts_supported_range: time", "accepted_at_supported_range: acceptance time")


def _iso(us: int) -> str:
    import numpy as np

    return np.datetime_as_string(np.datetime64(int(us), "us"), unit="s") + "Z"


@dataclass
class FilingPartitionSummary:
    partition: str
    files: int = 0
    documents: int = 0
    rejected: int = 0
    reject_reasons: dict[str, int] = field(default_factory=dict)
    by_kind: dict[str, int] = field(default_factory=dict)
    ciks: list[int] = field(default_factory=list)


def landing_classifier(session: TenantSession):
    """A classifier that sees the submissions JSON already indexed in this session (read per call)."""
    return lambda path: classify_edgar_file(path, _submission_indexes(session))


def submissions_first(paths: list[Path]) -> list[Path]:
    """Index submissions JSON before the documents it dates."""
    def is_submissions(p: Path) -> bool:
        if p.suffix.lower() != ".json":
            return False
        with open(p, "rb") as fh:
            return b'"filings"' in fh.read(1 << 16) or p.name.upper().startswith("CIK")
    return sorted(paths, key=lambda p: (not is_submissions(p), str(p)))


def _submission_indexes(session: TenantSession) -> dict[int, SubmissionsIndex]:
    t = session.table("landing_files")
    out: dict[int, SubmissionsIndex] = {}
    lc = session.table("landed_content")
    stored = {r["id"]: r["stored_path"] for r in session.select("landed_content", lc.c.kind == "edgar",
                                                                 columns=["id", "stored_path"])}
    for f in session.select("landing_files", t.c.kind == "edgar", t.c.format == "submissions_json",
                            t.c.status.in_(("indexed", "processed"))):
        try:
            idx = parse_submissions_json(Path(stored.get(f["id"], f["path"])).read_bytes(), f["path"])
            out[idx.cik] = idx
        except (OSError, EdgarParseError):
            continue  # the file itself is quarantined by its own partition run
    return out


def _parse_landing_file(f: dict, tenant: str, indexes: dict[int, SubmissionsIndex]) -> list[EDGARDoc]:
    path = read_path_of(f) if "read_path" in f else Path(f["path"])
    source = stable_source(path, f["id"])
    hints = hints_for(path)
    kw = hints.parse_kwargs() if hints else {}
    try:
        docs = _parse_with_index(path, tenant, source, indexes, kw)
    except EdgarMissingFieldError as exc:
        if hints is None and "no acceptance time and no filing date" in exc.reason:
            raise EdgarMissingFieldError(exc.source, f"{exc.reason}; {missing_date_advice(path)}", exc.line) from None
        raise
    if hints is not None:
        for d in docs:
            if d.doc_kind in ("submission", "submissions_json", "companyfacts"):
                continue  # these carry their own filing metadata
            if hints.cik is not None and d.cik != hints.cik:
                raise EdgarMissingFieldError(source, f"sidecar {hints.source} says CIK {hints.cik}, the document says {d.cik}")
            if hints.form is not None and d.form != hints.form:
                raise EdgarMissingFieldError(source, f"sidecar {hints.source} says form {hints.form}, the document says {d.form}")
            d.meta["sidecar"] = hints.source
    return docs


def _parse_with_index(path: Path, tenant: str, source: str, indexes: dict[int, SubmissionsIndex], kw: dict) -> list[EDGARDoc]:
    if len(indexes) == 1:
        return parse_path(path, tenant, source=source, submissions=next(iter(indexes.values())), **kw)
    try:
        docs = parse_path(path, tenant, source=source, **kw)
    except EdgarMissingFieldError:
        if not indexes:
            raise
        docs = None
    if docs is None:  # undated without an index: try each company's submissions JSON
        for idx in indexes.values():
            try:
                return parse_path(path, tenant, source=source, submissions=idx, **kw)
            except EdgarMissingFieldError:
                continue
        raise EdgarMissingFieldError(source, "no acceptance time and no filing date in the document, "
                                             "and no landed submissions JSON lists it")
    ciks = {d.cik for d in docs}
    if len(ciks) == 1 and (cik := ciks.pop()) in indexes:
        docs = parse_path(path, tenant, source=source, submissions=indexes[cik], **kw)
    return docs


def ingest_filing_partition(session: TenantSession, month: str) -> FilingPartitionSummary:
    """Parse the landing files whose documents were accepted in ``month`` into raw_edgar_docs."""
    summary = FilingPartitionSummary(month)
    files = files_for_partition(session, "edgar", month)
    summary.files = len(files)
    indexes = _submission_indexes(session)
    rows, quarantine = [], []
    for f in files:
        try:
            docs = _parse_landing_file(f, session.tenant_id, indexes)
        except EdgarParseError as exc:
            summary.rejected += 1
            key = exc.reason.split(":")[0][:80]
            summary.reject_reasons[key] = summary.reject_reasons.get(key, 0) + 1
            quarantine.append(dict(id=content_id("quarantine", ["raw_filings", f["id"], str(exc)]),
                                   stage="raw_filings.parse", source=f["path"], row_number=exc.line, field="*",
                                   reason=str(exc), raw=None, partition_key=month))
            continue
        for d in docs:
            if d.doc_kind == "submissions_json":
                continue
            if not _in_range(d):  # a document of the file with no partition: quarantined, never a month key
                reason = f"{_range_reason()} (accepted {_iso(d.accepted_at_us)}, accession {d.accession})"
                quarantine.append(dict(id=content_id("quarantine", ["raw_filings", f["id"], d.id, "accepted_at"]),
                                       stage="raw_filings.validate", source=f["path"], row_number=None,
                                       field="accepted_at", reason=reason, raw=None, partition_key=None))
                continue
            if month_of_us(d.accepted_at_us) != month:
                continue
            rows.append(doc_row(d))
            summary.by_kind[d.doc_kind] = summary.by_kind.get(d.doc_kind, 0) + 1
    t = session.table("raw_edgar_docs")
    session.delete("raw_edgar_docs", t.c.month == month)
    if rows:
        session.upsert("raw_edgar_docs", list({r["id"]: r for r in rows}.values()))
    if quarantine:
        session.upsert("quarantine", quarantine)
    record_step(session, "edgar", month, "raw_filings", inputs=inputs_digest(f["id"] for f in files), files=len(files))
    fault_point("raw_filings.written")
    summary.documents = len({r["id"] for r in rows})
    summary.ciks = sorted({r["cik"] for r in rows})
    return summary


@dataclass
class EdgarWindowSummary:
    partition: str
    ciks: int = 0
    windows: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    stale_removed: int = 0
    lineage_edges: int = 0


def build_edgar_window_partition(session: TenantSession, month: str) -> EdgarWindowSummary:
    """Recompute the EDGAR windows of every CIK with a document accepted in ``month``."""
    from thunderline.lineage import Edge, record_edges

    lo, hi = month_bounds_us(month)
    summary = EdgarWindowSummary(month)
    d = session.table("raw_edgar_docs")
    ciks = sorted({r["cik"] for r in session.select("raw_edgar_docs", d.c.month == month, columns=["cik"])})
    summary.ciks = len(ciks)
    if not ciks:
        record_step(session, "edgar", month, "edgar_feature_windows")
        fault_point("edgar_feature_windows.written")
        return summary
    from thunderline.retention.edgar import cold_doc_rows  # documents of tiered months count as history

    # a tiered month ingested again is hot and cold at once: one document per id, the warehouse's copy
    rows = {r["id"]: r for r in cold_doc_rows(session, ciks, hi)}
    rows.update((r["id"], r) for r in session.select("raw_edgar_docs", d.c.cik.in_(ciks), d.c.accepted_at < hi))
    history = [row_doc(r) for r in sorted(rows.values(), key=lambda r: (r["accepted_at"], r["id"]))]
    windows = build_windows(history)
    fw = session.table("feature_windows")
    keys = [str(c) for c in ciks]
    existing = {r["id"] for r in session.select("feature_windows", fw.c.kind == "edgar", fw.c.key.in_(keys),
                                                fw.c.available_at < hi, columns=["id"])}
    new_ids = {w.id for w in windows}
    stale = existing - new_ids
    if stale:
        summary.stale_removed = session.delete("feature_windows", fw.c.kind == "edgar", fw.c.id.in_(sorted(stale)))
    session.upsert("feature_windows", [window_row(w) for w in windows])
    edges = [Edge("edgar_doc", doc["id"], "feature_window", w.id, "filing_input")
             for w in windows for doc in w.provenance.get("documents", [])]
    summary.lineage_edges = record_edges(session, edges)
    by_status: dict[str, int] = defaultdict(int)
    for w in windows:
        by_status[w.status] += 1
    summary.by_status = dict(by_status)
    summary.windows = sum(1 for w in windows if lo <= w.available_at_us < hi)
    record_step(session, "edgar", month, "edgar_feature_windows")
    fault_point("edgar_feature_windows.written")
    return summary
