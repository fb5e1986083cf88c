"""SEC XBRL companyfacts JSON (``data.sec.gov/api/xbrl/companyfacts/CIK##########.json``).

``{cik, entityName, facts: {taxonomy: {Concept: {units: {unit: [{start?, end, val, accn, fy, fp,
form, filed, frame?}]}}}}}``. Numbers are read with ``parse_float=Decimal`` so no value ever
passes through a float. A value repeats once per filing that reported it; ``records_by_accession``
keeps each filing's own view (what was known at its acceptance), ``first_reported`` keeps one row
per (concept, unit, period), from the earliest filing - two different de-duplications for two
different questions, both explicit.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import Decimal

from thunderline.edgar.errors import EdgarMissingFieldError, EdgarParseError
from thunderline.edgar.xbrl_common import decimal_str


@dataclass
class CompanyFacts:
    cik: int
    entity_name: str
    records: list[dict]  # flattened rows, see _row


def parse_companyfacts(data: bytes | str | dict, source: str = "<companyfacts>") -> CompanyFacts:
    if isinstance(data, dict):
        payload = data
    else:
        try:
            payload = json.loads(data, parse_float=Decimal)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise EdgarParseError(source, f"not valid JSON: {exc}", getattr(exc, "lineno", None)) from None
    if not isinstance(payload, dict) or "facts" not in payload:
        raise EdgarParseError(source, "not a companyfacts JSON: no 'facts' key")
    cik_raw = payload.get("cik")
    if cik_raw is None or not str(cik_raw).strip().isdigit():
        raise EdgarMissingFieldError(source, f"companyfacts JSON has no numeric 'cik' (got {cik_raw!r})")
    records: list[dict] = []
    for taxonomy, concepts in payload["facts"].items():
        if not isinstance(concepts, dict):
            raise EdgarParseError(source, f"facts.{taxonomy} is not an object")
        for concept, body in concepts.items():
            for unit, rows in (body.get("units") or {}).items():
                for r in rows:
                    try:
                        val = r["val"]
                        value = val if isinstance(val, Decimal) else Decimal(str(val))
                        records.append({
                            "concept": f"{taxonomy}:{concept}", "value": decimal_str(value), "unit": unit,
                            "decimals": None, "period_start": r.get("start"), "period_end": r["end"], "dims": {},
                            "context_id": None, "fact_id": None, "accn": r["accn"], "form": r.get("form", ""),
                            "fy": r.get("fy"), "fp": r.get("fp"), "filed": r.get("filed"), "frame": r.get("frame"),
                        })
                    except (KeyError, ArithmeticError, ValueError) as exc:
                        raise EdgarParseError(source, f"{taxonomy}:{concept} [{unit}]: malformed record {r!r}: {exc}") from None
    return CompanyFacts(cik=int(str(cik_raw).strip()), entity_name=str(payload.get("entityName", "")), records=records)


def records_by_accession(records: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        out[r["accn"]].append(r)
    return dict(out)


def first_reported(records: list[dict]) -> list[dict]:
    """One row per (concept, unit, start, end): the one from the earliest filing (then lowest accession)."""
    best: dict[tuple, dict] = {}
    for r in records:
        k = (r["concept"], r["unit"], r["period_start"], r["period_end"])
        cur = best.get(k)
        if cur is None or (r["filed"] or "", r["accn"]) < (cur["filed"] or "", cur["accn"]):
            best[k] = r
    return list(best.values())


def accession_period_end(rows: list[dict]) -> str | None:
    """The report date of one filing's rows: the most common end date of its non-dei facts
    (current-period statements dominate a filing; ties go to the later date)."""
    c = Counter(r["period_end"] for r in rows if not r["concept"].startswith("dei:"))
    if not c:
        return None
    return max(c.items(), key=lambda kv: (kv[1], kv[0]))[0]
