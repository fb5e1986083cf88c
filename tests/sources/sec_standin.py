"""A local stand-in for SEC's two hosts (data.sec.gov + www.sec.gov), on 127.0.0.1 only.

It serves the real files of ``shared/datasets/edgar`` in SEC's URL layout:

* ``/submissions/CIK0000001961.json`` — a submissions JSON for Worlds Inc. built on the real
  ``CIK0000320193.json`` (same keys, same column layout), whose rows are read from the three real
  Worlds full submissions (accession, form, dates, ``acceptanceDateTime`` written SEC's way, with
  its false ``Z``), plus rows of other forms and an older page in ``filings.files``;
  ``/submissions/CIK0000320193.json`` — Apple's real file, byte for byte;
* ``/Archives/edgar/data/1961/<acc>/<acc>.txt`` — the real full submissions, byte for byte;
  ``…/<primary>.htm`` — the primary document cut out of the SGML; ``…/<acc>-index-headers.html``
  — the SGML header rendered as EDGAR renders it;
* ``/files/company_tickers.json``.

Like SEC it answers 403 to a request without a contact User-Agent, and it honours
If-None-Match / If-Modified-Since (304) and Range + If-Range (206). Faults are injected per
path (429 / 503 with or without Retry-After, truncated bodies, slow answers) and bodies can be
trickled so that a client can be killed mid-download. Every request is logged with its arrival
time so tests measure the request rate **at the server**.
"""

from __future__ import annotations

import copy
import email.utils
import hashlib
import html
import json
import re
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

WORLDS_CIK = 1961
WORLDS_FILES = ["0001264931-16-000339.txt", "0001264931-17-000036.txt", "0001264931-18-000031.txt"]
# rows of forms a 10-K/10-Q/8-K poll must not select, and filings before a 2016 --since
DECOYS_RECENT = [("0001264931-18-000077", "2018-05-14", "2018-03-31", "4", "form4.xml"),
                 ("0001264931-17-000101", "2017-09-01", "", "SC 13G", "sc13g.htm"),
                 ("0001264931-16-000500", "2016-06-20", "", "DEF 14A", "def14a.htm")]
DECOYS_OLD = [("0001264931-14-000010", "2014-04-10", "2013-12-31", "10-K", "worlds10k2013.htm"),
              ("0001264931-13-000020", "2013-08-14", "2013-06-30", "10-Q", "worlds10q0613.htm")]


@dataclass(frozen=True)
class Filing:
    accession: str
    form: str
    period: str  # YYYY-MM-DD
    filed: str
    acceptance: str  # YYYYMMDDHHMMSS (US/Eastern)
    primary: str
    name: str
    cik: int
    header_text: str
    body: bytes


def _header(body: bytes) -> dict[str, str]:
    head = body[: body.index(b"</SEC-HEADER>")].decode("latin-1")
    out = {"ACCEPTANCE-DATETIME": re.search(r"<ACCEPTANCE-DATETIME>(\d{14})", head).group(1)}
    for k, v in re.findall(r"^\s*([A-Z][A-Z ]+):\s*(\S.*)$", head, re.M):
        out.setdefault(k.strip(), v.strip())
    return out


def _iso(d: str) -> str:
    return f"{d[:4]}-{d[4:6]}-{d[6:8]}"


def load_filing(path: Path) -> Filing:
    body = path.read_bytes()
    h = _header(body)
    primary = re.search(rb"<DOCUMENT>\s*<TYPE>[^\n]*\n<SEQUENCE>[^\n]*\n<FILENAME>([^\n]+)", body).group(1).decode().strip()
    return Filing(h["ACCESSION NUMBER"], h["CONFORMED SUBMISSION TYPE"], _iso(h["CONFORMED PERIOD OF REPORT"]),
                  _iso(h["FILED AS OF DATE"]), h["ACCEPTANCE-DATETIME"], primary, h["COMPANY CONFORMED NAME"],
                  int(h["CENTRAL INDEX KEY"]), body[: body.index(b"</SEC-HEADER>")].decode("latin-1"), body)


def primary_document(f: Filing) -> bytes:
    """The primary document's bytes as EDGAR serves it: the first <TEXT> block of the submission."""
    start = f.body.index(b"<TEXT>\n") + len(b"<TEXT>\n")
    return f.body[start: f.body.index(b"</TEXT>", start)]


