"""HTML / XHTML (incl. inline XBRL) -> display lines, with the layout facts section finding needs.

One parse serves both the section splitter and the inline-XBRL fact reader, so the
document is parsed once (``parse_html_document``) and walked once (``html_lines``).

A *line* is the text of one block (p, div, h*, li, br-separated run, ...), whitespace
normalised. A table row whose cells are short is one line (cells joined by a space),
so a table-of-contents row "Item 1A. | Risk Factors | 5" is one line; a layout table
whose cells hold whole paragraphs keeps one line per block. For every line we keep
the outermost table it sits in (or -1) and whether it contains an in-document link
(``<a href="#...">``), the two marks of a table of contents. Hidden content
(``display:none``, ``ix:header``, head/script/style) is not text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree
from lxml import html as lxml_html

from thunderline.edgar.errors import EdgarEncodingError, EdgarParseError, EdgarTruncatedError
from thunderline.edgar.textnorm import check_xml_bytes_match_declaration, clean_line, decode_document

XHTML_NS = "http://www.w3.org/1999/xhtml"
IX_NS_2013 = "http://www.xbrl.org/2013/inlineXBRL"
IX_NS_2008 = "http://www.xbrl.org/2008/inlineXBRL"
IX_NAMESPACES = (IX_NS_2013, IX_NS_2008)

_BLOCK = frozenset(
    "p div h1 h2 h3 h4 h5 h6 li ul ol dl dt dd blockquote pre center table hr address section article "
    "header footer nav form fieldset caption tbody thead tfoot page".split()
)
_SKIP = frozenset({"head", "script", "style", "title", "noscript", "ix:header", "template"})
ROW_JOIN_MAX = 600  # a row with at most this many characters is one line


@dataclass
class HtmlDocument:
    root: object  # lxml root element
    is_xml: bool  # parsed as XML (XHTML / inline XBRL) rather than tag-soup HTML
    is_inline_xbrl: bool
    encoding: str
    warnings: list[str] = field(default_factory=list)


@dataclass
class HtmlLines:
    lines: list[str]
    table_id: list[int]  # outermost table ordinal, -1 outside tables
    has_link: list[bool]  # line contains <a href="#...">
    starts: list[int]  # char offset of each line in ``text``
    text: str  # "\n".join(lines)


def _looks_xml(data: bytes) -> bool:
    head = data[:4096].lstrip()
    return head.startswith(b"<?xml") or (b'xmlns="http://www.w3.org/1999/xhtml"' in data[:4096] and b"<html" in data[:4096])


def parse_html_document(data: bytes, source: str) -> HtmlDocument:
    """Parse a primary document. XHTML/inline XBRL is parsed as XML (strictly: a malformed
    inline-XBRL document is rejected, not repaired); other HTML with lxml's HTML parser."""
    if _looks_xml(data):
        check_xml_bytes_match_declaration(data, source)
        parser = etree.XMLParser(huge_tree=True, resolve_entities=False, no_network=True, remove_comments=True)
        try:
            root = etree.fromstring(data.lstrip(), parser)
        except etree.XMLSyntaxError as exc:
            msg = str(exc)
            line = exc.lineno if getattr(exc, "lineno", None) else None
            if "encoding" in msg.lower() or "not proper utf-8" in msg.lower():
                raise EdgarEncodingError(source, f"XML encoding error: {msg}", line) from None
            is_ix = any(ns.encode() in data[:8192] for ns in IX_NAMESPACES)
            if is_ix:
                if b"</html>" not in data[-4096:].lower():
                    raise EdgarTruncatedError(source, f"inline XBRL has no closing </html> (truncated file?): {msg}", line) from None
                if "premature end" in msg.lower() or "end of data" in msg.lower():
                    raise EdgarTruncatedError(source, f"inline XBRL ends before it is closed: {msg}", line) from None
                raise EdgarParseError(source, f"malformed inline XBRL (XHTML): {msg}", line) from None
            doc = _parse_tag_soup(data, source)
            doc.warnings.append(f"XML-declared but not well-formed ({msg}); parsed as HTML")
            return doc
        ix = any(ns in IX_NAMESPACES for ns in (root.nsmap or {}).values())
        if not ix:
            ix = root.find(f".//{{{IX_NS_2013}}}header") is not None
        return HtmlDocument(root=root, is_xml=True, is_inline_xbrl=ix, encoding="xml-declared")
    return _parse_tag_soup(data, source)


def _parse_tag_soup(data: bytes, source: str) -> HtmlDocument:
    text, enc = decode_document(data, source)
    if text.lstrip().startswith("<?xml"):
        text = text.lstrip().split("?>", 1)[-1]
    parser = lxml_html.HTMLParser(remove_comments=True, huge_tree=True, default_doctype=False)
    try:
        root = lxml_html.document_fromstring(text, parser=parser)
    except (etree.ParserError, ValueError) as exc:
        raise EdgarParseError(source, f"not parseable as HTML: {exc}") from None
    is_ix = "ix:nonfraction" in text[:200000].lower() or "inlinexbrl" in text[:5000].lower()
    warnings = [] if enc == "utf-8" else [f"decoded as {enc} (not valid UTF-8)"]
    return HtmlDocument(root=root, is_xml=False, is_inline_xbrl=is_ix, encoding=enc, warnings=warnings)


