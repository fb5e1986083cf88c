"""What inline XBRL, XBRL instances and companyfacts share: contexts, units, fact rows, de-duplication.

A *fact row* (the dicts in ``EDGARDoc.xbrl_facts``) is::

    {"concept": "us-gaap:Revenues", "value": "394328000000",   # Decimal as a plain string
     "unit": "USD", "decimals": "-6" | "INF" | None,
     "period_start": "2021-09-26" | None,   # None for an instant
     "period_end": "2022-09-24",            # the instant for instants
     "dims": {"srt:ProductOrServiceAxis": "us-gaap:ProductMember"},
     "context_id": "c-1", "fact_id": "f-54"}

Guarantees: values are exact (``Decimal``; displayed value x 10^scale, negated for sign="-";
never a float); concept and dimension prefixes are canonical for the standard taxonomies
(us-gaap, ifrs-full, dei, srt, ...) whatever prefix the filer declared; units are written
from their measures ("USD", "shares", "USD/shares"), not from filer-chosen unit ids, so the same
fact read from inline XBRL and from the EDGAR-extracted instance compares equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

XBRLI_NS = "http://www.xbrl.org/2003/instance"
XBRLDI_NS = "http://xbrl.org/2006/xbrldi"
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
CIK_SCHEME = "http://www.sec.gov/CIK"

_STANDARD_PREFIX = (
    ("fasb.org/us-gaap/", "us-gaap"),
    ("xbrl.sec.gov/dei/", "dei"),
    ("fasb.org/srt/", "srt"),
    ("xbrl.ifrs.org/taxonomy/", "ifrs-full"),
    ("xbrl.sec.gov/ecd/", "ecd"),
    ("xbrl.sec.gov/country/", "country"),
    ("xbrl.sec.gov/currency/", "currency"),
    ("xbrl.sec.gov/exch/", "exch"),
    ("xbrl.sec.gov/naics/", "naics"),
    ("xbrl.sec.gov/sic/", "sic"),
    ("xbrl.sec.gov/stpr/", "stpr"),
    ("xbrl.sec.gov/cyd/", "cyd"),
    ("xbrl.org/2003/iso4217", "iso4217"),
    ("www.xbrl.org/2003/instance", "xbrli"),
)
_PREFIX_CACHE: dict[tuple[str, str], str] = {}


def canonical_prefix(ns_uri: str | None, declared: str | None) -> str:
    key = (ns_uri or "", declared or "")
    p = _PREFIX_CACHE.get(key)
    if p is None:
        p = declared or ""
        if ns_uri:
            for frag, std in _STANDARD_PREFIX:
                if frag in ns_uri:
                    if std == "ifrs-full" and not ns_uri.rstrip("/").endswith("ifrs-full"):
                        continue
                    p = std
                    break
        _PREFIX_CACHE[key] = p
    return p


def resolve_qname(qname: str, nsmap: dict, el=None) -> str:
    """'us-gaap:Revenues' in the document's prefix space -> canonical 'us-gaap:Revenues'.

    ``nsmap`` is the root's map; ``el`` (optional) supplies prefixes declared lower in the tree."""
    qname = qname.strip()
    prefix, sep, local = qname.partition(":")
    if not sep:
        return qname
    ns = nsmap.get(prefix)
    if ns is None and el is not None:
        ns = el.nsmap.get(prefix)
    return f"{canonical_prefix(ns, prefix)}:{local}"


def clark_to_concept(tag: str, prefix_of: dict[str, str]) -> str:
    """'{http://fasb.org/us-gaap/2024}Revenues' -> 'us-gaap:Revenues'."""
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return f"{canonical_prefix(ns, prefix_of.get(ns))}:{local}"
    return tag


@dataclass(frozen=True)
class Context:
    id: str
    identifier: str
    scheme: str
    period_start: str | None
    period_end: str | None  # instant date for instants; None for 'forever'
    dims: tuple[tuple[str, str], ...]


def _date(text: str | None) -> str | None:
    if not text:
        return None
    return text.strip()[:10]


