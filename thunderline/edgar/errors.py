"""The one exception every EDGAR parser raises on bad input.

Why: the ingestion layer quarantines a rejected file together with the reason,
so a failure must say *which* file, *what* is wrong and, where it can, *where*
(1-based line). Subclasses let a caller branch on the kind of fault without
parsing the message; all of them are ``EdgarParseError``.
"""

from __future__ import annotations


class EdgarParseError(ValueError):
    """Input that cannot be parsed into a trustworthy EDGARDoc.

    ``source`` names the file (or the member of a submission: ``file.txt#primary.htm``),
    ``reason`` says which rule was broken, ``line`` is 1-based when known.
    """

    def __init__(self, source: str, reason: str, line: int | None = None) -> None:
        self.source = str(source)
        self.reason = reason
        self.line = line
        where = f"{self.source}:{line}" if line is not None else self.source
        super().__init__(f"{where}: {reason}")


class EdgarEncodingError(EdgarParseError):
    """Bytes that are not in any encoding EDGAR accepts (or not the one declared)."""


class EdgarTruncatedError(EdgarParseError):
    """A structure (SGML header, <DOCUMENT>, XML) that stops before it is closed."""


class EdgarUnrecognisedError(EdgarParseError):
    """Content that is not a full submission, HTML, an XBRL instance or a known SEC JSON."""


class EdgarNoSectionsError(EdgarParseError):
    """A 10-K / 10-Q / 20-F / 8-K primary document in which no Item heading was found."""


class EdgarMissingFieldError(EdgarParseError):
    """A field the contract needs (CIK, form, a date to derive the acceptance time) is absent."""