_LOCAL_CACHE: dict[str, str] = {}


def _local(tag: str) -> str:
    k = _LOCAL_CACHE.get(tag)
    if k is None:
        if tag.startswith("{"):
            ns, _, name = tag[1:].partition("}")
            name = name.lower()
            if ns == XHTML_NS:
                k = name
            elif ns in IX_NAMESPACES:
                k = "ix:" + name
            else:
                k = "x:" + name
        else:
            k = tag.lower()
        _LOCAL_CACHE[tag] = k
    return k


def _hidden(el) -> bool:
    style = el.get("style")
    if not style:
        return False
    s = style.replace(" ", "").lower()
    return "display:none" in s


class _LineCollector:
    """The state of one walk: text gathered since the last break, table rows being assembled (a row's
    cells join into one line when short), the table nesting, and the display lines emitted so far."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.table_ids: list[int] = []
        self.links: list[bool] = []
        self.buf: list[str] = []
        self.link = False
        self.rows: list[list[tuple[str, bool]]] = []
        self.tables: list[int] = []
        self.table_counter = 0

    def emit(self, text: str, link: bool) -> None:
        c = clean_line(text)
        if c:
            self.lines.append(c)
            self.table_ids.append(self.tables[0] if self.tables else -1)
            self.links.append(link)

    def flush(self) -> None:
        if self.buf:
            text = "".join(self.buf)
            self.buf.clear()
        else:
            text = ""
        link = self.link
        self.link = False
        if not text:
            return
        if self.rows:
            self.rows[-1].append((text, link))
        else:
            self.emit(text, link)

    def end_row(self) -> None:
        self.flush()
        segs = self.rows.pop()
        cleaned = [(clean_line(t), lk) for t, lk in segs]
        cleaned = [(t, lk) for t, lk in cleaned if t]
        if not cleaned:
            return
        total = sum(len(t) for t, _ in cleaned)
        if total <= ROW_JOIN_MAX:
            out = [(" ".join(t for t, _ in cleaned), any(lk for _, lk in cleaned))]
        else:
            out = cleaned
        for t, lk in out:
            if self.rows:
                self.rows[-1].append((t, lk))
            else:
                self.emit(t, lk)

    def start(self, name: str, el) -> None:
        """An element opens: blocks, breaks, rows and cells end the current text; an in-document link
        marks it."""
        if name in _BLOCK:
            self.flush()
            if name == "table":
                if not self.tables:
                    self.table_counter += 1
                self.tables.append(self.table_counter)
        elif name == "br":
            self.flush()
        elif name == "tr":
            self.flush()
            self.rows.append([])
        elif name in ("td", "th"):
            self.flush()
        elif name == "a":
            href = el.get("href")
            if href and href.startswith("#"):
                self.link = True

    def end(self, name: str) -> None:
        """An element closes: a row is joined, a block or cell ends the current text."""
        if name == "tr" and self.rows:
            self.end_row()
        elif name in _BLOCK:
            self.flush()
            if name == "table" and self.tables:
                self.tables.pop()
        elif name in ("td", "th"):
            self.flush()

    def finish(self) -> HtmlLines:
        self.flush()
        while self.rows:
            self.end_row()
        starts: list[int] = []
        pos = 0
        for ln in self.lines:
            starts.append(pos)
            pos += len(ln) + 1
        return HtmlLines(lines=self.lines, table_id=self.table_ids, has_link=self.links, starts=starts,
                         text="\n".join(self.lines))


def html_lines(root) -> HtmlLines:
    """Walk the tree once and return its display lines (see module docstring)."""
    out = _LineCollector()
    buf = out.buf
    walker = etree.iterwalk(root, events=("start", "end"))
    skipping = None
    for event, el in walker:
        tag = el.tag
        if not isinstance(tag, str):  # comment / processing instruction / entity
            if event == "end" and el.tail:
                buf.append(el.tail)
            continue
        if event == "start":
            name = _local(tag)
            if name in _SKIP or _hidden(el):
                skipping = el
                walker.skip_subtree()
                continue
            out.start(name, el)
            if el.text:
                buf.append(el.text)
        else:
            if el is skipping:
                skipping = None
            else:
                out.end(_local(tag))
            if el.tail:
                buf.append(el.tail)
    return out.finish()


def text_lines(text: str) -> HtmlLines:
    """A plain-text primary document (pre-HTML EDGAR filings) as display lines."""
    lines = [c for c in (clean_line(ln) for ln in text.splitlines()) if c]
    starts: list[int] = []
    pos = 0
    for ln in lines:
        starts.append(pos)
        pos += len(ln) + 1
    return HtmlLines(lines=lines, table_id=[-1] * len(lines), has_link=[False] * len(lines), starts=starts, text="\n".join(lines))
