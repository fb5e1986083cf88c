"""Filing metadata that sits *beside* a bare document: what a user (or the EDGAR poller) knows
about a primary HTML / XBRL instance that the document itself does not say.

A bare 10-K HTML downloaded from EDGAR carries its CIK and form (inline XBRL) but no acceptance
time and no filing date, so it cannot be placed in time. Three files beside it can say when:

* ``<document>.meta.json`` — our sidecar, written by hand or by ``thunderline edgar fetch``::

      {"accession": "0000320193-24-000123", "form": "10-K", "filed_date": "2024-11-01",
       "acceptance_time": "2024-11-01T06:01:36", "cik": 320193}

  ``acceptance_time`` is read the way SEC writes it: a wall-clock time in **US/Eastern** (a
  trailing ``Z`` is ignored, as in the submissions API, whose ``Z`` is false); an explicit
  numeric offset (``-04:00``) is honoured; ``YYYYMMDDHHMMSS`` (the SGML form) is accepted too.
  Every field is optional except that at least ``filed_date`` or ``acceptance_time`` is needed
  to date the document; ``cik`` and ``form``, when given, must agree with the document.
* ``<accession>-index-headers.html`` — EDGAR's rendering of the filing's SGML header
  (``<ACCEPTANCE-DATETIME>``, ``<ACCESSION-NUMBER>``, ``<TYPE>``, ``<FILING-DATE>``, ``<CIK>``),
  used when it is the only one in the document's directory.
* ``index.json`` / ``<accession>-index.json`` — EDGAR's directory listing of the filing: it
  names the CIK and accession only (no dates), so the acceptance time then comes from a
  submissions JSON that lists that accession.

These files are never documents themselves: the landing index records them as
``edgar_sidecar`` with no partitions.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

from thunderline.edgar import times
from thunderline.edgar.errors import EdgarMissingFieldError, EdgarParseError

META_SUFFIX = ".meta.json"
HEADERS_SUFFIX = "-index-headers.html"
_ACCESSION = re.compile(r"^\d{10}-\d{2}-\d{6}$")
_ACC_DIR = re.compile(r"/data/(\d{1,10})/(\d{18})/?$")
_META_KEYS = {"accession", "form", "filed_date", "acceptance_time", "cik", "period"}


@dataclass(frozen=True)
class FilingHints:
    """What a sidecar says about the document beside it (None = not said)."""

    source: str  # the sidecar's file name
    accession: str | None = None
    form: str | None = None
    filed_date: str | None = None
    accepted_at_us: int | None = None
    cik: int | None = None
    period: str | None = None  # period of report, ISO date

    def parse_kwargs(self) -> dict:
        """Keyword hints for ``thunderline.edgar.parse_bytes`` (they only fill what a document lacks)."""
        out = {"accession": self.accession, "filed_date": self.filed_date, "accepted_at_us": self.accepted_at_us,
               "form": self.form, "cik": self.cik, "period": self.period}
        return {k: v for k, v in out.items() if v is not None}


def is_sidecar(path: Path) -> bool:
    """Whether ``path`` is filing metadata (never a document to parse)."""
    n = path.name
    return n.endswith(META_SUFFIX) or n.endswith(HEADERS_SUFFIX) or n == "index.json" or n.endswith("-index.json")


def _accession(value, source: str) -> str:
    s = str(value).strip()
    if s.isdigit() and len(s) == 18:
        s = f"{s[:10]}-{s[10:12]}-{s[12:]}"
    if not _ACCESSION.match(s):
        raise EdgarParseError(source, f"field 'accession': {value!r} is not an EDGAR accession number (0000320193-24-000123)")
    return s


def _cik(value, source: str) -> int:
    from thunderline.identifiers import InvalidIdentifier, check_cik

    try:
        return check_cik(value if isinstance(value, int) else str(value).strip())
    except InvalidIdentifier as exc:
        raise EdgarParseError(source, f"field 'cik': {exc}") from None


def _date(value, source: str, name: str) -> str:
    s = str(value).strip()
    try:
        if len(s) == 8 and s.isdigit():
            return times.sgml_date_to_iso(s)
        return dt.date.fromisoformat(s).isoformat()
    except ValueError:
        raise EdgarParseError(source, f"field {name!r}: {value!r} is not a date YYYY-MM-DD") from None


def parse_acceptance(value, source: str) -> int:
    """An acceptance time as SEC writes it -> UTC µs (see the module docstring for the rules)."""
    s = str(value).strip()
    try:
        if len(s) == 14 and s.isdigit():
            return times.parse_sgml_acceptance(s)
        if s.endswith("Z"):
            return times.parse_submissions_acceptance(s)
        ts = dt.datetime.fromisoformat(s)
    except ValueError as exc:
        raise EdgarParseError(source, f"field 'acceptance_time': {value!r}: {exc}") from None
    if ts.tzinfo is not None:
        return times.to_us(ts)
    return times.eastern_wall_to_us(ts)


def parse_meta_json(data: bytes, source: str) -> FilingHints:
    try:
        payload = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EdgarParseError(source, f"sidecar is not valid JSON: {exc}", getattr(exc, "lineno", None)) from None
    if not isinstance(payload, dict):
        raise EdgarParseError(source, "sidecar must be a JSON object")
    unknown = sorted(set(payload) - _META_KEYS)
    if unknown:
        raise EdgarParseError(source, f"unknown sidecar fields {unknown}; allowed: {sorted(_META_KEYS)}")
    h = FilingHints(
        source=source,
        accession=_accession(payload["accession"], source) if payload.get("accession") else None,
        form=str(payload["form"]).strip().upper() if payload.get("form") else None,
        filed_date=_date(payload["filed_date"], source, "filed_date") if payload.get("filed_date") else None,
        accepted_at_us=parse_acceptance(payload["acceptance_time"], source) if payload.get("acceptance_time") else None,
        cik=_cik(payload["cik"], source) if payload.get("cik") is not None else None,
        period=_date(payload["period"], source, "period") if payload.get("period") else None,
    )
    if h.filed_date is None and h.accepted_at_us is None:
        raise EdgarMissingFieldError(source, "sidecar gives neither 'filed_date' nor 'acceptance_time': the document cannot be dated")
    return h


_TAG_LINE = re.compile(r"^<([A-Z][A-Z0-9-]*)>([^<\r\n]*)$", re.M)
_COLON_LINE = re.compile(r"^\s*([A-Z][A-Z ]+):\s*(\S.*)$", re.M)


def parse_index_headers(data: bytes, source: str) -> FilingHints:
    """EDGAR's ``<accession>-index-headers.html`` (the SGML header shown in a ``<pre>``)."""
    text = html.unescape(data.decode("latin-1"))
    tags: dict[str, str] = {}
    for k, v in _TAG_LINE.findall(text):
        tags.setdefault(k, v.strip())  # the first <CIK> is the (first) filer's
    for k, v in _COLON_LINE.findall(text):  # the older "ACCESSION NUMBER:\t..." layout
        tags.setdefault(k.strip().replace(" ", "-"), v.strip())
    acc = tags.get("ACCESSION-NUMBER")
    accept = tags.get("ACCEPTANCE-DATETIME")
    filed = tags.get("FILING-DATE") or tags.get("FILED-AS-OF-DATE")
    if not acc or not (accept or filed):
        raise EdgarMissingFieldError(source, "index-headers page has no <ACCESSION-NUMBER> with <ACCEPTANCE-DATETIME> or <FILING-DATE>")
    cik = tags.get("CIK") or tags.get("CENTRAL-INDEX-KEY")
    period = tags.get("PERIOD") or tags.get("CONFORMED-PERIOD-OF-REPORT")
    form = tags.get("TYPE") or tags.get("CONFORMED-SUBMISSION-TYPE")
    return FilingHints(
        source=source, accession=_accession(acc, source), form=form.upper() if form else None,
        filed_date=_date(filed, source, "FILING-DATE") if filed else None,
        accepted_at_us=parse_acceptance(accept, source) if accept else None,
        cik=_cik(cik, source) if cik else None,
        period=_date(period, source, "PERIOD") if period else None,
    )


