"""Assemble ``contracts.EDGARDoc`` from what the format parsers return.

Rules every builder follows (and records in ``meta`` so a reader can audit them):

* **CIK** comes from the document: the SGML header's CENTRAL INDEX KEY, else
  ``dei:EntityCentralIndexKey``, else the XBRL contexts' SEC identifier, else the JSON ``cik``;
  never from a file name. ``meta['cik_source']`` says which; a disagreement between the SGML
  header and the XBRL is kept in ``meta['warnings']``.
* **accepted_at_us** (= availability time): the document's own acceptance time (SGML), else the
  caller's explicit value, else the submissions JSON (by accession, then CIK+form+report date),
  else 23:59:59 US/Eastern of the filing date; no date at all -> ``EdgarMissingFieldError``.
  ``meta['accepted_at_rule']`` names the rule.
* **accession**: from the document or the caller; a bare HTML/instance without one gets
  ``derived:<cik>:<form>:<period>`` (``meta['accession_rule'] = 'derived'``), which the window
  builder attaches to the real filing of the same CIK, form and period.
* **form**: SGML CONFORMED SUBMISSION TYPE, else dei:DocumentType (+ ``/A`` when
  dei:AmendmentFlag is true), else the cover page's "FORM 10-K" line.
"""

from __future__ import annotations

import re

from thunderline.contracts import DEFAULT_TENANT, EDGARDoc
from thunderline.edgar import times
from thunderline.edgar.companyfacts import accession_period_end, parse_companyfacts, records_by_accession
from thunderline.edgar.errors import EdgarMissingFieldError, EdgarParseError
from thunderline.edgar.html_sections import SectionResult, form_family, split_sections
from thunderline.edgar.htmltext import html_lines, parse_html_document, text_lines
from thunderline.edgar.ixbrl import XbrlResult, parse_inline_xbrl
from thunderline.edgar.sgml import parse_submission
from thunderline.edgar.submissions import SubmissionsIndex, parse_submissions_json
from thunderline.edgar.textnorm import decode_document
from thunderline.edgar.xbrl_instance import parse_instance_bytes

#: Forms whose submissions-JSON rows become EDGARDocs by default (periodic and current reports).
DEFAULT_FORMS = frozenset(
    f + a for f in ("10-K", "10-Q", "20-F", "40-F", "8-K", "6-K", "10-KT", "10-QT") for a in ("", "/A")
)
_FORM_LINE = re.compile(r"^form\s+(10-k|10-q|20-f|40-f|8-k|6-k|10-kt|10-qt)(\s*/\s*a)?\b", re.I)


def _is_amendment_flag(dei: dict) -> bool:
    return dei.get("dei:AmendmentFlag", "").strip().lower() in ("true", "1", "yes")


def _form_from_dei(dei: dict) -> str | None:
    f = dei.get("dei:DocumentType", "").strip().upper()
    if not f:
        return None
    if _is_amendment_flag(dei) and not f.endswith("/A"):
        f += "/A"
    return f


def _form_from_cover(lines: list[str]) -> str | None:
    for ln in lines[:200]:
        m = _FORM_LINE.match(ln)
        if m:
            return m.group(1).upper() + ("/A" if m.group(2) else "")
    return None


def resolve_accepted_at(
    source: str, *, sgml_acceptance: str | None = None, explicit_us: int | None = None,
    submissions: SubmissionsIndex | None = None, accession: str | None = None, cik: int | None = None,
    form: str | None = None, period: str | None = None, filed_date: str | None = None,
) -> tuple[int, str, str | None]:
    """(accepted_at_us, rule, filed_date) by the precedence in the module docstring."""
    if sgml_acceptance:
        try:
            return times.parse_sgml_acceptance(sgml_acceptance), times.RULE_SGML, filed_date
        except ValueError as exc:
            raise EdgarParseError(source, f"bad <ACCEPTANCE-DATETIME>: {exc}") from None
    if explicit_us is not None:
        return int(explicit_us), times.RULE_EXPLICIT, filed_date
    if submissions is not None:
        rec = submissions.lookup(accession=accession, cik=cik, form=form, report_date=period)
        if rec is not None and rec.accepted_at_us is not None:
            return rec.accepted_at_us, times.RULE_SUBMISSIONS, filed_date or rec.filing_date
        if rec is not None and not filed_date:
            filed_date = rec.filing_date
    if filed_date:
        return times.end_of_day_eastern_us(filed_date), times.RULE_FILED_EOD, filed_date
    raise EdgarMissingFieldError(
        source,
        "no acceptance time and no filing date in the document (bare HTML / XBRL instance): pass "
        "filed_date=, accepted_at_us= or a submissions index that lists the filing",
    )


