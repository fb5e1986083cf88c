"""EDGAR core library: parse real SEC files into ``EDGARDoc``s, turn them into feature windows,
join them point-in-time to market data. Pure functions and dataclasses; no Dagster, no network.

Entry points (see each module for the guarantees):

* ``parse_path(path, tenant_id, **hints) -> list[EDGARDoc]`` / ``parse_bytes`` - recognise the
  file by content (full submission .txt, 10-K/10-Q/20-F/8-K HTML or inline XBRL, XBRL instance,
  companyfacts JSON, submissions JSON); bad input raises ``EdgarParseError`` (file, reason, line).
* ``build_windows(docs) -> list[FeatureWindow]`` - per-filing windows (open / filled / superseded)
  with fundamentals, deltas, ratios and text features; ``merge_accession`` / ``supersede`` /
  ``window_status`` are the pieces.
* ``asof_join(times_us, symbol, windows, ticker_map)`` - no-look-ahead join.
* ``write_demo_filings(dir)`` / ``parse_demo(dir)`` - synthetic filings in the real formats.
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
from thunderline.edgar.features import FEATURE_NAMES, RECIPE_VERSION, FilingState
from thunderline.edgar.lexicon import load_lm_dictionary
from thunderline.edgar.pit import AsofResult, asof_join, windows_frame
from thunderline.edgar.windows import build_windows, group_filings, merge_accession, supersede, window_status

__all__ = [
    "FEATURE_NAMES",
    "RECIPE_VERSION",
    "AsofResult",
    "EdgarEncodingError",
    "EdgarMissingFieldError",
    "EdgarNoSectionsError",
    "EdgarParseError",
    "EdgarTruncatedError",
    "EdgarUnrecognisedError",
    "FilingState",
    "asof_join",
    "build_windows",
    "detect_kind",
    "group_filings",
    "load_lm_dictionary",
    "merge_accession",
    "parse_bytes",
    "parse_path",
    "supersede",
    "window_status",
    "windows_frame",
]