def parse_index_json(data: bytes, source: str) -> FilingHints:
    """EDGAR's filing directory listing (``{"directory": {"name": "/Archives/edgar/data/CIK/ACC", ...}}``)."""
    try:
        payload = json.loads(data)
        name = payload["directory"]["name"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise EdgarParseError(source, f"not an EDGAR filing index.json (directory.name): {exc}") from None
    m = _ACC_DIR.search(str(name))
    if not m:
        raise EdgarParseError(source, f"directory.name {name!r} is not /Archives/edgar/data/<cik>/<accession>")
    return FilingHints(source=source, accession=_accession(m.group(2), source), cik=_cik(m.group(1), source))


def hints_for(path: Path) -> FilingHints | None:
    """The sidecar hints that apply to the document at ``path`` (None when there is none).

    Precedence: ``<name>.meta.json``, then the directory's single ``*-index-headers.html``, then
    its single ``index.json`` / ``*-index.json``. Several candidates of one kind are ambiguous
    and raise (name the filing in a ``.meta.json`` instead).
    """
    meta = path.with_name(path.name + META_SUFFIX)
    if meta.is_file():
        return parse_meta_json(meta.read_bytes(), meta.name)
    parent = path.parent
    for pattern, parser in ((f"*{HEADERS_SUFFIX}", parse_index_headers), ("*index.json", parse_index_json)):
        found = sorted(p for p in parent.glob(pattern) if p.is_file() and is_sidecar(p))
        if len(found) > 1:
            raise EdgarParseError(str(path.name), f"{len(found)} EDGAR index files beside it ({[p.name for p in found[:4]]}): "
                                                  f"ambiguous; add {meta.name} naming the filing")
        if found:
            return parser(found[0].read_bytes(), found[0].name)
    return None


def missing_date_advice(path: Path) -> str:
    """What to put beside ``path`` so that it can be dated (used in the error a user sees)."""
    return (f"add a sidecar {path.name}{META_SUFFIX} beside it, e.g. "
            '{"accession": "0000000000-00-000000", "form": "10-K", "filed_date": "YYYY-MM-DD", '
            '"acceptance_time": "YYYY-MM-DDTHH:MM:SS"} (US/Eastern, as SEC writes it), '
            f"or EDGAR's <accession>{HEADERS_SUFFIX} for the filing, or land the company's submissions JSON")
