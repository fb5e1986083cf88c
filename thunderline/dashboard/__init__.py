"""Thundereye: the live dashboard served by ``thunderline serve`` (page, SSE stream, per-tenant snapshot)."""

from thunderline.dashboard.snapshot import ROUTER_EVENTS, router_from_traces, tenant_snapshot

__all__ = ["ROUTER_EVENTS", "router_from_traces", "tenant_snapshot"]
