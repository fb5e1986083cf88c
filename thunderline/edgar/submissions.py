"""SEC submissions JSON (``data.sec.gov/submissions/CIK##########.json``): filing history.

``filings.recent`` is column-oriented (parallel arrays). Each filing becomes a ``FilingRecord``
with its acceptance time converted to UTC µs **reading the wall clock as US/Eastern** - the
``Z`` suffix SEC writes is false (see ``thunderline.edgar.times``). A ``SubmissionsIndex`` is
what other parsers consult for the acceptance time of a document that does not carry one
(bare HTML, an XBRL instance, companyfacts rows), by accession or by (CIK, form, report date).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from thunderline.edgar.errors import EdgarMissingFieldError, EdgarParseError
from thunderline.edgar.times import parse_submissions_acceptance
from thunderline.identifiers import InvalidIdentifier, check_cik

_COLUMNS = ("accessionNumber", "filingDate", "form")


@dataclass(frozen=True)
class FilingRecord:
    cik: int
    accession: str
    form: str
    filing_date: str
    report_date: str | None
    accepted_at_us: int | None
    acceptance_raw: str | None  # as SEC wrote it (wall clock US/Eastern, false 'Z')
    primary_document: str | None
    is_xbrl: bool
    is_inline_xbrl: bool
    items: str
    size: int | None


@dataclass
class SubmissionsIndex:
    cik: int
    name: str
    tickers: list[str]
    exchanges: list[str]
    fiscal_year_end: str | None
    filings: list[FilingRecord]
    older_files: list[str] = field(default_factory=list)  # filings.files not included in this payload

    def __post_init__(self) -> None:
        self._by_acc = {f.accession: f for f in self.filings}

    def by_accession(self, accession: str) -> FilingRecord | None:
        return self._by_acc.get(accession)

    def lookup(self, *, accession: str | None = None, cik: int | None = None, form: str | None = None,
               report_date: str | None = None) -> FilingRecord | None:
        """By accession; else the unique filing of (cik, form, report_date)."""
        if accession and accession in self._by_acc:
            return self._by_acc[accession]
        if cik is None or cik != self.cik or not form or not report_date:
            return None
        hits = [f for f in self.filings if f.form == form and f.report_date == report_date]
        return hits[0] if len(hits) == 1 else None


_OPTIONAL_STR = ("acceptanceDateTime", "reportDate", "primaryDocument", "items")


def _json_kind(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(v), type(v).__name__)


def _str_or(v, default):
    return v if isinstance(v, str) else default


def _strs(v) -> list[str]:
    return [x for x in v if isinstance(x, str)] if isinstance(v, list) else []


def parse_submissions_json(data: bytes | str | dict, source: str = "<submissions>") -> SubmissionsIndex:
    if isinstance(data, dict):
        payload = data
    else:
        try:
            payload = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise EdgarParseError(source, f"not valid JSON: {exc}", getattr(exc, "lineno", None)) from None
    if not isinstance(payload, dict) or "filings" not in payload:
        raise EdgarParseError(source, "not a submissions JSON: no 'filings' key")
    cik_raw = payload.get("cik")
    if cik_raw is None or isinstance(cik_raw, bool) or not str(cik_raw).strip().isdigit():
        raise EdgarMissingFieldError(source, f"submissions JSON has no numeric 'cik' (got {str(cik_raw)[:40]!r})")
    try:
        cik = check_cik(str(cik_raw).strip())
    except InvalidIdentifier as exc:
        raise EdgarParseError(source, f"cik: {exc.rule} (got {str(cik_raw)[:40]!r})") from None
    filings_obj = payload["filings"]
    if not isinstance(filings_obj, dict):
        raise EdgarParseError(source, f"filings: expected an object, got {_json_kind(filings_obj)}")
    recent = filings_obj.get("recent") or {}
    if not isinstance(recent, dict):
        raise EdgarParseError(source, f"filings.recent: expected an object of arrays, got {_json_kind(recent)}")
    missing = [c for c in _COLUMNS if c not in recent]
    if missing:
        raise EdgarParseError(source, f"filings.recent lacks columns {missing}")
    not_arrays = [k for k in (*_COLUMNS, *_OPTIONAL_STR) if k in recent and not isinstance(recent[k], list)]
    if not_arrays:
        raise EdgarParseError(source, f"filings.recent.{not_arrays[0]}: expected an array, got {_json_kind(recent[not_arrays[0]])}")
    n = len(recent["accessionNumber"])
    bad = [k for k, v in recent.items() if isinstance(v, list) and len(v) != n]
    if bad:
        raise EdgarParseError(source, f"filings.recent arrays have unequal lengths ({bad} != {n}): truncated payload?")
    for name in (*_COLUMNS, *_OPTIONAL_STR):
        values = recent.get(name)
        if values is None:
            continue
        required = name in _COLUMNS
        for i, v in enumerate(values):
            if not (isinstance(v, str) or (v is None and not required)):
                raise EdgarParseError(source, f"filings.recent.{name}[{i}]: expected a string, got {_json_kind(v)} "
                                              f"({str(v)[:40]!r})")

    def col(name: str, i: int, default=None):
        v = recent.get(name)
        return v[i] if isinstance(v, list) and i < len(v) else default

    filings = []
    for i in range(n):
        raw = col("acceptanceDateTime", i)
        try:
            acc_us = parse_submissions_acceptance(raw) if raw else None
        except ValueError as exc:
            raise EdgarParseError(source, f"filing {recent['accessionNumber'][i]}: bad acceptanceDateTime {raw!r}: {exc}") from None
        filings.append(FilingRecord(
            cik=cik, accession=recent["accessionNumber"][i], form=recent["form"][i], filing_date=recent["filingDate"][i],
            report_date=col("reportDate", i) or None, accepted_at_us=acc_us, acceptance_raw=raw,
            primary_document=col("primaryDocument", i) or None, is_xbrl=bool(col("isXBRL", i, 0)),
            is_inline_xbrl=bool(col("isInlineXBRL", i, 0)), items=col("items", i, "") or "",
            size=col("size", i),
        ))
    return SubmissionsIndex(
        cik=cik, name=_str_or(payload.get("name"), ""), tickers=_strs(payload.get("tickers")),
        exchanges=_strs(payload.get("exchanges")), fiscal_year_end=_str_or(payload.get("fiscalYearEnd"), None),
        filings=filings, older_files=[f.get("name", "") for f in (filings_obj.get("files") or [])
                                      if isinstance(f, dict) and isinstance(f.get("name", ""), str)],
    )
