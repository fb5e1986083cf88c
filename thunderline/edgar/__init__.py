"""EDGAR core library: parse real SEC files into ``EDGARDoc``s, turn them into feature windows,
join them point-in-time to market data. Pure functions and dataclasses; no Dagster, no network.

Entry points (see each module for the guarantees):

* ``parse_path(path, tenant_id, **hints) -> list[EDGARDoc]`` / ``parse_bytes`` - recognise the
  file by content (full submission .txt, 10-K/10-Q/20-F/8-K HTML or inline XBRL, XBRL instance,
  companyfacts JSON, submissions JSON); bad input raises ``EdgarParseError`` (file, reason, line).
"""

from thunderline.edgar.detect import detect_kind, parse_bytes, parse_path
from thunderline.edgar.errors import (
    EdgarEncodingError,
    EdgarMissingFieldError,
    EdgarNoSectionsError,
    EdgarParseError,
    EdgarTruncatedError,
    EdgarUnrecognisedError,
)

__all__ = [
    "EdgarEncodingError",
    "EdgarMissingFieldError",
    "EdgarNoSectionsError",
    "EdgarParseError",
    "EdgarTruncatedError",
    "EdgarUnrecognisedError",
    "detect_kind",
    "parse_bytes",
    "parse_path",
]
