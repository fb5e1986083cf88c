"""Facts from inline XBRL (iXBRL 1.1, as EDGAR accepts it).

Covers: ``ix:nonFraction`` (``scale``, ``sign="-"``, ``decimals``, ``format`` transforms,
nested nonFraction, ``xsi:nil``), ``ix:nonNumeric`` (nested, ``continuedAt`` ->
``ix:continuation`` chains, ``ix:exclude``), and contexts/units from ``ix:header`` /
``ix:resources``. Numeric values are exact: displayed value x 10^scale, negated for sign="-".

A fact whose displayed text a known transform cannot read is *skipped and listed* in
``stats['skipped']`` with the reason (never guessed); an unknown transform likewise.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from thunderline.edgar.htmltext import IX_NAMESPACES, HtmlDocument
from thunderline.edgar.xbrl_common import (
    XBRLI_NS,
    XSI_NIL,
    Context,
    dedupe_facts,
    fact_row,
    main_cik,
    parse_context,
    parse_unit,
    resolve_qname,
)


@dataclass
class XbrlResult:
    facts: list[dict]  # numeric fact rows, de-duplicated
    nonnumeric: list[dict]  # {concept, context_id, period_start, period_end, dims, text}
    dei: dict[str, str]  # dei:* values from non-dimensional contexts
    contexts: dict[str, Context]
    units: dict[str, str]
    cik: int | None  # from dei:EntityCentralIndexKey, else the contexts' identifier
    stats: dict = field(default_factory=dict)


def xbrl_result(raw: list[dict], nonnumeric: list[dict], contexts: dict[str, Context], units: dict[str, str], *,
                n_numeric: int, nil: int, skipped: list[dict], **extra_stats: int) -> XbrlResult:
    """The result both XBRL flavours (inline and instance) end in: numeric facts de-duplicated, dei
    values, the CIK (dei:EntityCentralIndexKey, else the contexts' identifier) and the parse counts
    (``extra_stats`` after the common ones)."""
    facts, dstats = dedupe_facts(raw)
    dei = dei_values(nonnumeric)
    cik_text = dei.get("dei:EntityCentralIndexKey", "").strip()
    cik = int(cik_text) if cik_text.isdigit() else main_cik(contexts)
    stats = {
        "numeric_elements": n_numeric,
        "nonnumeric_elements": len(nonnumeric),
        "nil": nil,
        "duplicates": dstats["duplicates"],
        "conflicts": dstats["conflicts"],
        "skipped": skipped,
        "contexts": len(contexts),
        "units": len(units),
        **extra_stats,
    }
    return XbrlResult(facts, nonnumeric, dei, contexts, units, cik, stats)


# --------------------------------------------------------------------------- transforms
_WORDS = {
    "zero": 0, "no": 0, "none": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
    "ninety": 90,
}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9}


def _num_words(text: str) -> Decimal:
    total, current = 0, 0
    words = re.split(r"[\s\-]+", text.lower().replace(",", " ").strip())
    seen = False
    for w in words:
        if not w or w == "and":
            continue
        if w in _WORDS:
            current += _WORDS[w]
            seen = True
        elif w in _SCALES:
            current = max(current, 1) * _SCALES[w]
            if _SCALES[w] >= 1000:
                total += current
                current = 0
            seen = True
        else:
            raise ValueError(f"not a number word: {w!r}")
    if not seen:
        raise ValueError("no number words")
    return Decimal(total + current)


_DOT_DECIMAL = {"num-dot-decimal", "numdotdecimal", "numcommadot", "numspacedot", "num-dot-decimal-apos", "numdotdecimalin"}
_COMMA_DECIMAL = {"num-comma-decimal", "numcommadecimal", "numdotcomma", "numspacecomma", "num-comma-decimal-apos"}
_ZERO = {"fixed-zero", "zerodash", "numdash", "fixed-empty"}
_WORDS_FMT = {"numwordsen", "num-word-en", "numwordsnoen"}
_UNIT_DECIMAL = {"num-unit-decimal", "numunitdecimal"}


def transform_number(text: str, fmt: str | None) -> Decimal:
    """Displayed text + ixt format -> non-negative Decimal (sign and scale applied by the caller)."""
    name = (fmt or "").rpartition(":")[2].lower()
    t = text.strip()
    if name in _ZERO:
        return Decimal(0)
    if name in _WORDS_FMT:
        return _num_words(t)
    if name in _DOT_DECIMAL or not name:
        if name:
            t = "".join(ch for ch in t if ch.isdigit() or ch == ".")
        if not t:
            raise ValueError("empty number")
        return Decimal(t)
    if name in _COMMA_DECIMAL:
        t = "".join(ch for ch in t if ch.isdigit() or ch == ",").replace(",", ".")
        if not t:
            raise ValueError("empty number")
        return Decimal(t)
    if name in _UNIT_DECIMAL:
        groups = re.findall(r"\d+", t)
        if not groups:
            raise ValueError("no digits")
        frac = groups[1] if len(groups) > 1 else "0"
        return Decimal(f"{groups[0]}.{frac}")
    raise ValueError(f"unsupported numeric transform {fmt!r}")


_MONTHS = {m: i for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"], 1)}
_MONTHS.update({k[:3]: v for k, v in list(_MONTHS.items())})
_MONTHS["sept"] = 9


def transform_date(text: str, fmt: str | None) -> str | None:
    """ixt date transforms (month-name/day/year and numeric variants) -> ISO date ('--MM-DD' for a
    month-day without year), None if unreadable."""
    t = " ".join(text.replace(",", " ").replace(".", " ").split()).lower()
    name = (fmt or "").rpartition(":")[2].lower()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", t) or re.fullmatch(r"--\d{2}-\d{2}", t):
            return t
        toks = t.split()
        nums = re.findall(r"\d+", t)
        year = next((int(x) for x in nums if len(x) == 4), None)
        small = [int(x) for x in nums if len(x) <= 2]
        mon = next((_MONTHS[tk] for tk in toks if tk in _MONTHS), None)
        if mon is not None:
            if not small:
                return None
            if year is None:
                dt.date(2000, mon, small[0])  # validates
                return f"--{mon:02d}-{small[0]:02d}"
            return dt.date(year, mon, small[0]).isoformat()
        if len(nums) == 3:
            a, b, c = (int(x) for x in nums)
            if "eu" in name or "daymonth" in name or name.startswith("date-day"):
                d, m, y = a, b, c
            else:
                m, d, y = a, b, c
            if y < 100:
                y += 2000
            return dt.date(y, m, d).isoformat()
    except ValueError:
        return None
    return None


_TRUE_MARKS = {"\u2612", "\u2611", "x", "yes", "true"}


def transform_text(text: str, fmt: str) -> str:
    """Non-numeric transforms we normalise (dates, booleans); others keep the displayed text."""
    name = fmt.rpartition(":")[2].lower()
    if name == "fixed-true":
        return "true"
    if name == "fixed-false":
        return "false"
    if name in ("boolballotbox", "booleanballotbox"):
        return "true" if text.strip().lower() in _TRUE_MARKS else "false"
    if "date" in name:
        return transform_date(text, fmt) or text
    return text


# --------------------------------------------------------------------------- reader
def _ix(root) -> str:
    for ns in IX_NAMESPACES:
        if root.find(f".//{{{ns}}}header") is not None or root.find(f".//{{{ns}}}nonFraction") is not None:
            return ns
    return IX_NAMESPACES[0]


def _text_excluding(el, exclude_tag: str) -> str:
    parts: list[str] = []

    def rec(e, top: bool) -> None:
        if not top and e.tag == exclude_tag:
            if e.tail:
                parts.append(e.tail)
            return
        if e.text:
            parts.append(e.text)
        for ch in e:
            if isinstance(ch.tag, str):
                rec(ch, False)
            elif ch.tail:
                parts.append(ch.tail)
        if not top and e.tail:
            parts.append(e.tail)

    rec(el, True)
    return "".join(parts)


def parse_inline_xbrl(doc: HtmlDocument, source: str = "<ixbrl>") -> XbrlResult:
    """All facts of an inline-XBRL document parsed by ``htmltext.parse_html_document``."""
    root = doc.root
    if not doc.is_xml:
        return XbrlResult([], [], {}, {}, {}, None, {"warnings": ["inline XBRL read as tag-soup HTML: facts not extracted"]})
    ix = _ix(root)
    nsmap = dict(root.nsmap)
    nsmap.pop(None, None)
    contexts: dict[str, Context] = {}
    units: dict[str, str] = {}
    for res in root.iter(f"{{{ix}}}resources"):
        for el in res:
            if el.tag == f"{{{XBRLI_NS}}}context":
                c = parse_context(el, nsmap)
                contexts[c.id] = c
            elif el.tag == f"{{{XBRLI_NS}}}unit":
                units[el.get("id", "")] = parse_unit(el)
    skipped: list[dict] = []
    raw, n_numeric, nil_numeric = _numeric_facts(root, ix, nsmap, contexts, units, skipped)
    conts = {c.get("id"): c for c in root.iter(f"{{{ix}}}continuation")}
    nonnumeric, nil_text = _nonnumeric_facts(root, ix, nsmap, contexts, conts, skipped)
    return xbrl_result(raw, nonnumeric, contexts, units, n_numeric=n_numeric, nil=nil_numeric + nil_text,
                       skipped=skipped, continuations=len(conts))


def _numeric_facts(root, ix: str, nsmap: dict, contexts: dict[str, Context], units: dict[str, str],
                   skipped: list[dict]) -> tuple[list[dict], int, int]:
    """``ix:nonFraction`` facts as fact rows (format transform, scale, sign applied); those with an
    unknown context or unit or an unreadable number go to ``skipped``. Returns (rows, elements, nil)."""
    raw: list[dict] = []
    nil = 0
    n_numeric = 0
    for el in root.iter(f"{{{ix}}}nonFraction"):
        n_numeric += 1
        name = el.get("name", "")
        concept = resolve_qname(name, nsmap, el)
        ctx = contexts.get(el.get("contextRef", ""))
        unit = units.get(el.get("unitRef", ""))
        if ctx is None or unit is None:
            skipped.append({"fact_id": el.get("id"), "concept": concept, "reason": "unknown contextRef or unitRef"})
            continue
        if el.get(XSI_NIL) in ("true", "1"):
            nil += 1
            continue
        text = "".join(el.itertext())
        try:
            value = transform_number(text, el.get("format"))
            scale = int(el.get("scale") or 0)
        except (ValueError, InvalidOperation) as exc:
            skipped.append({"fact_id": el.get("id"), "concept": concept, "reason": f"{exc} (text {text[:40]!r})"})
            continue
        if scale:
            value = value.scaleb(scale)
        if el.get("sign") == "-":
            value = -value
        raw.append(fact_row(concept, value, unit, el.get("decimals"), ctx, el.get("id")))
    return raw, n_numeric, nil


def _nonnumeric_facts(root, ix: str, nsmap: dict, contexts: dict[str, Context], conts: dict,
                      skipped: list[dict]) -> tuple[list[dict], int]:
    """``ix:nonNumeric`` facts with their text (``ix:exclude`` left out, ``continuedAt`` chains
    followed, format transform applied); an unknown context or a broken chain goes to ``skipped``.
    Returns (facts, nil)."""
    exclude = f"{{{ix}}}exclude"
    nonnumeric: list[dict] = []
    nil = 0
    for el in root.iter(f"{{{ix}}}nonNumeric"):
        name = el.get("name", "")
        concept = resolve_qname(name, nsmap, el)
        ctx = contexts.get(el.get("contextRef", ""))
        if ctx is None:
            skipped.append({"fact_id": el.get("id"), "concept": concept, "reason": "unknown contextRef"})
            continue
        if el.get(XSI_NIL) in ("true", "1"):
            nil += 1
            continue
        parts = [_text_excluding(el, exclude)]
        nxt = el.get("continuedAt")
        seen = set()
        while nxt:
            if nxt in seen or nxt not in conts:
                skipped.append({"fact_id": el.get("id"), "concept": concept, "reason": f"broken continuation chain at {nxt!r}"})
                break
            seen.add(nxt)
            c = conts[nxt]
            parts.append(_text_excluding(c, exclude))
            nxt = c.get("continuedAt")
        text = " ".join(" ".join(parts).split())
        fmt = el.get("format")
        if fmt:
            text = transform_text(text, fmt)
        nonnumeric.append({
            "concept": concept, "context_id": ctx.id, "period_start": ctx.period_start,
            "period_end": ctx.period_end, "dims": dict(ctx.dims), "text": text, "fact_id": el.get("id"),
            "continuations": len(seen),
        })
    return nonnumeric, nil


def dei_values(nonnumeric: list[dict]) -> dict[str, str]:
    """Non-dimensional dei facts; first occurrence wins (the cover page one)."""
    out: dict[str, str] = {}
    for f in nonnumeric:
        if f["concept"].startswith("dei:") and not f["dims"] and f["concept"] not in out:
            out[f["concept"]] = f["text"][:500]
    return out