def _sections_meta(res: SectionResult) -> dict:
    return {
        "section_keys": list(res.sections),
        "toc_keys": res.toc_keys,
        "section_warnings": res.warnings,
        "low_confidence_sections": res.low_confidence,
    }


def _xbrl_meta(x: XbrlResult, origin: str) -> dict:
    st = dict(x.stats)
    st["skipped"] = st.get("skipped", [])[:50]
    st["conflicts"] = st.get("conflicts", [])[:50]
    dei = {k: v for k, v in x.dei.items() if len(v) <= 200}
    main = None
    for f in x.nonnumeric:
        if f["concept"] == "dei:DocumentType" and not f["dims"]:
            main = (f["period_start"], f["period_end"])
            break
    return {"xbrl_source": origin, "xbrl_stats": st, "dei": dei, "dei_period": list(main) if main else None}


def _primary_text(body: bytes, source: str, form: str, require_sections: bool):
    text, enc = decode_document(body, source)
    lines = text_lines(text)
    sres = split_sections(lines, form, source, require_items=require_sections and form_family(form) is not None)
    return enc, sres


def _primary_html(body: bytes, source: str, form_hint: str | None, require_sections: bool):
    hdoc = parse_html_document(body, source)
    lines = html_lines(hdoc.root)
    xres = parse_inline_xbrl(hdoc, source) if hdoc.is_inline_xbrl else None
    form = form_hint or (_form_from_dei(xres.dei) if xres else None) or _form_from_cover(lines.lines)
    if not form:
        raise EdgarMissingFieldError(source, "cannot tell the form: no SGML header, no dei:DocumentType, no 'FORM 10-K' cover line")
    require = require_sections and form_family(form) is not None
    sres = split_sections(lines, form, source, require_items=require)
    return hdoc, lines, xres, sres, form


def doc_from_submission(data: bytes, source: str, tenant_id: str = DEFAULT_TENANT, *,
                        submissions: SubmissionsIndex | None = None, require_sections: bool = True) -> EDGARDoc:
    """A full-submission .txt -> one EDGARDoc (sections of the primary document + XBRL facts)."""
    sub = parse_submission(data, source)
    ent = sub.primary_entity
    cik_text = ent.get("CENTRAL INDEX KEY", "")
    if not cik_text.isdigit():
        raise EdgarMissingFieldError(source, "SGML header has no CENTRAL INDEX KEY for the filer")
    cik = int(cik_text)
    form = sub.form.upper()
    period = sub.header.get("CONFORMED PERIOD OF REPORT")
    filed = sub.header.get("FILED AS OF DATE")
    try:
        period_iso = times.sgml_date_to_iso(period) if period else None
        filed_iso = times.sgml_date_to_iso(filed) if filed else None
    except ValueError as exc:
        raise EdgarParseError(source, f"bad date in SGML header: {exc}") from None
    warnings = list(sub.warnings)
    meta: dict = {
        "cik_source": "sgml_header",
        "accession_rule": "document",
        "sgml": {
            "public_document_count": sub.header.get("PUBLIC DOCUMENT COUNT"),
            "documents_found": len(sub.documents),
            "sic": ent.get("STANDARD INDUSTRIAL CLASSIFICATION"),
            "fiscal_year_end": ent.get("FISCAL YEAR END"),
            "entities": [(n, f.get("CENTRAL INDEX KEY"), f.get("COMPANY CONFORMED NAME")) for n, f in sub.entities],
        },
        "documents": [
            {"type": d.type, "sequence": d.sequence, "filename": d.filename, "kind": d.kind} for d in sub.documents
        ],
        "skipped_binaries": [d.filename for d in sub.documents if d.kind in ("uuencoded", "pdf")],
    }
    sections: dict = {}
    facts: list = []
    primary = sub.primary_document()
    xres = None
    if primary is not None and primary.kind == "html":
        _hdoc, _lines, xres, sres, _ = _primary_html(primary.body, f"{source}#{primary.filename}", form, require_sections)
        sections = sres.sections
        meta.update(_sections_meta(sres))
        meta["primary_document"] = primary.filename
        meta["encoding"] = _hdoc.encoding
        warnings += _hdoc.warnings
        if xres is not None and xres.facts:
            facts = xres.facts
            meta.update(_xbrl_meta(xres, f"inline:{primary.filename}"))
    elif primary is not None and primary.kind == "text":
        enc, sres = _primary_text(primary.body, f"{source}#{primary.filename or 'primary'}", form, require_sections)
        sections = sres.sections
        meta.update(_sections_meta(sres))
        meta["primary_document"] = primary.filename
        meta["encoding"] = enc
    elif require_sections and form_family(form) is not None:
        raise EdgarParseError(source, f"{form}: no HTML or text primary document (found {[d.kind for d in sub.documents[:3]]})")
    if not facts:
        inst = sub.xbrl_instance()
        if inst is not None:
            xres = parse_instance_bytes(inst.body, f"{source}#{inst.filename}")
            facts = xres.facts
            meta.update(_xbrl_meta(xres, f"instance:{inst.filename}"))
    if xres is not None and xres.cik is not None and xres.cik != cik:
        warnings.append(f"XBRL CIK {xres.cik} differs from SGML header CIK {cik} (filer agent or co-registrant?)")
    acc_us, rule, filed_iso = resolve_accepted_at(
        source, sgml_acceptance=sub.acceptance_datetime, submissions=submissions, accession=sub.accession,
        cik=cik, form=form, period=period_iso, filed_date=filed_iso,
    )
    meta["accepted_at_rule"] = rule
    meta["warnings"] = warnings
    return EDGARDoc(
        tenant_id=tenant_id, cik=cik, accession=sub.accession, form=form,
        company_name=ent.get("COMPANY CONFORMED NAME", ""), period_of_report=period_iso, filed_date=filed_iso,
        accepted_at_us=acc_us, doc_kind="submission", source=source, sections=sections, xbrl_facts=facts,
        amends=None, meta=meta,
    )


