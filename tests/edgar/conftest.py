"""Fixtures for the EDGAR tests: the real files in shared/datasets/edgar (never copied here).

The datasets live next to the repository (``<repo>/../shared/datasets``) or wherever
``THUNDERLINE_DATASETS`` points; tests that need them skip with the reason when absent.
Parsed documents are cached per session: parsing is deterministic and the tests only read them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from edgar_testdata import AAPL, AAPL_10K, AAPL_10Q, EDGAR, TENANT, WORLDS, WORLDS_FILES

from thunderline.edgar import parse_path
from thunderline.edgar.submissions import parse_submissions_json


@pytest.fixture(scope="session")
def edgar_dir() -> Path:
    if not EDGAR.is_dir():
        pytest.skip(f"real EDGAR datasets not found at {EDGAR} (set THUNDERLINE_DATASETS to the datasets folder)")
    return EDGAR


@pytest.fixture(scope="session")
def aapl_submissions(edgar_dir):
    p = AAPL / "CIK0000320193.json"
    return parse_submissions_json(p.read_bytes(), str(p))


@pytest.fixture(scope="session")
def worlds_docs(edgar_dir):
    return [parse_path(WORLDS / f, TENANT)[0] for f in WORLDS_FILES]


@pytest.fixture(scope="session")
def aapl_10k_docs(edgar_dir):
    return [parse_path(AAPL / f, TENANT, filed_date=d)[0] for f, d in AAPL_10K]


@pytest.fixture(scope="session")
def aapl_10q_docs(edgar_dir):
    return [parse_path(AAPL / f, TENANT, filed_date=d)[0] for f, d in AAPL_10Q]


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory):
    from thunderline.edgar.demo_filings import write_demo_filings

    d = tmp_path_factory.mktemp("edgar_demo")
    write_demo_filings(d)
    return d