def index_headers_html(f: Filing) -> bytes:
    """The header page EDGAR shows at ``<acc>-index-headers.html`` (SGML tags, escaped in a <pre>)."""
    lines = [f"<ACCEPTANCE-DATETIME>{f.acceptance}", f"<ACCESSION-NUMBER>{f.accession}", f"<TYPE>{f.form}",
             f"<PERIOD>{f.period.replace('-', '')}", f"<FILING-DATE>{f.filed.replace('-', '')}", "<FILER>",
             "<COMPANY-DATA>", f"<CONFORMED-NAME>{f.name}", f"<CIK>{f.cik:010d}", "</COMPANY-DATA>", "</FILER>"]
    pre = html.escape("\n".join(lines), quote=False)
    return (f"<html><head><title>{f.accession}.hdr.sgml : {f.filed.replace('-', '')}</title></head>\n"
            f"<body><pre>\n{pre}\n</pre></body></html>\n").encode()


def _sec_acceptance(a: str) -> str:
    return f"{a[:4]}-{a[4:6]}-{a[6:8]}T{a[8:10]}:{a[10:12]}:{a[12:14]}.000Z"  # SEC's (false) Z


def _columns(template_recent: dict, rows: list[dict]) -> dict:
    cols = {k: [] for k in template_recent}
    for r in rows:
        for k in cols:
            cols[k].append(r.get(k, "" if isinstance(template_recent[k][0], str) else 0))
    return cols


def _row(acc, filed, period, form, primary, acceptance=None, size=0, xbrl=0) -> dict:
    return {"accessionNumber": acc, "filingDate": filed, "reportDate": period,
            "acceptanceDateTime": acceptance or f"{filed}T16:05:00.000Z", "act": "34", "form": form,
            "fileNumber": "000-24115", "filmNumber": "", "items": "", "size": size, "isXBRL": xbrl,
            "isInlineXBRL": 0, "primaryDocument": primary, "primaryDocDescription": form}


def build_worlds(edgar: Path) -> tuple[dict[str, bytes], list[Filing]]:
    """SEC paths → bytes for the Worlds Inc. stand-in, and its three real filings."""
    apple = json.loads((edgar / "aapl" / "CIK0000320193.json").read_bytes())
    filings = [load_filing(edgar / "worlds_inc" / n) for n in WORLDS_FILES]
    rows = {f.accession: _row(f.accession, f.filed, f.period, f.form, f.primary, _sec_acceptance(f.acceptance),
                              len(f.body), 1) for f in filings}
    tmpl = apple["filings"]["recent"]
    recent = [rows[filings[2].accession], rows[filings[1].accession]] + [_row(*d) for d in DECOYS_RECENT[:2]]
    recent.sort(key=lambda r: r["filingDate"], reverse=True)
    page1 = [rows[filings[0].accession], _row(*DECOYS_RECENT[2])]
    page2 = [_row(*d) for d in DECOYS_OLD]
    sub = copy.deepcopy(apple)
    sub.update(cik=str(WORLDS_CIK), name=filings[0].name, tickers=["WDDD"], exchanges=["OTC"], sic="7372",
               sicDescription="Services-Prepackaged Software", fiscalYearEnd="0930", formerNames=[])
    sub["filings"] = {"recent": _columns(tmpl, recent), "files": [
        {"name": "CIK0000001961-submissions-001.json", "filingCount": 2, "filingFrom": "2016-04-13", "filingTo": "2016-12-31"},
        {"name": "CIK0000001961-submissions-002.json", "filingCount": 2, "filingFrom": "2013-08-14", "filingTo": "2014-04-10"},
    ]}
    routes = {
        "/submissions/CIK0000001961.json": json.dumps(sub, separators=(",", ":")).encode(),
        "/submissions/CIK0000001961-submissions-001.json": json.dumps(_columns(tmpl, page1), separators=(",", ":")).encode(),
        "/submissions/CIK0000001961-submissions-002.json": json.dumps(_columns(tmpl, page2), separators=(",", ":")).encode(),
        "/submissions/CIK0000320193.json": (edgar / "aapl" / "CIK0000320193.json").read_bytes(),
        "/files/company_tickers.json": json.dumps({"0": {"cik_str": 320193, "ticker": "AAPL", "title": "Apple Inc."},
                                                   "1": {"cik_str": 1961, "ticker": "WDDD", "title": "WORLDS INC"}}).encode(),
    }
    for f in filings:
        base = f"/Archives/edgar/data/{f.cik}/{f.accession.replace('-', '')}"
        routes[f"{base}/{f.accession}.txt"] = f.body
        routes[f"{base}/{f.primary}"] = primary_document(f)
        routes[f"{base}/{f.accession}-index-headers.html"] = index_headers_html(f)
    return routes, filings


