"""Thunderlink: publication of decision traces and feature windows to subscribers.

Writers only touch the warehouse; the outbox and the relay make sure every decision
and window reaches the broker (NATS JetStream when ``THUNDERLINE_NATS_URL`` is set,
in-process otherwise) exactly once per message id, however often anything crashes.
"""

from thunderline.publish.messages import (
    KIND_DECISION,
    KIND_FEATURE,
    Message,
    decision_message,
    decision_payload,
    feature_message,
    feature_payload,
    subject_for,
    subject_token,
    tenant_subjects,
)
from thunderline.publish.outbox import capture, claim, compact_sent, enqueue, enqueue_decisions, enqueue_features, stats
from thunderline.publish.publisher import (
    InProcessPublisher,
    NatsJetStreamPublisher,
    Publisher,
    PublishError,
    StreamSettings,
    nats_url_from_env,
    publisher_from_env,
    stream_name,
    subject_matches,
)
from thunderline.publish.relay import OutboxRelay, RelayStats

__all__ = [
    "KIND_DECISION",
    "KIND_FEATURE",
    "InProcessPublisher",
    "Message",
    "NatsJetStreamPublisher",
    "OutboxRelay",
    "PublishError",
    "Publisher",
    "RelayStats",
    "StreamSettings",
    "capture",
    "claim",
    "compact_sent",
    "decision_message",
    "decision_payload",
    "enqueue",
    "enqueue_decisions",
    "enqueue_features",
    "feature_message",
    "feature_payload",
    "nats_url_from_env",
    "publisher_from_env",
    "stats",
    "stream_name",
    "subject_for",
    "subject_matches",
    "subject_token",
    "tenant_subjects",
]
