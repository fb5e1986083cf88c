"""Recognise an EDGAR file by its content (never by its name) and parse it into EDGARDocs.

Kinds: ``submission`` (full-submission SGML .txt), ``html`` (primary document, inline XBRL or
not), ``xbrl_instance`` (XBRL 2.1 .xml), ``companyfacts`` and ``submissions_json`` (SEC JSON APIs).
Anything else - binary, UTF-16, an unrelated XML/JSON - raises ``EdgarUnrecognisedError`` /
``EdgarEncodingError`` so the caller can quarantine it with the reason.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from thunderline.contracts import DEFAULT_TENANT, EDGARDoc
from thunderline.edgar import documents
from thunderline.edgar.errors import EdgarParseError, EdgarUnrecognisedError
from thunderline.edgar.submissions import SubmissionsIndex
from thunderline.edgar.textnorm import reject_wide_or_binary

KINDS = ("submission", "html", "xbrl_instance", "companyfacts", "submissions_json")


def detect_kind(data: bytes, source: str = "<bytes>") -> str:
    """The kind of an EDGAR file from its first bytes (JSON kinds from their top-level keys)."""
    if not data.strip():
        raise EdgarUnrecognisedError(source, "empty file")
    reject_wide_or_binary(data[:65536], source)
    head = data[:8192].lstrip()
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:].lstrip()
    if head.startswith((b"<SEC-DOCUMENT>", b"<SEC-HEADER>")):
        return "submission"
    if head.startswith(b"<SUBMISSION>") or head.startswith(b"<IMS-DOCUMENT>"):
        raise EdgarUnrecognisedError(source, "EDGAR PDS/dissemination (.nc) format is not supported; use the .txt full submission", 1)
    if head.startswith((b"{", b"[")):
        try:
            payload = json.loads(data, parse_float=Decimal)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise EdgarParseError(source, f"starts like JSON but is not valid JSON: {exc}", getattr(exc, "lineno", None)) from None
        if isinstance(payload, dict) and "facts" in payload and "cik" in payload:
            return "companyfacts"
        if isinstance(payload, dict) and "filings" in payload and "cik" in payload:
            return "submissions_json"
        keys = list(payload)[:8] if isinstance(payload, dict) else type(payload).__name__
        raise EdgarUnrecognisedError(source, f"JSON is neither SEC companyfacts nor submissions (top-level keys {keys})")
    low = head.lower()
    if b"<html" in low or b"<!doctype html" in low:
        return "html"
    if b"http://www.xbrl.org/2003/instance" in head and (b"<xbrl" in low or b":xbrl" in low):
        return "xbrl_instance"
    if low.startswith(b"<?xml") and b"inlinexbrl" in low:
        return "html"
    raise EdgarUnrecognisedError(source, "unrecognised content: not an SGML full submission, HTML, XBRL instance or SEC JSON", 1)


def parse_bytes(data: bytes, source: str, tenant_id: str = DEFAULT_TENANT, *,
                submissions: SubmissionsIndex | None = None, accession: str | None = None,
                filed_date: str | None = None, accepted_at_us: int | None = None, form: str | None = None,
                require_sections: bool = True, forms=documents.DEFAULT_FORMS, cik: int | None = None,
                period: str | None = None) -> list[EDGARDoc]:
    """Parse one file's bytes into EDGARDocs (one for a document; one per filing for the JSON kinds).

    The keyword hints only fill what the document lacks (acceptance time, accession, form of a bare
    HTML); they never override what the document says.
    """
    kind = detect_kind(data, source)
    if kind == "submission":
        return [documents.doc_from_submission(data, source, tenant_id, submissions=submissions, require_sections=require_sections)]
    if kind == "html":
        return [documents.doc_from_html(data, source, tenant_id, accession=accession, form=form, filed_date=filed_date,
                                        accepted_at_us=accepted_at_us, submissions=submissions,
                                        require_sections=require_sections, cik=cik, period=period)]
    if kind == "xbrl_instance":
        return [documents.doc_from_instance(data, source, tenant_id, accession=accession, filed_date=filed_date,
                                            accepted_at_us=accepted_at_us, submissions=submissions)]
    if kind == "companyfacts":
        return documents.docs_from_companyfacts(data, source, tenant_id, submissions=submissions)
    return documents.docs_from_submissions_json(data, source, tenant_id, forms=forms)


def parse_path(path: str | Path, tenant_id: str = DEFAULT_TENANT, *, source: str | None = None, **hints) -> list[EDGARDoc]:
    """Read ``path`` and ``parse_bytes`` it. ``source`` (default: the path as given) is recorded in every
    EDGARDoc and is part of its content hash: pass a stable name (e.g. relative to the landing
    directory) when documents must hash the same on another machine. See ``parse_bytes`` for hints."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise EdgarParseError(str(path), f"cannot read: {exc}") from None
    return parse_bytes(data, source or str(path), tenant_id, **hints)
