"""KeyStore's memory: scrypt once per key, then a constant-time digest compare with no SQL."""

from __future__ import annotations

import hashlib

import pytest

from thunderline.ingress import keys as K
from thunderline.ingress.keys import KeyStore, create_key, parse_key, revoke_key
from thunderline.store import Warehouse


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def wh(tmp_path):
    w = Warehouse(f"sqlite:///{tmp_path / 'warehouse.db'}")
    w.init_schema()
    yield w
    w.dispose()


def test_a_verified_key_is_answered_from_memory_until_the_recheck(wh, monkeypatch):
    key, info = create_key(wh, "acme")
    clock = Clock()
    store = KeyStore(wh, recheck_s=1.0, clock=clock)
    assert store.cached(key) is None  # never verified: the caller must ask authenticate
    scrypts = []
    real = K.verify_secret
    monkeypatch.setattr(K, "verify_secret", lambda *a: scrypts.append(1) or real(*a))
    assert store.authenticate(key).tenant_id == "acme" and len(scrypts) == 1

    sessions = []
    real_session = wh.session
    monkeypatch.setattr(wh, "session", lambda *a, **k: sessions.append(1) or real_session(*a, **k))
    for _ in range(50):
        assert store.cached(key).tenant_id == "acme"
        assert store.authenticate(key).key_id == info.key_id
    assert sessions == [] and len(scrypts) == 1  # no SQL, no scrypt while fresh

    clock.t += 1.5  # stale: cached() declines, authenticate re-reads revocation (SQL) but not scrypt
    assert store.cached(key) is None
    assert store.authenticate(key).tenant_id == "acme" and len(sessions) == 1 and len(scrypts) == 1
    assert revoke_key(wh, "acme", info.key_id)
    clock.t += 1.5
    assert store.cached(key) is None and store.authenticate(key) is None


def test_a_wrong_secret_for_a_cached_key_id_is_refused(wh):
    key, info = create_key(wh, "acme")
    store = KeyStore(wh, recheck_s=60.0)
    assert store.authenticate(key) is not None
    tenant, key_id, secret = parse_key(key)
    forged = f"tlk.{tenant}.{key_id}.{'A' * 43}"
    assert store.cached(forged) is None
    assert store.authenticate(forged) is None
    assert store.cached(key).tenant_id == "acme"  # the real key keeps working
    other, _ = create_key(wh, "beta")
    spliced = f"tlk.acme.{key_id}.{parse_key(other)[2]}"
    assert store.cached(spliced) is None and store.authenticate(spliced) is None
    # the memory holds a digest of the key, never the key or its secret
    entry = store._ok[("acme", key_id)]
    assert entry.digest == hashlib.sha256(key.encode()).digest() and secret not in repr(entry)


def test_revoking_through_the_store_forgets_at_once(wh):
    key, info = create_key(wh, "acme")
    store = KeyStore(wh, recheck_s=60.0)
    assert store.authenticate(key) is not None and store.cached(key) is not None
    assert store.revoke("acme", info.key_id)
    assert store.cached(key) is None and store.authenticate(key) is None


def test_recheck_zero_never_answers_from_memory(wh):
    key, _ = create_key(wh, "acme")
    store = KeyStore(wh, recheck_s=0.0)
    assert store.authenticate(key) is not None
    assert store.cached(key) is None
