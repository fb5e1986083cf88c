"""Argument types and the user-error class every command shares: mistakes are one line, never a traceback."""

from __future__ import annotations

import argparse
import re

from thunderline_cli.errors import CliError  # noqa: F401  (re-exported: commands raise it for user mistakes)

_MONTH = re.compile(r"^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])$")




def month(value: str) -> str:
    """``YYYY-MM`` (argparse type)."""
    if not _MONTH.match(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a month; write YYYY-MM, e.g. 2025-03")
    return value


def positive_int(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{value!r} must be at least 1")
    return n


def non_negative_int(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"{value!r} must be 0 or more")
    return n