def _derived_accession(cik: int, form: str, period: str | None) -> str:
    return f"derived:{cik}:{form}:{period or 'unknown'}"


def doc_from_html(data: bytes, source: str, tenant_id: str = DEFAULT_TENANT, *, accession: str | None = None,
                  form: str | None = None, filed_date: str | None = None, accepted_at_us: int | None = None,
                  submissions: SubmissionsIndex | None = None, require_sections: bool = True,
                  cik: int | None = None, period: str | None = None) -> EDGARDoc:
    """A bare primary document (10-K/10-Q/... HTML, inline XBRL or not) -> EDGARDoc.

    ``cik``/``period`` (from a sidecar or an EDGAR index) are used only when the document has no
    inline XBRL to say them."""
    hdoc, _lines, xres, sres, form = _primary_html(data, source, form, require_sections)
    if xres is not None and xres.cik is not None:
        cik = xres.cik
        period = xres.dei.get("dei:DocumentPeriodEndDate") or None
        cik_source = "dei:EntityCentralIndexKey" if "dei:EntityCentralIndexKey" in xres.dei else "xbrl_context"
    elif cik is None:
        raise EdgarMissingFieldError(
            source, "bare HTML without inline XBRL carries no CIK (no SGML header, no dei:EntityCentralIndexKey): "
                    "name it in a sidecar (cik)"
        )
    else:
        cik_source = "sidecar"
    meta = {"cik_source": cik_source, "encoding": hdoc.encoding, "warnings": list(hdoc.warnings)}
    meta.update(_sections_meta(sres))
    if xres is not None:
        meta.update(_xbrl_meta(xres, "inline"))
    acc_us, rule, filed = resolve_accepted_at(
        source, explicit_us=accepted_at_us, submissions=submissions, accession=accession, cik=cik, form=form,
        period=period, filed_date=filed_date,
    )
    if accession is None and submissions is not None:
        rec = submissions.lookup(cik=cik, form=form, report_date=period)
        accession = rec.accession if rec else None
    meta["accepted_at_rule"] = rule
    meta["accession_rule"] = "document" if accession else "derived"
    return EDGARDoc(
        tenant_id=tenant_id, cik=cik, accession=accession or _derived_accession(cik, form, period), form=form,
        company_name=xres.dei.get("dei:EntityRegistrantName", "") if xres else "", period_of_report=period,
        filed_date=filed, accepted_at_us=acc_us, doc_kind="html", source=source, sections=sres.sections,
        xbrl_facts=xres.facts if xres else [], amends=None, meta=meta,
    )


