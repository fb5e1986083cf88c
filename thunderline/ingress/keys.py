"""Per-tenant API keys: created once, stored only as salted scrypt hashes, checked in constant time.

A key reads ``tlk.<tenant>.<key id>.<secret>``: the tenant and key id are public (they
say which row to check, and let a PostgreSQL session be opened under that tenant's
row-level security), the secret is 256 random bits. The warehouse keeps
``scrypt(secret, salt)`` only; verification recomputes it and compares with
:func:`hmac.compare_digest`. The tenant of a request is the tenant of the row whose
hash matched — a key can never act for a tenant other than its own, because the row
is looked up inside that tenant's session.

scrypt is deliberately slow (~tens of ms), so :class:`KeyStore` remembers a verified
key's sha256 in memory (never on disk), under its public key id, and compares later
presentations with it in constant time; revocation is still checked against the
warehouse on every use unless ``recheck_s`` allows a short grace.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

import sqlalchemy as sa

from thunderline.store import Warehouse
from thunderline.store.ingress_tables import api_keys

KEY_PREFIX = "tlk"
_TENANT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_KEY_RE = re.compile(r"^tlk\.([a-z0-9][a-z0-9_-]{0,62})\.([0-9a-f]{16})\.([A-Za-z0-9_-]{43})$")
SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 14, 8, 1


class ApiKeyError(ValueError):
    """A key operation failed (bad tenant, unknown key id); the message says which."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the tenant every row of the request is stamped with, and the key used."""

    tenant_id: str
    key_id: str


