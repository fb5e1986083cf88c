"""Facts from an XBRL 2.1 instance document (``*_htm.xml``, ``EX-101.INS``).

Root ``xbrli:xbrl`` (default or prefixed namespace); contexts and units are children of the
root; every other element with a ``contextRef`` is a fact (numeric when it has ``unitRef``).
``xsi:nil="true"`` facts have no value: they are counted in ``stats['nil']`` and not returned.
EDGAR-extracted instances repeat the same fact under several context ids (one context per
occurrence in the HTML); ``dedupe_facts`` folds them on concept + period + dimensions + unit.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from lxml import etree

from thunderline.edgar.errors import EdgarEncodingError, EdgarParseError, EdgarTruncatedError
from thunderline.edgar.ixbrl import XbrlResult, xbrl_result
from thunderline.edgar.textnorm import check_xml_bytes_match_declaration, reject_wide_or_binary
from thunderline.edgar.xbrl_common import (
    XBRLI_NS,
    XSI_NIL,
    Context,
    clark_to_concept,
    fact_row,
    parse_context,
    parse_unit,
)

_XBRL_ROOT = f"{{{XBRLI_NS}}}xbrl"


def parse_instance_bytes(data: bytes, source: str = "<instance>") -> XbrlResult:
    """Parse an instance; raises EdgarParseError (with the line) if it is not well-formed XBRL."""
    reject_wide_or_binary(data, source)
    data = data.lstrip()
    check_xml_bytes_match_declaration(data, source)
    parser = etree.XMLParser(huge_tree=True, resolve_entities=False, no_network=True, remove_comments=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        msg = str(exc)
        line = getattr(exc, "lineno", None)
        if "encoding" in msg.lower() or "utf-8" in msg.lower():
            raise EdgarEncodingError(source, f"XML encoding error: {msg}", line) from None
        if "premature end" in msg.lower() or "end of data" in msg.lower() or "not closed" in msg.lower():
            raise EdgarTruncatedError(source, f"XBRL instance ends before it is closed: {msg}", line) from None
        raise EdgarParseError(source, f"malformed XBRL instance: {msg}", line) from None
    if root.tag != _XBRL_ROOT:
        raise EdgarParseError(source, f"root element is {root.tag!r}, not xbrli:xbrl", root.sourceline)
    return parse_instance_tree(root, source)


def parse_instance_tree(root, source: str = "<instance>") -> XbrlResult:
    nsmap = {k: v for k, v in root.nsmap.items() if k}
    prefix_of = {v: k for k, v in root.nsmap.items() if k}
    contexts: dict[str, Context] = {}
    units: dict[str, str] = {}
    ctx_tag, unit_tag = f"{{{XBRLI_NS}}}context", f"{{{XBRLI_NS}}}unit"
    for el in root:
        if el.tag == ctx_tag:
            c = parse_context(el, nsmap)
            contexts[c.id] = c
        elif el.tag == unit_tag:
            units[el.get("id", "")] = parse_unit(el)
    raw: list[dict] = []
    nonnumeric: list[dict] = []
    skipped: list[dict] = []
    nil = 0
    n_numeric = 0
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        cref = el.get("contextRef")
        if cref is None:
            continue
        concept = clark_to_concept(el.tag, prefix_of)
        ctx = contexts.get(cref)
        if ctx is None:
            skipped.append({"fact_id": el.get("id"), "concept": concept, "reason": f"unknown contextRef {cref!r}", "line": el.sourceline})
            continue
        uref = el.get("unitRef")
        is_nil = el.get(XSI_NIL) in ("true", "1")
        if uref is not None:
            n_numeric += 1
            if is_nil:
                nil += 1
                continue
            unit = units.get(uref)
            if unit is None:
                skipped.append({"fact_id": el.get("id"), "concept": concept, "reason": f"unknown unitRef {uref!r}", "line": el.sourceline})
                continue
            text = (el.text or "").strip()
            try:
                value = Decimal(text)
                if not value.is_finite():
                    raise InvalidOperation
            except InvalidOperation:
                skipped.append({"fact_id": el.get("id"), "concept": concept, "reason": f"not a decimal: {text[:40]!r}", "line": el.sourceline})
                continue
            raw.append(fact_row(concept, value, unit, el.get("decimals") or el.get("precision"), ctx, el.get("id")))
        else:
            if is_nil:
                nil += 1
                continue
            nonnumeric.append({
                "concept": concept, "context_id": ctx.id, "period_start": ctx.period_start,
                "period_end": ctx.period_end, "dims": dict(ctx.dims), "text": " ".join("".join(el.itertext()).split()),
                "fact_id": el.get("id"),
            })
    return xbrl_result(raw, nonnumeric, contexts, units, n_numeric=n_numeric, nil=nil, skipped=skipped)