def doc_from_instance(data: bytes, source: str, tenant_id: str = DEFAULT_TENANT, *, accession: str | None = None,
                      filed_date: str | None = None, accepted_at_us: int | None = None,
                      submissions: SubmissionsIndex | None = None) -> EDGARDoc:
    """An XBRL instance -> EDGARDoc (facts only)."""
    xres = parse_instance_bytes(data, source)
    if xres.cik is None:
        raise EdgarMissingFieldError(source, "XBRL instance has no dei:EntityCentralIndexKey and no SEC-scheme context identifier")
    form = _form_from_dei(xres.dei)
    if not form:
        raise EdgarMissingFieldError(source, "XBRL instance has no dei:DocumentType")
    period = xres.dei.get("dei:DocumentPeriodEndDate") or None
    meta = {"cik_source": "dei:EntityCentralIndexKey" if "dei:EntityCentralIndexKey" in xres.dei else "xbrl_context"}
    meta.update(_xbrl_meta(xres, "instance"))
    acc_us, rule, filed = resolve_accepted_at(
        source, explicit_us=accepted_at_us, submissions=submissions, accession=accession, cik=xres.cik, form=form,
        period=period, filed_date=filed_date,
    )
    if accession is None and submissions is not None:
        rec = submissions.lookup(cik=xres.cik, form=form, report_date=period)
        accession = rec.accession if rec else None
    meta["accepted_at_rule"] = rule
    meta["accession_rule"] = "document" if accession else "derived"
    meta["warnings"] = []
    return EDGARDoc(
        tenant_id=tenant_id, cik=xres.cik, accession=accession or _derived_accession(xres.cik, form, period), form=form,
        company_name=xres.dei.get("dei:EntityRegistrantName", ""), period_of_report=period, filed_date=filed,
        accepted_at_us=acc_us, doc_kind="xbrl_instance", source=source, sections={}, xbrl_facts=xres.facts,
        amends=None, meta=meta,
    )


def docs_from_companyfacts(data: bytes | dict, source: str, tenant_id: str = DEFAULT_TENANT, *,
                           submissions: SubmissionsIndex | None = None) -> list[EDGARDoc]:
    """One EDGARDoc per accession: that filing's facts as it reported them."""
    from thunderline.edgar.xbrl_common import dedupe_facts

    cf = parse_companyfacts(data, source)
    docs = []
    for accn, rows in sorted(records_by_accession(cf.records).items()):
        forms = {r["form"] for r in rows}
        form = sorted(forms)[0].upper()
        filed = min((r["filed"] for r in rows if r["filed"]), default=None)
        period = accession_period_end(rows)
        facts, st = dedupe_facts(rows)
        acc_us, rule, filed = resolve_accepted_at(
            f"{source}#{accn}", submissions=submissions, accession=accn, cik=cf.cik, form=form, period=period,
            filed_date=filed,
        )
        fps = sorted({str(r["fp"]) for r in rows if r.get("fp")})
        meta = {
            "cik_source": "companyfacts_json", "accession_rule": "document", "accepted_at_rule": rule,
            "records": len(rows), "xbrl_source": "companyfacts", "xbrl_stats": {"duplicates": st["duplicates"], "conflicts": st["conflicts"][:50]},
            "fiscal": {"fy": sorted({r["fy"] for r in rows if r.get("fy")}), "fp": fps},
            "period_rule": "most_common_fact_end_date",
            "warnings": [f"accession {accn} carries several forms {sorted(forms)}"] if len(forms) > 1 else [],
        }
        docs.append(EDGARDoc(
            tenant_id=tenant_id, cik=cf.cik, accession=accn, form=form, company_name=cf.entity_name,
            period_of_report=period, filed_date=filed, accepted_at_us=acc_us, doc_kind="companyfacts", source=source,
            sections={}, xbrl_facts=facts, amends=None, meta=meta,
        ))
    return docs


def docs_from_submissions_json(data: bytes | dict, source: str, tenant_id: str = DEFAULT_TENANT, *,
                               forms: frozenset[str] | None = DEFAULT_FORMS) -> list[EDGARDoc]:
    """One content-free EDGARDoc per filing (of ``forms``; None = all) carrying its acceptance time."""
    idx = parse_submissions_json(data, source)
    docs = []
    for rec in idx.filings:
        if forms is not None and rec.form not in forms:
            continue
        if rec.accepted_at_us is not None:
            acc_us, rule = rec.accepted_at_us, times.RULE_SUBMISSIONS
        else:
            acc_us, rule = times.end_of_day_eastern_us(rec.filing_date), times.RULE_FILED_EOD
        docs.append(EDGARDoc(
            tenant_id=tenant_id, cik=idx.cik, accession=rec.accession, form=rec.form, company_name=idx.name,
            period_of_report=rec.report_date, filed_date=rec.filing_date, accepted_at_us=acc_us,
            doc_kind="submissions_json", source=source,
            meta={"cik_source": "submissions_json", "accession_rule": "document", "accepted_at_rule": rule,
                  "acceptance_raw": rec.acceptance_raw, "primary_document": rec.primary_document,
                  "is_xbrl": rec.is_xbrl, "is_inline_xbrl": rec.is_inline_xbrl, "items": rec.items,
                  "tickers": idx.tickers, "warnings": []},
        ))
    return docs