@dataclass
class Hit:
    t: float  # time.monotonic() at arrival
    path: str
    status: int = 0
    user_agent: str = ""
    range: str | None = None
    sent: int = 0  # body bytes written


class SecStandIn:
    def __init__(self, routes: dict[str, bytes]) -> None:
        self.routes = routes
        self.hits: list[Hit] = []
        self.faults: dict[str, deque] = defaultdict(deque)
        self.trickle: dict[str, float] = {}  # path suffix → seconds per 64 KiB chunk
        self.lock = threading.Lock()
        self.modified = email.utils.formatdate(1_450_000_000, usegmt=True)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):  # quiet
                pass

            def do_GET(self):
                outer._serve(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> "SecStandIn":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def fault(self, path: str, *specs) -> None:
        """Queue faults for the next requests of ``path``: ``("429", retry_after|None)``,
        ``("503", retry_after|None)``, ``("truncate", fraction)``, ``("slow", seconds)``."""
        with self.lock:
            self.faults[path].extend(specs)

    @staticmethod
    def etag(body: bytes) -> str:
        return '"' + hashlib.sha256(body).hexdigest()[:20] + '"'

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        hit = Hit(time.monotonic(), h.path, user_agent=h.headers.get("User-Agent", ""), range=h.headers.get("Range"))
        with self.lock:
            self.hits.append(hit)
            fault = self.faults[h.path].popleft() if self.faults[h.path] else None

        def reply(status: int, body: bytes = b"", headers: dict | None = None) -> None:
            hit.status = status
            h.send_response(status)
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            if body:
                h.wfile.write(body)
            hit.sent = len(body)

        if "@" not in hit.user_agent:
            return reply(403, b"Undeclared automated tool: declare a User-Agent with a contact")
        body = self.routes.get(h.path)
        if body is None:
            return reply(404, b"not found")
        if fault and fault[0] == "slow":
            time.sleep(fault[1])
        if fault and fault[0] in ("429", "503"):
            extra = {"Retry-After": str(fault[1])} if fault[1] is not None else {}
            return reply(int(fault[0]), b"slow down", extra)
        tag = self.etag(body)
        validators = {"ETag": tag, "Last-Modified": self.modified}
        if h.headers.get("If-None-Match") == tag or (
                not h.headers.get("If-None-Match") and h.headers.get("If-Modified-Since") == self.modified):
            return reply(304, b"", validators)
        start, status = 0, 200
        rng = h.headers.get("Range")
        if rng and h.headers.get("If-Range") in (tag, self.modified):
            start = int(re.match(r"bytes=(\d+)-", rng).group(1))
            status = 206
        part = body[start:]
        hit.status = status
        h.send_response(status)
        for k, v in validators.items():
            h.send_header(k, v)
        if status == 206:
            h.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        h.send_header("Content-Length", str(len(part)))
        h.end_headers()
        cut = int(len(part) * fault[1]) if fault and fault[0] == "truncate" else None
        delay = next((d for suffix, d in self.trickle.items() if h.path.endswith(suffix)), 0.0)
        try:
            for i in range(0, len(part) if cut is None else cut, 65536):
                chunk = part[i: i + 65536 if cut is None else min(i + 65536, cut)]
                h.wfile.write(chunk)
                h.wfile.flush()
                hit.sent += len(chunk)
                if delay:
                    time.sleep(delay)
        except (BrokenPipeError, ConnectionResetError):
            return
        if cut is not None:
            h.close_connection = True

    # -- what the tests measure
    def requests_of(self, path: str) -> list[Hit]:
        with self.lock:
            return [x for x in self.hits if x.path == path]

    def max_per_window(self, window_s: float = 1.0) -> int:
        """Most requests that arrived within any half-open window of ``window_s`` seconds."""
        with self.lock:
            ts = sorted(x.t for x in self.hits)
        best, j = 0, 0
        for i, t in enumerate(ts):
            while ts[j] <= t - window_s:
                j += 1
            best = max(best, i - j + 1)
        return best
