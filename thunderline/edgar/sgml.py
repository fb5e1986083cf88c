"""EDGAR full-submission ``<accession>.txt`` (SGML) -> header fields + documents.

Layout (see shared/datasets/README.md section 3)::

    <SEC-DOCUMENT>...
    <SEC-HEADER>...
    <ACCEPTANCE-DATETIME>YYYYMMDDHHMMSS          (US/Eastern)
    KEY:<tab>value lines, nested FILER: / COMPANY DATA: blocks
    </SEC-HEADER>
    <DOCUMENT>
    <TYPE>10-K                                    (unclosed, one tag per line)
    <SEQUENCE>1
    <FILENAME>primary.htm
    <DESCRIPTION>...                              (optional)
    <TEXT>
    ... HTML | <XBRL>xml or inline XBRL</XBRL> | <XML>..</XML> | <PDF>..</PDF> | begin 644 name (uuencoded) ...
    </TEXT>
    </DOCUMENT>
    ...
    </SEC-DOCUMENT>

Works on bytes (documents keep their own encodings; XML keeps its declaration). Every structural
fault raises ``EdgarParseError`` with the 1-based line: a header or document that is not closed is
a *truncated* file, not a shorter filing. ``PUBLIC DOCUMENT COUNT`` may legitimately differ from
the number of ``<DOCUMENT>`` blocks; the difference is reported, not an error. Binary documents
(uuencoded images, spreadsheets, zips, PDFs) are listed and skipped, never decoded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from thunderline.edgar.errors import EdgarMissingFieldError, EdgarParseError, EdgarTruncatedError
from thunderline.edgar.textnorm import line_of, reject_wide_or_binary

_HEADER_BLOCKS = ("FILER", "SUBJECT COMPANY", "FILED BY", "REPORTING-OWNER", "ISSUER", "DEPOSITOR", "SECURITIZER")
_BINARY_TYPES = ("GRAPHIC", "ZIP", "EXCEL", "PDF", "JSON")


@dataclass
class SgmlDocument:
    type: str
    sequence: int | None
    filename: str
    description: str
    body: bytes  # between <TEXT> and </TEXT>, <XBRL>/<XML> wrapper removed
    kind: str  # html | xml | uuencoded | pdf | text
    wrapper: str | None
    line: int  # 1-based line of <DOCUMENT>


@dataclass
class SgmlSubmission:
    header: dict[str, str]  # top-level KEY: value pairs (ACCESSION NUMBER, CONFORMED SUBMISSION TYPE, ...)
    entities: list[tuple[str, dict[str, str]]]  # (block name e.g. 'FILER', its flattened fields)
    acceptance_datetime: str | None
    documents: list[SgmlDocument]
    warnings: list[str] = field(default_factory=list)

    @property
    def accession(self) -> str:
        return self.header.get("ACCESSION NUMBER", "")

    @property
    def form(self) -> str:
        return self.header.get("CONFORMED SUBMISSION TYPE", "")

    @property
    def primary_entity(self) -> dict[str, str]:
        """First FILER (else SUBJECT COMPANY, else the first entity with a CIK)."""
        for want in ("FILER", "SUBJECT COMPANY"):
            for name, fields in self.entities:
                if name == want and "CENTRAL INDEX KEY" in fields:
                    return fields
        for _name, fields in self.entities:
            if "CENTRAL INDEX KEY" in fields:
                return fields
        return {}

    def primary_document(self) -> SgmlDocument | None:
        form = self.form.upper()
        for d in self.documents:
            if d.type.upper() == form and d.kind in ("html", "xml", "text"):
                return d
        for d in self.documents:
            if d.sequence == 1 and d.kind in ("html", "xml", "text"):
                return d
        return None

    def xbrl_instance(self) -> SgmlDocument | None:
        """EX-101.INS, else the EDGAR-extracted ``*_htm.xml`` instance of an inline filing."""
        for d in self.documents:
            if d.type.upper() == "EX-101.INS":
                return d
        for d in self.documents:
            if d.filename.lower().endswith("_htm.xml") and d.kind == "xml":
                return d
        return None


def _tag_value(line: bytes, tag: bytes) -> str | None:
    if line.startswith(tag):
        return line[len(tag):].strip().decode("latin-1")
    return None


def _parse_header(block: bytes, base_line: int) -> tuple[dict[str, str], list[tuple[str, dict[str, str]]], str | None]:
    header: dict[str, str] = {}
    entities: list[tuple[str, dict[str, str]]] = []
    acceptance = None
    current: dict[str, str] | None = None
    for raw in block.split(b"\n"):
        line = raw.rstrip(b"\r")
        if not line.strip():
            continue
        if line.startswith(b"<ACCEPTANCE-DATETIME>"):
            acceptance = line[len(b"<ACCEPTANCE-DATETIME>"):].strip().decode("latin-1")
            continue
        if line.startswith(b"<"):
            continue  # <SEC-HEADER>, PDS-style tags we do not need
        text = line.decode("latin-1")
        indented = text[:1] in ("\t", " ")
        key, sep, value = text.strip().partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if not indented:
            if key in _HEADER_BLOCKS and not value:
                current = {}
                entities.append((key, current))
            else:
                header.setdefault(key, value)
                current = None
        elif current is not None and value:
            current.setdefault(key, value)
    return header, entities, acceptance


def _classify(body: bytes) -> tuple[str, str | None, bytes]:
    """(kind, wrapper, inner body)."""
    s = body.lstrip()
    wrapper = None
    for tag in (b"XBRL", b"XML"):
        if s[: len(tag) + 2].upper() == b"<" + tag + b">":
            end = s.rfind(b"</" + tag + b">")
            s = s[len(tag) + 2 : end if end >= 0 else len(s)].lstrip()
            wrapper = tag.decode()
            break
    if s[:5].upper() == b"<PDF>":
        return "pdf", "PDF", b""
    if s[:6] == b"begin " and s[6:9].isdigit():
        return "uuencoded", wrapper, b""
    head = s[:2048].lower()
    if b"<html" in head or b"<!doctype html" in head or (b"<?xml" in head[:10] and b"<html" in s[:8192].lower()):
        return "html", wrapper, s
    if head.startswith(b"<?xml") or wrapper:
        return "xml", wrapper, s
    return "text", wrapper, s


def parse_submission(data: bytes, source: str = "<submission>") -> SgmlSubmission:
    """Parse a full-submission .txt; raises EdgarParseError naming the line of any structural fault."""
    reject_wide_or_binary(data[:65536], source)
    start = len(data) - len(data.lstrip())
    if not (data.startswith(b"<SEC-DOCUMENT>", start) or data.startswith(b"<SEC-HEADER>", start)):
        raise EdgarParseError(source, "not an EDGAR full submission: does not start with <SEC-DOCUMENT> or <SEC-HEADER>", 1)
    wrapped = data.startswith(b"<SEC-DOCUMENT>", start)
    h0 = data.find(b"<SEC-HEADER>")
    h1 = data.find(b"</SEC-HEADER>")
    if h0 < 0:
        raise EdgarParseError(source, "no <SEC-HEADER>", 1)
    if h1 < 0:
        raise EdgarTruncatedError(source, "SGML header is not closed: no </SEC-HEADER> (truncated file?)", line_of(data, len(data)))
    header, entities, acceptance = _parse_header(data[h0:h1], line_of(data, h0))
    for need in ("ACCESSION NUMBER", "CONFORMED SUBMISSION TYPE"):
        if not header.get(need):
            raise EdgarMissingFieldError(source, f"SGML header has no {need}", line_of(data, h0))

    docs: list[SgmlDocument] = []
    pos = h1
    while True:
        d0 = data.find(b"<DOCUMENT>", pos)
        if d0 < 0:
            break
        d1 = data.find(b"</DOCUMENT>", d0)
        nxt = data.find(b"<DOCUMENT>", d0 + 10)
        if d1 < 0 or (0 <= nxt < d1):
            raise EdgarTruncatedError(
                source, f"<DOCUMENT> #{len(docs) + 1} is not closed by </DOCUMENT> (truncated file?)", line_of(data, d0)
            )
        t0 = data.find(b"<TEXT>", d0, d1)
        if t0 < 0:
            raise EdgarParseError(source, f"<DOCUMENT> #{len(docs) + 1} has no <TEXT>", line_of(data, d0))
        t1 = data.rfind(b"</TEXT>", t0, d1)
        if t1 < 0:
            raise EdgarTruncatedError(source, f"<TEXT> of document #{len(docs) + 1} is not closed", line_of(data, t0))
        tags: dict[str, str] = {}
        for raw in data[d0 + 10 : t0].split(b"\n"):
            raw = raw.strip()
            if raw.startswith(b"<") and b">" in raw:
                name, _, value = raw[1:].partition(b">")
                tags[name.decode("latin-1").upper()] = value.strip().decode("latin-1")
        body = data[t0 + 6 : t1]
        dtype = tags.get("TYPE", "")
        kind, wrapper, inner = _classify(body)
        if dtype.upper() in _BINARY_TYPES and kind not in ("uuencoded", "pdf"):
            kind = "uuencoded" if body.lstrip()[:6] == b"begin " else kind
        seq = tags.get("SEQUENCE", "")
        docs.append(SgmlDocument(
            type=dtype, sequence=int(seq) if seq.isdigit() else None, filename=tags.get("FILENAME", ""),
            description=tags.get("DESCRIPTION", ""), body=inner if kind not in ("uuencoded", "pdf") else b"",
            kind=kind, wrapper=wrapper, line=line_of(data, d0),
        ))
        pos = d1 + 11
    if wrapped and data.rfind(b"</SEC-DOCUMENT>") < pos:
        raise EdgarTruncatedError(source, "missing </SEC-DOCUMENT> after the last document (truncated file?)", line_of(data, len(data)))
    if not docs and wrapped:
        raise EdgarParseError(source, "full submission has no <DOCUMENT> blocks", line_of(data, h1))
    warnings = []
    declared = header.get("PUBLIC DOCUMENT COUNT", "")
    if declared.isdigit() and int(declared) != len(docs):
        warnings.append(f"PUBLIC DOCUMENT COUNT {declared} but {len(docs)} <DOCUMENT> blocks")
    return SgmlSubmission(header=header, entities=entities, acceptance_datetime=acceptance, documents=docs, warnings=warnings)
