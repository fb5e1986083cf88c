"""The EDGAR poller: a company's submissions JSON → the filings it lists → the landing area.

One poll of one company (:func:`poll_company`):

1. GET ``{data}/submissions/CIK##########.json`` (conditional on the last ETag/Last-Modified) and,
   when ``--since`` reaches before its ``filings.recent`` rows, the older pages it names in
   ``filings.files`` whose ``filingTo`` is on or after ``since``; the recent JSON lands at
   ``edgar/cik=##########/CIK##########.json``, where it dates documents that carry no
   acceptance time of their own;
2. selects the filings of the requested forms filed on or after ``since``;
3. enqueues one download per file in ``edgar_downloads`` (insert-if-absent: a filing already
   queued or landed is never queued again) — the full submission ``<accession>.txt`` (SGML, with
   ``<ACCEPTANCE-DATETIME>``), or with ``documents='primary'`` the primary document plus its
   ``<accession>-index-headers.html`` (the header that dates it; landed first);
4. works the queue: claim a row (one conditional UPDATE), stream the body to a hidden ``.part``
   file, check it (length; a ``.txt`` must end with ``</SEC-DOCUMENT>``), fsync, rename into
   place, record sha256/size/validators and mark it done. A poller killed mid-download leaves a
   claimed row whose owner is dead: the next poll takes it over and resumes the ``.part`` with
   ``Range``/``If-Range``; a file renamed into place but not yet marked done is confirmed with a
   conditional GET (304) instead of being downloaded again.

Landing files are the inputs of ``thunderline ingest`` and the EDGAR sensors, which know a
file by its sha256: even a file landed twice would be ingested once. Telemetry (per poll):
``source.edgar.requests``, ``.throttled``, ``.errors``, ``.bytes``, ``.filings_landed``,
``.queue_depth``, ``.lag_s`` (acceptance → landed), ``.throughput`` (filings/s).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from thunderline.durable_files import fsync_dir
from thunderline.edgar.errors import EdgarParseError
from thunderline.edgar.submissions import FilingRecord, parse_submissions_json
from thunderline.hashing import file_sha256
from thunderline.identifiers import check_cik
from thunderline.sources.sec_http import SecClient, SecFetchError
from thunderline.store import Warehouse
from thunderline.store.source_tables import edgar_downloads

DOCUMENT_MODES = ("full", "primary")
DEFAULT_FORMS = ("10-K", "10-Q", "8-K", "20-F")
LEASE_S = 600.0  # a claim by a live owner on another host is trusted this long


def now_us() -> int:
    return time.time_ns() // 1000


def cik10(cik: int) -> str:
    return f"{int(cik):010d}"


def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _owner_dead(owner: str | None) -> bool:
    """True when ``owner`` (host:pid) is a process of this host that no longer runs."""
    if not owner or ":" not in owner:
        return True
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return int(pid) != os.getpid() and _is_zombie(int(pid))


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False


@dataclass(frozen=True)
class PollRequest:
    cik: int
    forms: tuple[str, ...] = DEFAULT_FORMS
    since: str | None = None  # ISO date, inclusive (filing date)
    documents: str = "full"

    def __post_init__(self) -> None:
        object.__setattr__(self, "cik", check_cik(self.cik))
        if self.documents not in DOCUMENT_MODES:
            raise ValueError(f"documents={self.documents!r}: expected one of {DOCUMENT_MODES}")
        if self.since is not None:
            dt.date.fromisoformat(self.since)
        if not self.forms:
            raise ValueError("at least one form")


@dataclass
class PollReport:
    cik: int
    company: str = ""
    selected: int = 0  # filings matching forms + since
    enqueued: int = 0  # new queue rows this poll
    landed: int = 0  # files landed this poll
    confirmed: int = 0  # already on disk, confirmed by a 304
    failed: list[tuple[str, str]] = field(default_factory=list)
    submissions_status: int | None = None
    queue_depth: int = 0  # rows of this company not done after the poll
    elapsed_s: float = 0.0
    lag_s: list[float] = field(default_factory=list)  # acceptance → landed, per landed filing file

    def lines(self) -> list[str]:
        out = [f"CIK {self.cik} {self.company}: {self.selected} filings selected, {self.enqueued} newly queued, "
               f"{self.landed} files landed, {self.confirmed} confirmed unchanged, {len(self.failed)} failed, "
               f"{self.queue_depth} still queued ({self.elapsed_s:.1f}s)"]
        out += [f"  failed {item}: {why}" for item, why in self.failed[:10]]
        return out


@dataclass(frozen=True)
class Urls:
    data: str
    archives: str

    def submissions(self, name: str) -> str:
        return f"{self.data}/submissions/{name}"

    def filing_file(self, cik: int, accession: str, name: str) -> str:
        return f"{self.archives}/Archives/edgar/data/{int(cik)}/{accession.replace('-', '')}/{name}"


class EdgarPoller:
    """Polls companies into ``landing`` through the durable queue in ``warehouse`` (one tenant)."""

    def __init__(self, warehouse: Warehouse, tenant_id: str, landing: Path, client: SecClient, urls: Urls) -> None:
        self.wh = warehouse
        self.tenant = tenant_id
        self.landing = Path(landing)
        self.client = client
        self.urls = urls
        self.owner = owner_id()

    # -- submissions
    def _submissions(self, cik: int, report: PollReport, since: str | None) -> list[FilingRecord]:
        name = f"CIK{cik10(cik)}.json"
        dest_rel = f"cik={cik10(cik)}/{name}"
        item_id = f"submissions/{name}"
        row = self._row(item_id)
        dest = self.landing / dest_rel
        use_cache = row is not None and row["status"] == "done" and dest.exists()
        res = self.client.get(self.urls.submissions(name), etag=row["etag"] if use_cache else None,
                              last_modified=row["last_modified"] if use_cache else None,
                              validate=_json_validator)
        report.submissions_status = res.status
        body = dest.read_bytes() if res.status == 304 else res.body
        assert body is not None
        try:
            idx = parse_submissions_json(body, name)
        except EdgarParseError as exc:
            raise SecFetchError(res.url, f"not a submissions JSON: {exc}", retryable=False) from None
        if idx.cik != int(cik):
            raise SecFetchError(res.url, f"submissions JSON is for CIK {idx.cik}, not {cik}", retryable=False)
        report.company = idx.name
        if res.status != 304:
            _atomic_write(dest, body)
        self._upsert_meta(item_id, kind="submissions", cik=cik, url=res.url, dest=dest_rel, res=res)
        filings = list(idx.filings)
        payload = json.loads(body)
        for page in payload.get("filings", {}).get("files", []) or []:
            if since and str(page.get("filingTo", "9999")) < since:
                continue
            filings += self._older_page(cik, page.get("name", ""))
        return filings

    def _older_page(self, cik: int, name: str) -> list[FilingRecord]:
        if not name or "/" in name:
            raise SecFetchError(name, f"bad filings.files name {name!r}", retryable=False)
        res = self.client.get(self.urls.submissions(name), validate=_json_validator)
        page = json.loads(res.body or b"{}")
        try:
            idx = parse_submissions_json({"cik": str(cik), "filings": {"recent": page}}, name)
        except EdgarParseError as exc:
            raise SecFetchError(res.url, f"not a submissions page: {exc}", retryable=False) from None
        return idx.filings

    # -- queue
    def _row(self, item_id: str) -> dict | None:
        with self.wh.session(self.tenant) as s:
            rows = s.select("edgar_downloads", edgar_downloads.c.id == item_id)
        return rows[0] if rows else None

    def _upsert_meta(self, item_id: str, *, kind: str, cik: int, url: str, dest: str, res) -> None:
        with self.wh.session(self.tenant) as s:
            s.upsert("edgar_downloads", [dict(
                id=item_id, kind=kind, cik=int(cik), url=url, dest=dest, status="done", attempts=1,
                etag=res.etag, last_modified=res.last_modified, http_status=res.status, created_us=now_us(),
                done_us=now_us(), **({"sha256": res.sha256, "bytes": res.size} if res.status != 304 else {}))])

    def enqueue(self, cik: int, filings: Iterable[FilingRecord], documents: str) -> int:
        """Insert-if-absent one row per file of each filing; returns the rows newly queued."""
        rows = []
        now = now_us()
        for f in filings:
            base = dict(kind="filing", cik=int(cik), accession=f.accession, form=f.form, filing_date=f.filing_date,
                        accepted_at=f.accepted_at_us, status="pending", attempts=0, created_us=now)
            if documents == "full":
                names = [f"{f.accession}.txt"]
                rel = f"cik={cik10(cik)}"
            else:
                if not f.primary_document:
                    continue  # nothing to fetch in this mode; the full submission mode still can
                names = [f"{f.accession}-index-headers.html", f.primary_document]
                rel = f"cik={cik10(cik)}/{f.accession}"
            for seq, name in enumerate(names):
                rows.append(dict(base, id=f"{f.accession}/{name}", seq=seq, url=self.urls.filing_file(cik, f.accession, name),
                                 dest=f"{rel}/{name}"))
        if not rows:
            return 0
        with self.wh.session(self.tenant) as s:
            before = s.count("edgar_downloads", edgar_downloads.c.cik == int(cik), edgar_downloads.c.kind == "filing")
            ins = (postgresql.insert if self.wh.is_postgres else sqlite.insert)(edgar_downloads)
            for i in range(0, len(rows), 500):
                part = [dict(r, tenant_id=self.tenant) for r in rows[i:i + 500]]
                s.conn.execute(ins.on_conflict_do_nothing(index_elements=["id", "tenant_id"]), part)
            after = s.count("edgar_downloads", edgar_downloads.c.cik == int(cik), edgar_downloads.c.kind == "filing")
        return after - before

    def requeue_failed(self, cik: int) -> int:
        t = edgar_downloads
        with self.wh.session(self.tenant) as s:
            return s.execute(sa.update(t).where(t.c.tenant_id == self.tenant, t.c.cik == int(cik), t.c.status == "failed")
                             .values(status="pending", attempts=0)).rowcount

    def claim_next(self, cik: int) -> dict | None:
        """Claim the next filing file of ``cik`` (pending, or claimed by a dead/expired owner)."""
        t = edgar_downloads
        with self.wh.session(self.tenant) as s:
            cands = s.select("edgar_downloads", t.c.cik == int(cik), t.c.kind == "filing",
                             t.c.status.in_(("pending", "claimed")),
                             order_by=[t.c.filing_date, t.c.accession, t.c.seq])
        now = now_us()
        for r in cands:
            if r["status"] == "claimed" and not (_owner_dead(r["claimed_by"])
                                                 or now - (r["claimed_us"] or 0) > LEASE_S * 1e6):
                continue
            if r["seq"] > 0 and self._earlier_pending(r):
                continue  # land the index before the document it dates
            cond = [t.c.tenant_id == self.tenant, t.c.id == r["id"], t.c.status == r["status"]]
            if r["status"] == "claimed":
                cond.append(t.c.claimed_by == r["claimed_by"])
            with self.wh.session(self.tenant) as s:
                n = s.execute(sa.update(t).where(*cond).values(status="claimed", claimed_by=self.owner, claimed_us=now,
                                                               attempts=t.c.attempts + 1)).rowcount
            if n == 1:
                r = dict(r, status="claimed", claimed_by=self.owner, attempts=r["attempts"] + 1,
                         taken_over=r["status"] == "claimed")
                return r
        return None

    def _earlier_pending(self, r: dict) -> bool:
        t = edgar_downloads
        with self.wh.session(self.tenant) as s:
            return s.count("edgar_downloads", t.c.accession == r["accession"], t.c.seq < r["seq"],
                           t.c.status != "done") > 0

    def _finish(self, r: dict, **values) -> None:
        t = edgar_downloads
        with self.wh.session(self.tenant) as s:
            s.execute(sa.update(t).where(t.c.tenant_id == self.tenant, t.c.id == r["id"], t.c.claimed_by == self.owner)
                      .values(**values))

    def download(self, r: dict, report: PollReport) -> None:
        dest = self.landing / r["dest"]
        part = dest.with_name(f".{dest.name}.part")
        validate = _sgml_validator if dest.suffix == ".txt" else None

        def keep(etag: str | None, last_modified: str | None) -> None:  # validators first: a kill mid-body can resume
            if (etag, last_modified) != (r["etag"], r["last_modified"]):
                self._finish(r, etag=etag, last_modified=last_modified)
                r["etag"], r["last_modified"] = etag, last_modified

        try:
            if dest.exists() and (r["etag"] or r["last_modified"]):
                # renamed into place by a poller that died before marking it done: confirm, don't refetch
                res = self.client.get(r["url"], etag=r["etag"], last_modified=r["last_modified"])
                if res.status == 304:
                    self._finish(r, status="done", sha256=file_sha256(dest), bytes=dest.stat().st_size, http_status=304,
                                 done_us=now_us(), last_error=None)
                    report.confirmed += 1
                    return
                res = self.client.get(r["url"], dest=part, validate=validate, on_headers=keep)
            else:
                resume = part.exists() and bool(r["etag"] or r["last_modified"])
                res = self.client.get(r["url"], dest=part, etag=r["etag"] if resume else None,
                                      last_modified=r["last_modified"] if resume else None, resume=resume,
                                      validate=validate, on_headers=keep)
        except SecFetchError as exc:
            self._finish(r, status="failed", last_error=str(exc)[:2000], http_status=exc.status)
            report.failed.append((r["id"], exc.reason))
            return
        os.replace(part, dest)
        fsync_dir(dest.parent)
        done = now_us()
        self._finish(r, status="done", sha256=res.sha256, bytes=res.size, http_status=res.status, done_us=done,
                     last_error=None)
        report.landed += 1
        if r["accepted_at"]:
            report.lag_s.append((done - int(r["accepted_at"])) / 1e6)

    def resolve_ticker(self, ticker: str) -> int:
        """A ticker's CIK from SEC's ``company_tickers.json`` (``{archives}/files/company_tickers.json``)."""
        t = ticker.strip().upper()
        res = self.client.get(f"{self.urls.archives}/files/company_tickers.json", validate=_json_validator)
        for row in json.loads(res.body or b"{}").values():
            if str(row.get("ticker", "")).upper() == t:
                return int(row["cik_str"])
        raise SecFetchError(res.url, f"ticker {t!r} is not in company_tickers.json", retryable=False)

    def close(self) -> None:
        self.client.close()
        self.wh.dispose()

    def queue_depth(self, cik: int) -> int:
        t = edgar_downloads
        with self.wh.session(self.tenant) as s:
            return s.count("edgar_downloads", t.c.cik == int(cik), t.c.kind == "filing", t.c.status != "done")

    def poll(self, req: PollRequest, *, max_files: int | None = None) -> PollReport:
        """One poll of one company (see the module docstring). ``max_files`` bounds the downloads."""
        t0 = time.perf_counter()
        report = PollReport(int(req.cik))
        self.requeue_failed(req.cik)
        filings = self._submissions(req.cik, report, req.since)
        forms = {f.upper() for f in req.forms}
        chosen = {f.accession: f for f in filings
                  if f.form.upper() in forms and (req.since is None or f.filing_date >= req.since)}
        report.selected = len(chosen)
        report.enqueued = self.enqueue(req.cik, sorted(chosen.values(), key=lambda f: (f.filing_date, f.accession)),
                                       req.documents)
        n = 0
        while max_files is None or n < max_files:
            r = self.claim_next(req.cik)
            if r is None:
                break
            self.download(r, report)
            n += 1
        report.queue_depth = self.queue_depth(req.cik)
        report.elapsed_s = time.perf_counter() - t0
        return report


def telemetry_events(report: PollReport, stats, *, ts_us: int | None = None) -> list:
    """The poll's telemetry (see the module docstring) as ``thunderline.telemetry`` events."""
    from thunderline.telemetry import make_event

    tags = {"source": "edgar", "cik": report.cik}
    ts = ts_us or now_us()
    out = [make_event(f"source.edgar.{k}", float(v), tags, ts) for k, v in (
        ("requests", stats.requests), ("throttled", stats.throttled), ("errors", stats.errors + len(report.failed)),
        ("bytes", stats.bytes), ("filings_landed", report.landed), ("queue_depth", report.queue_depth))]
    if report.landed and report.elapsed_s > 0:
        out.append(make_event("source.edgar.throughput", report.landed / report.elapsed_s, tags, ts))
    if report.lag_s:
        out.append(make_event("source.edgar.lag_s", max(report.lag_s), tags, ts))
    return out


