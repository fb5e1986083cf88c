"""Decoding and text normalisation shared by the EDGAR parsers.

Guarantees:

* ``decode_document`` never guesses silently: it returns the encoding it used, rejects
  NUL-bearing / UTF-16 / UTF-32 input (EDGAR accepts ASCII, Latin-1 and UTF-8 only), and
  rejects bytes that contradict a declared UTF-8 or ASCII charset in XML.
* ``clean_line`` folds every Unicode whitespace (incl. ``&#160;``) to one space, drops
  zero-width and soft-hyphen characters and maps stray C1 controls (``&#146;`` written
  by old filers meaning cp1252 ’) to the cp1252 character, so the same words compare
  equal however the filer encoded them.
"""

from __future__ import annotations

from thunderline.edgar.errors import EdgarEncodingError


def _c1_map() -> dict[int, str]:
    table: dict[int, str] = {}
    for b in range(0x80, 0xA0):
        try:
            table[b] = bytes([b]).decode("cp1252")
        except UnicodeDecodeError:
            table[b] = ""
    return table


_TRANSLATE = _c1_map()
_TRANSLATE.update({0x200B: "", 0x200C: "", 0x200D: "", 0xFEFF: "", 0x00AD: ""})


def clean_line(text: str) -> str:
    """One line of display text: C1/zero-width fixed, whitespace collapsed, stripped."""
    return " ".join(text.translate(_TRANSLATE).split())


def fold_heading(text: str) -> str:
    """Lower-case, typographic quotes/dashes folded to ASCII: for matching headings only."""
    return (
        clean_line(text)
        .replace("\u2019", "'")
        .replace("\u2018", "'")
        .replace("\u201c", '"')
        .replace("\u201d", '"')
        .replace("\u2013", "-")
        .replace("\u2014", "-")
        .lower()
    )


def line_of(data: bytes | str, offset: int) -> int:
    """1-based line number of ``offset``."""
    nl = b"\n" if isinstance(data, bytes) else "\n"
    return data.count(nl, 0, max(0, offset)) + 1  # type: ignore[arg-type]


def reject_wide_or_binary(data: bytes, source: str) -> None:
    """EDGAR documents are 8-bit text: NULs or a UTF-16/32 BOM mean the wrong encoding or a binary."""
    head = data[:4]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or head in (b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00"):
        raise EdgarEncodingError(source, "UTF-16/UTF-32 byte-order mark: EDGAR documents are ASCII, Latin-1 or UTF-8", 1)
    nul = data.find(b"\x00")
    if nul >= 0:
        raise EdgarEncodingError(
            source,
            f"NUL byte at offset {nul}: binary data or a UTF-16/UTF-32 encoding, "
            "not an EDGAR text document (ASCII, Latin-1 or UTF-8)",
            line_of(data, nul),
        )


def declared_charset(data: bytes) -> str | None:
    """The charset declared in an XML declaration or an HTML <meta> within the first 2 KB (lower-case)."""
    head = data[:2048].lower()
    for marker in (b"encoding=", b"charset="):
        i = head.find(marker)
        if i >= 0:
            j = i + len(marker)
            while j < len(head) and head[j : j + 1] in (b'"', b"'", b" "):
                j += 1
            k = j
            while k < len(head) and (head[k : k + 1].isalnum() or head[k : k + 1] in (b"-", b"_")):
                k += 1
            if k > j:
                return head[j:k].decode("ascii")
    return None


def decode_document(data: bytes, source: str) -> tuple[str, str]:
    """Bytes -> (text, encoding used). UTF-8 first; then cp1252 (EDGAR's "Latin-1" in practice);
    then Latin-1. A declared UTF-8 that does not decode is an error, not a fallback."""
    reject_wide_or_binary(data, source)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        declared = declared_charset(data)
        if declared in ("utf-8", "utf8"):
            raise EdgarEncodingError(
                source,
                f"declared charset utf-8 but byte 0x{data[exc.start]:02x} at offset {exc.start} is not valid UTF-8",
                line_of(data, exc.start),
            ) from None
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def check_xml_bytes_match_declaration(data: bytes, source: str) -> None:
    """An XML document whose bytes contradict its declared encoding is rejected with the line."""
    declared = declared_charset(data[:200]) if data.lstrip()[:5] == b"<?xml" else None
    if declared in ("ascii", "us-ascii"):
        if not data.isascii():
            i = next(i for i, b in enumerate(data) if b > 0x7F)
            raise EdgarEncodingError(
                source, f"declared encoding {declared} but byte 0x{data[i]:02x} at offset {i} is not ASCII", line_of(data, i)
            )
    elif declared in ("utf-8", "utf8"):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EdgarEncodingError(
                source,
                f"declared encoding utf-8 but byte 0x{data[exc.start]:02x} at offset {exc.start} is not valid UTF-8",
                line_of(data, exc.start),
            ) from None
