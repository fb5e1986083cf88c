"""What a stored EDGAR document no longer holds: ``sections_redacted`` and ``xbrl_hash`` (retention).

Why: ``raw_edgar_docs`` keeps a filing's primary document (its item sections) and its XBRL facts;
the submission's exhibits (``EX-31.1`` certifications, ``EX-21`` subsidiaries, …) and binaries are
dropped by policy. An auditor reading a retained document must see what was dropped, and be able
to check the facts it kept: ``sections_redacted`` lists the dropped parts (``TYPE:filename``,
sorted), ``xbrl_hash`` is the sha256 (canonical encoding, :func:`thunderline.hashing.content_hash`)
of the XBRL facts. Both are derived from the document alone, so re-ingesting gives the same values.
"""

from __future__ import annotations

from thunderline.contracts import EDGARDoc
from thunderline.hashing import content_hash

#: Exhibit types kept (their content feeds the stored document): the XBRL exhibits (EX-101.*).
KEPT_EXHIBITS = ("EX-101",)


def sections_redacted(doc: EDGARDoc) -> list[str]:
    """The submission's parts not retained: exhibits other than XBRL, and binaries (sorted ``TYPE:filename``)."""
    dropped = {f"{d['type']}:{d['filename']}" for d in doc.meta.get("documents", ())
               if str(d.get("type", "")).upper().startswith("EX-")
               and not str(d["type"]).upper().startswith(KEPT_EXHIBITS)}
    binaries = set(doc.meta.get("skipped_binaries", ()))
    dropped |= {f"{d['type']}:{d['filename']}" for d in doc.meta.get("documents", ()) if d.get("filename") in binaries}
    return sorted(dropped)


def xbrl_hash(doc: EDGARDoc) -> str | None:
    """sha256 of the document's XBRL facts (None when it has none)."""
    return content_hash(doc.xbrl_facts) if doc.xbrl_facts else None