def record_poll(poller: EdgarPoller, report: PollReport) -> None:
    """Write the poll's telemetry events to the warehouse (the dashboard and /metrics read them)."""
    from thunderline.telemetry import EventBatch

    batch = EventBatch()
    batch.extend(telemetry_events(report, poller.client.stats))
    with poller.wh.session(poller.tenant) as s:
        batch.flush(s)


def _json_validator(body) -> str | None:
    data = body.read_bytes() if isinstance(body, Path) else body
    try:
        json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return f"not complete JSON ({exc})"
    return None


def _sgml_validator(body) -> str | None:
    """A full submission is complete only when it ends with ``</SEC-DOCUMENT>``."""
    with open(body, "rb") as fh:
        head = fh.read(64).lstrip()
        fh.seek(max(0, os.fstat(fh.fileno()).st_size - 256))
        tail = fh.read().rstrip()
    if not head.startswith((b"<SEC-DOCUMENT>", b"<SEC-HEADER>")):
        return "does not start with <SEC-DOCUMENT>"
    if not tail.endswith(b"</SEC-DOCUMENT>"):
        return "does not end with </SEC-DOCUMENT> (truncated)"
    return None


def _atomic_write(dest: Path, body: bytes) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.part")
    with open(tmp, "wb") as fh:
        fh.write(body)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, dest)
    fsync_dir(dest.parent)



def poller_from_settings(settings, *, sleep=time.sleep) -> EdgarPoller:
    """A poller on the configured warehouse, landing area, SEC URLs and shared rate budget.

    Raises :class:`~thunderline.sources.sec_http.SecConfigError` without a contact User-Agent."""
    from thunderline.sources.sec_http import SecClientConfig

    cfg = SecClientConfig(user_agent=settings.sec_user_agent or "", max_rps=settings.sec_max_rps,
                          bucket_path=settings.home / "sources" / "sec.bucket")
    wh = Warehouse(settings.warehouse_url)
    wh.init_schema()
    return EdgarPoller(wh, settings.tenant_id, settings.edgar_landing, SecClient(cfg, sleep=sleep),
                       Urls(settings.sec_data_url, settings.sec_archives_url))