def parse_context(el, nsmap: dict) -> Context:
    """An ``xbrli:context`` element (inline or instance) -> Context."""
    ident = el.find(f"{{{XBRLI_NS}}}entity/{{{XBRLI_NS}}}identifier")
    identifier = (ident.text or "").strip() if ident is not None else ""
    scheme = ident.get("scheme", "") if ident is not None else ""
    period = el.find(f"{{{XBRLI_NS}}}period")
    start = end = None
    if period is not None:
        inst = period.find(f"{{{XBRLI_NS}}}instant")
        if inst is not None:
            end = _date(inst.text)
        else:
            start = _date(getattr(period.find(f"{{{XBRLI_NS}}}startDate"), "text", None))
            end = _date(getattr(period.find(f"{{{XBRLI_NS}}}endDate"), "text", None))
    dims: list[tuple[str, str]] = []
    for container in (f"{{{XBRLI_NS}}}entity/{{{XBRLI_NS}}}segment", f"{{{XBRLI_NS}}}scenario"):
        seg = el.find(container)
        if seg is None:
            continue
        for m in seg:
            if not isinstance(m.tag, str):
                continue
            dim = m.get("dimension")
            if not dim:
                continue
            if m.tag == f"{{{XBRLDI_NS}}}explicitMember":
                dims.append((resolve_qname(dim, nsmap, m), resolve_qname(m.text or "", nsmap, m)))
            else:  # typedMember: keep the typed value's text
                dims.append((resolve_qname(dim, nsmap, m), "typed:" + "".join(m.itertext()).strip()))
    return Context(el.get("id", ""), identifier, scheme, start, end, tuple(sorted(dims)))


def parse_unit(el) -> str:
    """An ``xbrli:unit`` -> 'USD', 'shares', 'USD/shares', 'pure'."""

    def measures(parent) -> str:
        ms = [(m.text or "").strip().rpartition(":")[2] for m in parent.iter(f"{{{XBRLI_NS}}}measure")]
        return "*".join(sorted(ms))

    div = el.find(f"{{{XBRLI_NS}}}divide")
    if div is not None:
        num = div.find(f"{{{XBRLI_NS}}}unitNumerator")
        den = div.find(f"{{{XBRLI_NS}}}unitDenominator")
        return f"{measures(num)}/{measures(den)}"
    return measures(el)


def decimal_str(d: Decimal) -> str:
    """Canonical plain string of a Decimal: no exponent, no trailing zeros, no '-0'."""
    s = format(d.normalize(), "f")
    if s.startswith("-") and d.is_zero():
        s = s[1:]
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s or "0"


def fact_row(concept: str, value: Decimal, unit: str, decimals: str | None, ctx: Context, fact_id: str | None) -> dict:
    return {
        "concept": concept,
        "value": decimal_str(value),
        "unit": unit,
        "decimals": decimals,
        "period_start": ctx.period_start,
        "period_end": ctx.period_end,
        "dims": dict(ctx.dims),
        "context_id": ctx.id,
        "fact_id": fact_id,
    }


def fact_key(f: dict) -> tuple:
    """The identity of a fact for de-duplication: concept + period + dimensions + unit."""
    return (f["concept"], f["period_start"], f["period_end"], tuple(sorted(f["dims"].items())), f["unit"])


def _dec_rank(decimals: str | None) -> float:
    if decimals is None:
        return float("-inf")
    if decimals.strip().upper() == "INF":
        return float("inf")
    try:
        return float(int(decimals))
    except ValueError:
        return float("-inf")


def _consistent(a: dict, b: dict) -> bool:
    """Equal after rounding both to the coarser of their ``decimals`` (XBRL's consistent duplicates)."""
    va, vb = Decimal(a["value"]), Decimal(b["value"])
    if va == vb:
        return True
    r = min(_dec_rank(a["decimals"]), _dec_rank(b["decimals"]))
    if r in (float("inf"), float("-inf")):
        return False
    q = Decimal(1).scaleb(-int(r))
    try:
        return va.quantize(q) == vb.quantize(q)
    except InvalidOperation:
        return False


def dedupe_facts(facts: list[dict]) -> tuple[list[dict], dict]:
    """One row per (concept, period, dims, unit), keeping the most precise of consistent duplicates.

    Inconsistent duplicates (different values that rounding does not explain) keep the first in
    document order and are reported in ``stats['conflicts']`` - never averaged, never dropped silently.
    """
    out: dict[tuple, dict] = {}
    dups = 0
    conflicts: list[dict] = []
    for f in facts:
        k = fact_key(f)
        cur = out.get(k)
        if cur is None:
            out[k] = f
            continue
        dups += 1
        if _consistent(cur, f):
            if _dec_rank(f["decimals"]) > _dec_rank(cur["decimals"]):
                out[k] = f
        else:
            conflicts.append({"concept": f["concept"], "period_end": f["period_end"], "kept": cur["value"], "other": f["value"]})
    return list(out.values()), {"duplicates": dups, "conflicts": conflicts}


def main_cik(contexts: dict[str, Context]) -> int | None:
    """The CIK the contexts are about (most common SEC-scheme identifier)."""
    counts: dict[str, int] = {}
    for c in contexts.values():
        if c.identifier and (c.scheme == CIK_SCHEME or c.scheme.endswith("/CIK")):
            counts[c.identifier] = counts.get(c.identifier, 0) + 1
    if not counts:
        return None
    best = max(counts.items(), key=lambda kv: kv[1])[0]
    return int(best) if best.isdigit() else None
