"""``thunderline keys create|revoke|list``: per-tenant API keys of the HTTP ingress.

No Dagster here. Configuration and warehouse failures propagate to the CLI's one-line error handling.
"""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    k = sub.add_parser("keys", help="per-tenant API keys").add_subparsers(dest="keys_command", required=True)
    c = k.add_parser("create", help="create a key (printed once; only its salted hash is stored)")
    c.add_argument("--tenant", required=True, help="tenant the key authenticates as (a-z, 0-9, '_', '-')")
    c.add_argument("--label", default=None, help="a note saying who or what uses the key")
    c.set_defaults(func=_keys_create)
    r = k.add_parser("revoke", help="revoke a key by its id (the third dot-separated part of the key)")
    r.add_argument("--tenant", required=True, help="tenant that owns the key")
    r.add_argument("key_id", help="the key's id (shown by `keys list`; the third dot-separated part of the key)")
    r.set_defaults(func=_keys_revoke)
    ls = k.add_parser("list", help="list a tenant's keys (ids, labels, state; never secrets)")
    ls.add_argument("--tenant", required=True, help="tenant whose keys to list")
    ls.set_defaults(func=_keys_list)


def _on_warehouse(action):
    """(True, action(warehouse)) on the configured warehouse, or (False, exit status 2) for a key error."""
    from thunderline.config import load_settings
    from thunderline.ingress.keys import ApiKeyError
    from thunderline.stores import open_stores

    try:
        with open_stores(load_settings(), init_schema=True) as stores:
            return True, action(stores.warehouse)
    except ApiKeyError as exc:
        print(f"thunderline: error: {exc}", file=sys.stderr)
        return False, 2


def _keys_create(args) -> int:
    from thunderline.ingress.keys import create_key

    ok, out = _on_warehouse(lambda wh: create_key(wh, args.tenant, args.label))
    if not ok:
        return out
    key, info = out
    print(key)
    print(f"key id {info.key_id} for tenant {info.tenant_id}: store the key now, it is not shown again", file=sys.stderr)
    return 0


def _keys_revoke(args) -> int:
    from thunderline.ingress.keys import revoke_key

    ok, revoked = _on_warehouse(lambda wh: revoke_key(wh, args.tenant, args.key_id))
    if not ok:
        return revoked
    if not revoked:
        print(f"thunderline: no active key {args.key_id!r} for tenant {args.tenant!r}", file=sys.stderr)
        return 1
    print(f"revoked {args.key_id} ({args.tenant})")
    return 0


def _keys_list(args) -> int:
    from thunderline.ingress.keys import list_keys

    ok, keys = _on_warehouse(lambda wh: list_keys(wh, args.tenant))
    if not ok:
        return keys
    for info in keys:
        state = f"revoked {info.revoked_at:%Y-%m-%d %H:%M}" if info.revoked_at else "active"
        print(f"{info.key_id}  {info.created_at:%Y-%m-%d %H:%M}  {state:24}  {info.label or ''}")
    return 0
