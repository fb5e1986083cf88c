"""EDGAR documents say what retention dropped (``sections_redacted``) and carry a hash of their XBRL facts
(``xbrl_hash``): filled at ingest, derived from the document alone (deterministic), on SQLite and PostgreSQL (real Worlds Inc. 10-Ks)."""

from __future__ import annotations

import pytest

from thunderline.edgar import parse_path
from thunderline.edgar.retained import sections_redacted, xbrl_hash
from thunderline.flow.edgar_partition import ingest_filing_partition, landing_classifier, submissions_first
from thunderline.flow.landing import candidate_files, index_files
from thunderline.hashing import content_hash


def test_worlds_10k_exhibits_are_listed_as_redacted_and_xbrl_is_hashed(warehouse, datasets, tmp_path):
    src = datasets / "edgar" / "worlds_inc" / "0001264931-17-000036.txt"
    if not src.exists():
        pytest.skip(f"shared EDGAR datasets not found at {src.parent}")
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / src.name).symlink_to(src)

    with warehouse.session("t") as s:
        landed = index_files(s, "edgar", submissions_first(candidate_files(tmp_path / "landing")), landing_classifier(s))
        for month in sorted({p for f in landed for p in f.partitions}):
            ingest_filing_partition(s, month)
        docs = s.select("raw_edgar_docs")
    tenk = next(d for d in docs if d["form"] == "10-K")
    redacted = tenk["sections_redacted"]
    assert {r.split(":")[0] for r in redacted} >= {"EX-31.1", "EX-31.2", "EX-32.1", "EX-32.2", "GRAPHIC"}
    assert not any(r.startswith("EX-101") for r in redacted)  # the XBRL exhibits feed the stored facts
    assert redacted == sorted(redacted)
    assert tenk["xbrl"] and tenk["xbrl_hash"] == content_hash(tenk["xbrl"])
    parsed = next(d for d in parse_path(src, "t") if d.form == "10-K")  # derived from the document alone
    assert (sections_redacted(parsed), xbrl_hash(parsed)) == (redacted, tenk["xbrl_hash"])
