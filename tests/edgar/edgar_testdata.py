"""Where the real EDGAR files are, and facts about them the tests use (from shared/datasets/README.md)."""

from __future__ import annotations

import os
from pathlib import Path

TENANT = "t-edgar"


def _datasets_root() -> Path:
    env = os.environ.get("THUNDERLINE_DATASETS")
    return Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


EDGAR = _datasets_root() / "edgar"
AAPL = EDGAR / "aapl"
WORLDS = EDGAR / "worlds_inc"
SNOW = EDGAR / "snowflake"

WORLDS_FILES = ("0001264931-16-000339.txt", "0001264931-17-000036.txt", "0001264931-18-000031.txt")
#: The two Apple 10-K HTML files carry no filing date; these come from the datasets README.
AAPL_10K = (("aapl-10-k-2024-11-01.html", "2024-11-01"), ("AAPL_10K_2025-10-31.html", "2025-10-31"))
AAPL_10Q = (("aapl-20250329.htm", "2025-05-02"), ("aapl-10-q-2025-08-01.html", "2025-08-01"))