@dataclass(frozen=True)
class KeyInfo:
    tenant_id: str
    key_id: str
    label: str | None
    created_at: dt.datetime
    revoked_at: dt.datetime | None


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def hash_secret(secret: str, salt: bytes | None = None) -> str:
    """``scrypt$n,r,p$salt$digest`` of ``secret`` (fresh 16-byte salt unless given)."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N},{SCRYPT_R},{SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_secret(secret: str, stored: str) -> bool:
    """True when ``secret`` hashes to ``stored``; the comparison takes the same time either way."""
    try:
        scheme, params, salt, digest = stored.split("$")
        n, r, p = (int(x) for x in params.split(","))
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    got = hashlib.scrypt(secret.encode(), salt=_unb64(salt), n=n, r=r, p=p, dklen=32)
    return hmac.compare_digest(got, _unb64(digest))


def parse_key(key: str) -> tuple[str, str, str] | None:
    """(tenant, key id, secret) of a well-formed key, else None."""
    m = _KEY_RE.match(key or "")
    return (m.group(1), m.group(2), m.group(3)) if m else None


def check_tenant(tenant: str) -> str:
    if not _TENANT_RE.match(tenant or ""):
        raise ApiKeyError(f"tenant {tenant!r}: tenant ids are 1-63 chars of a-z, 0-9, '_' or '-', "
                        "starting with a letter or digit")
    return tenant


def create_key(warehouse: Warehouse, tenant: str, label: str | None = None) -> tuple[str, KeyInfo]:
    """Create a key for ``tenant``; returns (the key — shown once, never stored — and its info)."""
    check_tenant(tenant)
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    now = dt.datetime.now(dt.timezone.utc)
    with warehouse.session(tenant) as s:
        s.insert("api_keys", [dict(id=key_id, label=label, hash=hash_secret(secret), created_at=now)])
    return f"{KEY_PREFIX}.{tenant}.{key_id}.{secret}", KeyInfo(tenant, key_id, label, now, None)


def revoke_key(warehouse: Warehouse, tenant: str, key_id: str) -> bool:
    """Revoke ``key_id`` of ``tenant``; False when there is no such (unrevoked) key."""
    check_tenant(tenant)
    with warehouse.session(tenant) as s:
        res = s.execute(sa.update(api_keys)
                        .where(api_keys.c.tenant_id == tenant, api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                        .values(revoked_at=dt.datetime.now(dt.timezone.utc)))
        return bool(res.rowcount)


def list_keys(warehouse: Warehouse, tenant: str) -> list[KeyInfo]:
    check_tenant(tenant)
    with warehouse.session(tenant) as s:
        rows = s.select("api_keys", order_by=[api_keys.c.created_at, api_keys.c.id])
    return [KeyInfo(tenant, r["id"], r["label"], r["created_at"], r["revoked_at"]) for r in rows]


@dataclass
class _Cached:
    principal: Principal
    digest: bytes  # sha256 of the whole verified key: compared in constant time, never stored on disk
    checked: float


class KeyStore:
    """Authenticates presented keys against the warehouse, with a bounded in-memory cache.

    A key is verified with scrypt once; after that the cache (keyed by the public key id)
    holds the sha256 of the verified key, and a presented key matches when its sha256 equals
    it under :func:`hmac.compare_digest` — constant time, microseconds, no SQL. ``recheck_s``
    = how long a verified key is trusted before its revocation status is read again
    (0 = on every request). Keys revoked through this store are forgotten at once.
    Failed keys are remembered (by sha256, bounded) for ``negative_ttl_s`` so a flood of bad
    keys cannot make the server burn CPU on scrypt.
    """

    def __init__(self, warehouse: Warehouse, *, recheck_s: float = 0.0, max_entries: int = 10_000,
                 negative_ttl_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.warehouse = warehouse
        self.recheck_s = recheck_s
        self.max_entries = max_entries
        self.negative_ttl_s = negative_ttl_s
        self.clock = clock
        self._ok: OrderedDict[tuple[str, str], _Cached] = OrderedDict()  # (tenant, key id) -> verified
        self._bad: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()

    def cached(self, key: str | None) -> Principal | None:
        """The principal when ``key`` was verified within ``recheck_s``; None = ask :meth:`authenticate`.

        Pure memory and one sha256: cheap enough for the event loop. None never means "refused".
        """
        parsed = parse_key(key or "")
        if parsed is None or self.recheck_s <= 0:
            return None
        hit = self._ok.get((parsed[0], parsed[1]))
        if hit is None or self.clock() - hit.checked >= self.recheck_s:
            return None
        digest = hashlib.sha256(key.encode()).digest()  # type: ignore[union-attr]
        return hit.principal if hmac.compare_digest(digest, hit.digest) else None

    def authenticate(self, key: str | None) -> Principal | None:
        """The principal of a valid, unrevoked key; None for anything else (no reason is leaked)."""
        parsed = parse_key(key or "")
        if parsed is None:
            return None
        tenant, key_id, secret = parsed
        digest = hashlib.sha256(key.encode()).digest()  # type: ignore[union-attr]
        now = self.clock()
        with self._lock:
            hit = self._ok.get((tenant, key_id))
            bad_until = self._bad.get(digest)
        if bad_until is not None and bad_until > now:
            return None
        same = hit is not None and hmac.compare_digest(digest, hit.digest)
        if same and now - hit.checked < self.recheck_s:
            return hit.principal
        with self.warehouse.session(tenant) as s:
            rows = s.select("api_keys", api_keys.c.id == key_id, columns=["hash", "revoked_at"])
        if not rows or rows[0]["revoked_at"] is not None:
            self._forget(digest, (tenant, key_id), now=now)
            return None
        if not same and not verify_secret(secret, rows[0]["hash"]):
            # a wrong secret for a known id: remember it as bad, keep the verified entry
            self._forget(digest, None, now=now)
            return None
        principal = hit.principal if same else Principal(tenant, key_id)
        with self._lock:
            self._ok[(tenant, key_id)] = _Cached(principal, digest, now)
            self._ok.move_to_end((tenant, key_id))
            while len(self._ok) > self.max_entries:
                self._ok.popitem(last=False)
        return principal

    def revoke(self, tenant: str, key_id: str) -> bool:
        ok = revoke_key(self.warehouse, tenant, key_id)
        with self._lock:
            self._ok.pop((tenant, key_id), None)
        return ok

    def _forget(self, digest: bytes, ident: tuple[str, str] | None, *, now: float) -> None:
        with self._lock:
            if ident is not None:
                self._ok.pop(ident, None)
            self._bad[digest] = now + self.negative_ttl_s
            self._bad.move_to_end(digest)
            while len(self._bad) > self.max_entries:
                self._bad.popitem(last=False)
