"""Warehouse tables of the sources: the EDGAR poller's durable download queue.

Why a table and not a directory of marker files: several pollers (the CLI, the sensor, a second
host) may work one queue; a row is claimed with one conditional UPDATE, so each download has one
owner at a time, and a poller killed mid-download (``kill -9``) leaves a claim whose owner is
provably dead (same host, pid gone) or whose lease has run out — the next poller takes it over.

``edgar_downloads``: one row per (tenant, item). An item is one URL to land: a company's
submissions JSON (``kind='submissions'``, fetched again on every poll, conditionally) or one file
of one filing (``kind='filing'``: the full-submission ``.txt``, or a primary document and its
``-index-headers.html``). ``status``: pending → claimed → done (or failed, retried by the next
poll). ``etag`` / ``last_modified`` are the server's validators (sent back as If-None-Match /
If-Modified-Since / If-Range), ``sha256`` and ``bytes`` describe what landed at ``dest``
(relative to the landing directory).
"""

from __future__ import annotations

import sqlalchemy as sa

from thunderline.store.schema import metadata

edgar_downloads = sa.Table(
    "edgar_downloads",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),  # "<accession>/<file name>" | "submissions/<name>"
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # submissions | filing
    sa.Column("cik", sa.BigInteger, nullable=False),
    sa.Column("accession", sa.String(32)),
    sa.Column("form", sa.String(16)),
    sa.Column("filing_date", sa.String(10)),
    sa.Column("accepted_at", sa.BigInteger),  # µs UTC from the submissions JSON, when it says
    sa.Column("seq", sa.Integer, nullable=False, default=0),  # order within a filing (index before document)
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("dest", sa.Text, nullable=False),
    sa.Column("status", sa.String(8), nullable=False),  # pending | claimed | done | failed
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("claimed_by", sa.String(128)),  # host:pid
    sa.Column("claimed_us", sa.BigInteger),
    sa.Column("etag", sa.Text),
    sa.Column("last_modified", sa.Text),
    sa.Column("sha256", sa.String(64)),
    sa.Column("bytes", sa.BigInteger),
    sa.Column("http_status", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("created_us", sa.BigInteger, nullable=False),
    sa.Column("done_us", sa.BigInteger),
    sa.Index("ix_edgar_downloads_status", "tenant_id", "status", "filing_date"),
    sa.Index("ix_edgar_downloads_cik", "tenant_id", "cik", "kind"),
)
