"""An EDGAR document as a ``raw_edgar_docs`` row and back.

Why in the parser layer: ingest writes these rows, EDGAR windows are rebuilt from them, and retention
restores them from cold batches — each must see the same mapping, and a row read back from anywhere
must recompute to its own ``content_hash`` and ``id`` (:func:`row_doc`), which is how a restored
document is checked without the warehouse's copy.
"""

from __future__ import annotations

from thunderline.contracts import EDGARDoc
from thunderline.edgar.retained import sections_redacted, xbrl_hash
from thunderline.partitioning import month_of_us


def doc_row(d: EDGARDoc) -> dict:
    return dict(id=d.id, cik=d.cik, accession=d.accession, form=d.form, doc_kind=d.doc_kind,
                company_name=d.company_name, period_of_report=d.period_of_report, filed_date=d.filed_date,
                accepted_at=d.accepted_at_us, month=month_of_us(d.accepted_at_us), source=d.source,
                amends=d.amends, sections=d.sections, xbrl=d.xbrl_facts, meta=d.meta, content_hash=d.content_hash,
                sections_redacted=sections_redacted(d), xbrl_hash=xbrl_hash(d))


def row_doc(r: dict) -> EDGARDoc:
    return EDGARDoc(tenant_id=r["tenant_id"], cik=int(r["cik"]), accession=r["accession"], form=r["form"],
                    company_name=r["company_name"] or "", period_of_report=r["period_of_report"],
                    filed_date=r["filed_date"], accepted_at_us=int(r["accepted_at"]), doc_kind=r["doc_kind"],
                    source=r["source"] or "", sections=r["sections"] or {}, xbrl_facts=r["xbrl"] or [],
                    amends=r["amends"], meta=r["meta"] or {})
