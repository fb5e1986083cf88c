"""Split a 10-K / 10-Q / 20-F / 8-K primary document into its Items, with a confidence per Item.

Why our own splitter (lxml lines + a small ordered-chain search) rather than edgartools'
``parse_html``: on the real Worlds Inc. 10-Ks edgartools returns Item 7 running through the
financial statements (FY2015, 81k chars, confidence 0.7), merges Item 9A into Item 9 (FY2016)
and drops Item 2 in all three, with no signal that anything is wrong; it also takes ~1.3 s on
Apple's 10-K. Here every Item carries a confidence and the warnings that lowered it.

How a section is found (all on display lines, never on HTML source):

1. Heading candidates: short lines that start with ``[Part X] Item N[A]`` (``Item N.NN`` on an 8-K).
2. Table-of-contents lines (inside a table holding >= 3 candidates and little else, or carrying an
   in-document link) are set aside: every heading appears twice, and the body one is wanted.
3. Among body candidates, the chain with strictly increasing line *and* canonical Item order that
   maximises a title-match score is chosen (so a cross-reference "Item 8 of this report" or a
   repeated page header cannot start a section out of order, and a 10-Q's Part I/II Item 1..4 are
   told apart by their titles).
4. A section runs to the next chosen heading (the last to ``SIGNATURES`` or the end).

Confidence starts from how well the heading's title matches the Item's canonical title and is
cut when the table of contents lists an Item between this one and the next found heading that has
no body heading (the section may swallow it: Worlds FY2015 Item 7 has no Item 8 heading after
it), when the section is empty, or when it is implausibly large. Sections below
``LOW_CONFIDENCE`` are still returned, and named in the warnings.

Keys: 10-K ``"1A"``, ``"7"``; 10-Q ``"I-2"``, ``"II-1A"``; 20-F ``"3"``, ``"16A"``; 8-K ``"2.02"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from thunderline.edgar.errors import EdgarNoSectionsError
from thunderline.edgar.htmltext import HtmlLines
from thunderline.edgar.textnorm import fold_heading

LOW_CONFIDENCE = 0.6

_TENK = [
    ("1", ("business",)),
    ("1A", ("risk factor",)),
    ("1B", ("unresolved staff",)),
    ("1C", ("cybersecurity",)),
    ("2", ("propert",)),
    ("3", ("legal proceeding",)),
    ("4", ("mine safety", "submission of matters", "reserved")),
    ("5", ("market for",)),
    ("6", ("selected financial data", "reserved", "selected consolidated financial")),
    ("7", ("management's discussion", "discussion and analysis")),
    ("7A", ("quantitative and qualitative", "market risk")),
    ("8", ("financial statements",)),
    ("9", ("changes in and disagreements", "disagreements with accountants")),
    ("9A", ("controls and procedures",)),
    ("9B", ("other information",)),
    ("9C", ("foreign jurisdiction",)),
    ("10", ("directors", "executive officers")),
    ("11", ("executive compensation",)),
    ("12", ("security ownership",)),
    ("13", ("certain relationships", "related transactions")),
    ("14", ("principal account", "accountant fees", "accounting fees")),
    ("15", ("exhibit",)),
    ("16", ("10-k summary", "summary")),
]
_TENQ = [
    ("I-1", ("financial statements",)),
    ("I-2", ("management's discussion", "discussion and analysis")),
    ("I-3", ("quantitative and qualitative", "market risk")),
    ("I-4", ("controls and procedures",)),
    ("II-1", ("legal proceeding",)),
    ("II-1A", ("risk factor",)),
    ("II-2", ("unregistered sales", "use of proceeds", "purchases of equity")),
    ("II-3", ("defaults upon senior", "defaults")),
    ("II-4", ("mine safety", "submission of matters", "reserved")),
    ("II-5", ("other information",)),
    ("II-6", ("exhibit",)),
]
_TWENTYF = [
    ("1", ("identity of directors",)),
    ("2", ("offer statistics",)),
    ("3", ("key information",)),
    ("4", ("information on the company",)),
    ("4A", ("unresolved staff",)),
    ("5", ("operating and financial review",)),
    ("6", ("directors, senior management", "directors and senior management")),
    ("7", ("major shareholders",)),
    ("8", ("financial information",)),
    ("9", ("the offer and listing", "offer and listing")),
    ("10", ("additional information",)),
    ("11", ("quantitative and qualitative", "market risk")),
    ("12", ("description of securities",)),
    ("13", ("defaults, dividend", "defaults")),
    ("14", ("material modifications",)),
    ("15", ("controls and procedures",)),
    ("16", ("reserved",)),
    ("16A", ("audit committee financial expert",)),
    ("16B", ("code of ethics",)),
    ("16C", ("principal account",)),
    ("16D", ("exemptions from the listing",)),
    ("16E", ("purchases of equity",)),
    ("16F", ("change in registrant", "certifying accountant")),
    ("16G", ("corporate governance",)),
    ("16H", ("mine safety",)),
    ("16I", ("foreign jurisdiction",)),
    ("16J", ("insider trading",)),
    ("16K", ("cybersecurity",)),
    ("17", ("financial statements",)),
    ("18", ("financial statements",)),
    ("19", ("exhibit",)),
]

FAMILY_ITEMS = {"10-K": _TENK, "10-Q": _TENQ, "20-F": _TWENTYF}
#: Items whose absence between two found headings means the earlier section's end is suspect
#: even without a table of contents.
_MANDATORY = {"10-K": {"8"}, "10-Q": {"I-1"}, "20-F": set(), "8-K": set()}
#: The section roles text features use.
SECTION_ROLES = {
    "risk_factors": {"10-K": "1A", "10-Q": "II-1A", "20-F": "3"},
    "mdna": {"10-K": "7", "10-Q": "I-2", "20-F": "5"},
}

_HEAD = re.compile(
    r"^(?:part\s+(?P<part>iv|i{1,3})\b[\s,.:;\-\u2013\u2014]*)?"
    r"items?[\s.]*(?P<num>\d{1,2})(?:\.(?P<sub>\d{2}))?(?P<letter>[a-k])?(?![\w])"
    r"[\s.:;\-\u2013\u2014)(]*(?P<title>.*)$",
    re.I,
)
_PAGE_TAIL = re.compile(r"\s*(?:\(?\d{1,3}\)?|[ivx]{1,5}|n/?a|none|not applicable)\s*$", re.I)
_NA_TAIL = re.compile(r"(?:n/?a|not applicable|none)\.?\s*$", re.I)
_PAGE_NUMBER = re.compile(r"^(?:page\s+)?[\(\-\s]*[ivx\d]{1,4}[\)\-\s]*$", re.I)
_DIGITS = re.compile(r"\d+")
_PART_LINE = re.compile(r"^part\s+(?:iv|i{1,3})\b[\s.:\-\u2013\u2014]*[a-z ,\-]{0,60}$", re.I)
MAX_HEADING_CHARS = 220


def form_family(form: str) -> str | None:
    """'10-K/A' -> '10-K', '10-Q' -> '10-Q', '20-F' -> '20-F', '8-K' -> '8-K'; None if we have no Item model."""
    f = form.upper().replace(" ", "")
    base = f[:-2] if f.endswith("/A") else f
    if base in ("10-K", "10-K405", "10-KT", "10-KSB", "10-KSB40", "10-KT405"):
        return "10-K"
    if base in ("10-Q", "10-QT", "10-QSB"):
        return "10-Q"
    if base in ("20-F", "20-FR"):
        return "20-F"
    if base in ("8-K", "8-K12B", "8-K12G3", "8-K15D5"):
        return "8-K"
    return None


@dataclass
class _Cand:
    line: int
    key: str
    rank: float
    score: float
    title: str
    na: bool = False


@dataclass
class SectionResult:
    sections: dict[str, dict]
    toc_keys: list[str]
    warnings: list[str] = field(default_factory=list)
    family: str = ""

    @property
    def low_confidence(self) -> list[str]:
        return [k for k, s in self.sections.items() if s["confidence"] < LOW_CONFIDENCE]


def _title_score(title: str, keywords: tuple[str, ...]) -> float:
    t = fold_heading(title)
    if not t:
        return 0.0
    return 1.0 if any(k in t for k in keywords) else -1.0


def _candidates(lines: HtmlLines, family: str) -> list[tuple[int, str, str | None, str]]:
    """(line index, item token e.g. '1A' / '2.02', part or None, title) for every heading-like line."""
    out = []
    for i, ln in enumerate(lines.lines):
        if len(ln) > MAX_HEADING_CHARS:
            continue
        c0 = ln[:1]
        if c0 not in "IiPp":
            continue
        m = _HEAD.match(ln)
        if not m:
            continue
        num, sub, letter = m.group("num"), m.group("sub"), m.group("letter")
        if family == "8-K":
            if not sub:
                continue
            token = f"{int(num)}.{sub}"
        else:
            if sub:
                continue
            token = f"{int(num)}{(letter or '').upper()}"
        part = (m.group("part") or "").upper() or None
        out.append((i, token, part, m.group("title").strip()))
    return out


def _expand(cands, lines: HtmlLines, family: str) -> list[_Cand]:
    """Each raw candidate -> the canonical keys it may stand for, scored by title match."""
    out: list[_Cand] = []
    if family == "8-K":
        for i, token, _part, title in cands:
            a, b = token.split(".")
            out.append(_Cand(i, token, int(a) * 100 + int(b), 2.0 if title else 1.5, title))
        return out
    items = FAMILY_ITEMS[family]
    order = {k: n for n, (k, _) in enumerate(items)}
    kw = dict(items)
    for i, token, part, title in cands:
        keys = [f"{p}-{token}" for p in ("I", "II")] if family == "10-Q" else [token]
        if family == "10-Q" and part in ("I", "II"):
            keys = [f"{part}-{token}"]
        clean_title = _PAGE_TAIL.sub("", title).strip() if title else ""
        na = bool(title) and bool(_NA_TAIL.search(title))
        peek = ""
        if not clean_title and i + 1 < len(lines.lines):
            nxt = lines.lines[i + 1]
            if len(nxt) <= 150 and not _HEAD.match(nxt):
                peek = _PAGE_TAIL.sub("", nxt).strip()
        for key in keys:
            if key not in order:
                continue
            if clean_title:
                s = _title_score(clean_title, kw[key])
                score = 3.0 if s > 0 else 0.3
            elif peek:
                score = 2.5 if _title_score(peek, kw[key]) > 0 else 1.5
            else:
                score = 1.5
            out.append(_Cand(i, key, float(order[key]), score, clean_title or peek, na))
    return out


def _best_chain(cands: list[_Cand]) -> list[_Cand]:
    """Max-score chain with strictly increasing line and canonical rank (O(n^2), n is small)."""
    if not cands:
        return []
    cands = sorted(cands, key=lambda c: (c.line, c.rank))
    n = len(cands)
    best = [c.score for c in cands]
    prev = [-1] * n
    for j in range(n):
        cj = cands[j]
        for i in range(j):
            ci = cands[i]
            if ci.line < cj.line and ci.rank < cj.rank and best[i] + cj.score > best[j]:
                best[j] = best[i] + cj.score
                prev[j] = i
    j = max(range(n), key=lambda k: (best[k], -cands[k].line))
    chain = []
    while j >= 0:
        chain.append(cands[j])
        j = prev[j]
    return chain[::-1]


_PAGE_REF = re.compile(r"(?:\.{3,}|\s)\s*(?:\d{1,3}|[ivx]{1,5}|n/?a|none)\s*$", re.I)


def _paged_cluster(raw) -> set[int]:
    """Lines of a table of contents laid out as paragraphs (no table, no links): >= 3 candidates
    in a row, at most 3 lines apart, each ending with a page reference ("... 12", "N/A"), at
    least two of them with a page *number* (so body headings like "Item 4. Mine Safety. N/A"
    repeated on consecutive lines do not look like a TOC)."""
    out: set[int] = set()
    run: list[int] = []
    numbered = 0
    prev = None

    def close() -> None:
        if len(run) >= 3 and numbered >= 2:
            out.update(run)

    for i, _token, _part, title in raw:
        m = _PAGE_REF.search(title) if title else None
        if m and (prev is None or i - prev <= 3):
            run.append(i)
        else:
            close()
            run, numbered = ([i] if m else []), 0
        if m and m.group(0).strip(" .")[:1].isdigit():
            numbered += 1
        prev = i
    close()
    return out


def _toc_tables(lines: HtmlLines, cand_lines: list[int]) -> set[int]:
    per_table: dict[int, int] = {}
    for i in cand_lines:
        t = lines.table_id[i]
        if t >= 0:
            per_table[t] = per_table.get(t, 0) + 1
    size: dict[int, int] = {}
    for t in lines.table_id:
        if t in per_table:
            size[t] = size.get(t, 0) + 1
    return {t for t, n in per_table.items() if n >= 3 and size[t] <= 3 * n + 12}


def _furniture(lines: list[str]) -> set[int]:
    """Page furniture: page numbers, 'Table of Contents', Part headings, and short lines that repeat on
    many pages with a changing number ("Apple Inc. | 2024 Form 10-K | 20") or very often (>= 10x)."""
    counts: dict[str, int] = {}
    norm = []
    for ln in lines:
        k = _DIGITS.sub("#", ln.lower()) if len(ln) <= 80 else ""
        norm.append(k)
        if k:
            counts[k] = counts.get(k, 0) + 1
    out = set()
    for i, (ln, k) in enumerate(zip(lines, norm)):
        if not k:
            continue
        repeated = counts[k] >= 4 and ("#" in k or (counts[k] >= 10 and len(k) >= 12))
        if repeated or _PAGE_NUMBER.match(ln) or k in ("table of contents", "index", "back to contents"):
            out.add(i)
        elif _PART_LINE.match(ln):
            out.add(i)
    return out


def split_sections(lines: HtmlLines, form: str, source: str = "<html>", *, require_items: bool = True) -> SectionResult:
    """Items of a primary document (see module docstring).

    Raises ``EdgarNoSectionsError`` when ``require_items`` and the form has an Item model but no Item
    heading is found in the body. Forms without an Item model return no sections and a warning.
    """
    family = form_family(form)
    if family is None:
        return SectionResult({}, [], [f"form {form!r} has no Item model; sections not split"], "")
    raw = _candidates(lines, family)
    toc_tabs = _toc_tables(lines, [c[0] for c in raw])
    paged = _paged_cluster(raw)
    is_toc = [lines.table_id[c[0]] in toc_tabs or lines.has_link[c[0]] or c[0] in paged for c in raw]
    body_raw = [c for c, t in zip(raw, is_toc) if not t]
    toc_raw = [c for c, t in zip(raw, is_toc) if t]
    chain = _best_chain(_expand(body_raw, lines, family))
    toc_chain = _best_chain(_expand(toc_raw, lines, family))
    toc_keys = [c.key for c in toc_chain]
    toc_expected = {c.key for c in toc_chain if not c.na}
    warnings: list[str] = []
    if not chain:
        if require_items:
            what = f"{len(raw)} Item-like lines, all in the table of contents" if raw else "no 'Item N' heading"
            raise EdgarNoSectionsError(source, f"{form}: no Item headings found in the body ({what})")
        return SectionResult({}, toc_keys, [f"{form}: no Item headings found"], family)

    furniture = _furniture(lines.lines)
    sig_line = _signature_line(lines, chain[-1].line)
    found = {c.key for c in chain}
    rank_of = {k: n for n, (k, _) in enumerate(FAMILY_ITEMS.get(family, []))}
    total_chars = max(1, len(lines.text))
    sections: dict[str, dict] = {}
    for n, c in enumerate(chain):
        end_line = chain[n + 1].line if n + 1 < len(chain) else (sig_line or len(lines.lines))
        body_lines = [lines.lines[i] for i in range(c.line + 1, end_line) if i not in furniture]
        text = "\n".join(body_lines)
        start = lines.starts[c.line + 1] if c.line + 1 < len(lines.starts) else len(lines.text)
        end = lines.starts[end_line] - 1 if end_line < len(lines.starts) else len(lines.text)
        conf, warns = _confidence(c, chain[n + 1] if n + 1 < len(chain) else None, text, lines, family,
                                  toc_keys, toc_expected, found, rank_of, total_chars, len(chain))
        sections[c.key] = {
            "title": lines.lines[c.line],
            "text": text,
            "confidence": round(conf, 3),
            "start": start,
            "end": max(start, end),
            "warnings": warns,
        }
        for w in warns:
            warnings.append(f"Item {c.key}: {w}")
    return SectionResult(sections, toc_keys, warnings, family)


def _signature_line(lines: HtmlLines, after: int) -> int | None:
    """The SIGNATURES heading after the last Item: where the last section ends (else the document's end)."""
    for i in range(after + 1, len(lines.lines)):
        f = fold_heading(lines.lines[i])
        if f in ("signatures", "signature", "signatures.", "signature page"):
            return i
    return None


def _confidence(c, nxt, text: str, lines: HtmlLines, family: str, toc_keys: list[str], toc_expected: set[str],
                found: set[str], rank_of: dict[str, int], total_chars: int, n_chain: int) -> tuple[float, list[str]]:
    """How sure the split is of section ``c`` (next heading ``nxt``), and why not fully: the heading's
    score, a key missing from the table of contents, expected Items skipped before ``nxt``, an empty
    section, or one that holds most of the document."""
    conf = {3.0: 1.0, 2.5: 0.95, 2.0: 0.9, 1.5: 0.8}.get(c.score, 0.4)
    warns: list[str] = []
    if c.score < 1.0:
        warns.append(f"heading title {c.title[:60]!r} does not match Item {c.key}")
    if toc_keys and c.key not in toc_keys:
        conf *= 0.85
        warns.append("not listed in the table of contents")
    if nxt is not None and family in FAMILY_ITEMS:
        lo, hi = rank_of[c.key], rank_of[nxt.key]
        between = [k for k, r in rank_of.items() if lo < r < hi]
        expected = toc_expected if toc_keys else _MANDATORY.get(family, set())
        missing = [k for k in between if k in expected and k not in found]
        if missing:
            conf *= 0.5
            warns.append(
                "end boundary uncertain: "
                + ", ".join(f"Item {k}" for k in missing)
                + (" listed in the table of contents" if toc_keys else " expected")
                + f" but no body heading found before Item {nxt.key}; the text may include it"
            )
    reserved = "reserved" in fold_heading(lines.lines[c.line]) or c.na
    if not text.strip() and not reserved:
        conf *= 0.5
        warns.append("empty section")
    elif len(text) > 0.6 * total_chars and n_chain > 2:
        conf *= 0.7
        warns.append(f"section holds {len(text) / total_chars:.0%} of the document")
    return conf, warns


def role_section(sections: dict[str, dict], form: str, role: str) -> dict | None:
    """The section playing ``role`` ('risk_factors', 'mdna') in a filing of ``form``."""
    fam = form_family(form)
    key = SECTION_ROLES.get(role, {}).get(fam or "")
    return sections.get(key) if key else None


# --------------------------------------------------------------------------- edgartools cross-check
_ET_NAMES = {
    "business": "1", "risk_factors": "1A", "legal_proceedings": "3", "mda": "7",
    "financial_statements": "8", "controls_procedures": "9A", "properties": "2",
    "market_risk": "7A", "unresolved_staff_comments": "1B", "selected_financial_data": "6",
}


def edgartools_sections(html: str, form: str) -> dict[str, dict]:
    """edgartools' view of the same document, keyed like ours: {key: {chars, confidence, method}}.

    Optional and slow (~1 s for a 10-K); used by tests and the benchmark to find disagreements,
    never in the parse path. Imports edgartools lazily with its network access disabled.
    """
    from thunderline.edgar.offline import edgartools_offline

    with edgartools_offline():
        from edgar.documents import ParserConfig, parse_html

        doc = parse_html(html, ParserConfig(form=form.upper().replace("/A", "")))
        out = {}
        for name, sec in doc.sections.items():
            key = _ET_NAMES.get(name)
            m = re.match(r"part_(i{1,3}|iv)_item_(\d+[a-z]?)$", name)
            if m:
                part, item = m.group(1).upper(), m.group(2).upper()
                key = f"{part}-{item}" if form_family(form) == "10-Q" else item
            if key is None:
                continue
            text = sec.text() if callable(getattr(sec, "text", None)) else str(sec)
            out[key] = {
                "chars": len(text),
                "confidence": float(getattr(sec, "confidence", float("nan"))),
                "method": str(getattr(sec, "detection_method", "")),
                "text": text,
            }
        return out
