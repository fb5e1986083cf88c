"""Thunderblock: multi-tenant HTTP ingress — API keys, contract validation, durable landing.

``thunderline serve`` runs :func:`build_app`; the pieces are usable on their own:
keys (:mod:`~thunderline.ingress.keys`), body decoding (:mod:`~thunderline.ingress.payload`),
durable tenant-carrying landing writes (:mod:`~thunderline.ingress.landing`) and rate limits.
"""

from thunderline.ingress.keys import KeyStore, Principal, create_key, list_keys, revoke_key
from thunderline.ingress.landing import (
    DurableLanding,
    Landed,
    files_of_tenant,
    landing_tenants,
    tenant_of_landing_path,
)
from thunderline.ingress.payload import CONTENT_TYPES, PayloadError, Problem, decode_ticks

__all__ = [
    "CONTENT_TYPES",
    "DurableLanding",
    "KeyStore",
    "Landed",
    "PayloadError",
    "Principal",
    "Problem",
    "ServeConfig",
    "build_app",
    "create_key",
    "decode_ticks",
    "files_of_tenant",
    "landing_tenants",
    "list_keys",
    "revoke_key",
    "tenant_of_landing_path",
]


def __getattr__(name: str):
    # the ASGI app pulls in Starlette and the publisher: loaded only when asked for, so the
    # landing helpers stay cheap to import for sensors and the live path
    if name in ("ServeConfig", "build_app"):
        from thunderline.ingress import app

        return getattr(app, name)
    raise AttributeError(f"module 'thunderline.ingress' has no attribute {name!r}")
