"""Warehouse tables of the HTTP ingress and the publisher: API keys and the publication outbox.

Why here: both live on the one shared :data:`thunderline.store.schema.metadata`, so
``Warehouse.init_schema`` creates them and, on PostgreSQL, puts them under the same
row-level security as every other table. ``thunderline.store`` imports this module.

* ``api_keys``: one row per (tenant, key id). Only a salted hash of the secret is
  stored (``hash`` = ``scheme$params$salt$digest``); the key itself is shown once, at
  creation. A revoked key keeps its row (``revoked_at`` set) so audits can name it.
* ``outbox``: one row per (tenant, message id) to publish on the broker. The message
  id is content-derived (kind, row id, content hash), so capturing the same decision
  twice never queues it twice, and the broker de-duplicates a re-send by the same id.
  Rows stay ``pending`` until the broker acknowledged them; failures back off
  (``attempts``, ``next_attempt_us``) and are retried, never dropped.

Rate-limit state is deliberately *not* persisted: buckets refill within seconds, so a
restarted server starting them full costs at most one burst.
"""

from __future__ import annotations

import sqlalchemy as sa

from thunderline.store.schema import metadata, utcnow

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),  # the key id (public part of the key)
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("label", sa.String(128)),
    sa.Column("hash", sa.String(256), nullable=False),  # scrypt$n,r,p$salt_b64$digest_b64
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, default=utcnow),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),  # message id == JetStream Nats-Msg-Id
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # decision | feature
    sa.Column("ref_id", sa.String(64), nullable=False),  # decision_traces.id / feature_windows.id
    sa.Column("ref_hash", sa.String(64), nullable=False),  # the row's content_hash when captured
    sa.Column("symbol", sa.String(64), nullable=False),
    sa.Column("subject", sa.String(256), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),  # JSON
    sa.Column("status", sa.String(8), nullable=False),  # pending | sent
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_us", sa.BigInteger, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("created_us", sa.BigInteger, nullable=False),  # µs UTC when captured
    sa.Column("sent_us", sa.BigInteger),
    sa.Index("ix_outbox_due", "tenant_id", "status", "next_attempt_us"),
    sa.Index("ix_outbox_ref", "tenant_id", "kind", "ref_id", "ref_hash"),
)
