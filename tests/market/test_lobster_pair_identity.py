"""A LOBSTER delivery is a *pair* of files: its identity and its stored copy cover both.

The message file alone does not say what the book was: a corrected orderbook delivered next to
a byte-identical message file is a new delivery of that day, not a duplicate of the first one
(before, the pair was identified by its message file only and the correction was silently
dropped). And the orderbook is kept once in the content store, inside its message file's entry,
not a second time as a file of its own. On the real AMZN pair, copied into the test's tmp dir.
"""

from __future__ import annotations

from pathlib import Path

from thunderline.flow.landing import candidate_files, index_files
from thunderline.flow.tick_files import classify_tick_file
from thunderline.flow.tick_ingest import ingest_tick_partition
from thunderline.store.content import ContentStore
from thunderline.store.lake import Lake

DAY = "AMZN_2012-06-21_34200000_57600000_{}_1.csv"


def _pair(dst: Path, msg: bytes, ob: bytes) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    (dst / DAY.format("message")).write_bytes(msg)
    (dst / DAY.format("orderbook")).write_bytes(ob)
    return dst / DAY.format("message")


def _land(warehouse, home: Path, store: ContentStore):
    with warehouse.session("t") as s:
        landed = index_files(s, "ticks", candidate_files(home / "landing"), classify_tick_file, store=store)
        summary = ingest_tick_partition(s, Lake(home / "lake"), "2012-06", "AMZN", run_expectations=False)
    return landed, summary


def _stored_files(store: ContentStore) -> list[Path]:
    return sorted(p for p in store.root.rglob("*") if p.is_file() and ".incoming" not in p.parts)


def _state(warehouse) -> tuple:
    with warehouse.session("t") as s:
        return (sorted(r["id"] for r in s.select("raw_tick_batches")),
                sorted((r["id"], r["status"]) for r in s.select("landing_files")),
                len(s.select("quarantine")))


def _corrected(ob: bytes, row: int = 20_000) -> bytes:
    """The orderbook with one row's best ask size changed (a vendor's correction)."""
    lines = ob.splitlines(keepends=True)
    f = lines[row].split(b",")
    f[1] = str(int(f[1]) + 100).encode()
    lines[row] = b",".join(f)
    return b"".join(lines)


def _first_delivery(warehouse, market_data: Path, tmp_path: Path):
    """The real AMZN pair landed (with a content store) and ingested once: (message, orderbook, store, summary)."""
    src = market_data / "lobster"
    msg, ob = (src / DAY.format("message")).read_bytes(), (src / DAY.format("orderbook")).read_bytes()
    store = ContentStore(tmp_path / "landed")
    _pair(tmp_path / "landing" / "a", msg, ob)
    _, summary = _land(warehouse, tmp_path, store)
    return msg, ob, store, summary


def test_a_corrected_orderbook_next_to_the_same_message_file_is_a_new_delivery(warehouse, market_data, tmp_path):
    msg, ob, store, s1 = _first_delivery(warehouse, market_data, tmp_path)
    batches = _state(warehouse)[0]

    fixed = _corrected(ob)
    bad = _pair(tmp_path / "landing" / "b", msg, fixed)
    landed, s2 = _land(warehouse, tmp_path, store)
    new = [f for f in landed if f.is_new and f.format == "lobster"]
    # not a duplicate of the first delivery: landed as new content, and the ledger sees the
    # disagreement (same day, same events, another book on one row): refused whole, with its reason
    assert [f.path for f in new] == [str(bad)]
    assert s2.files_duplicate == [] and [f["path"] for f in s2.files_rejected] == [str(bad)]
    assert s2.files_rejected[0]["reason"].startswith("conflicting_file")
    with warehouse.session("t") as s:
        q = [r for r in s.select("quarantine") if r["source"] == str(bad)]
    assert len(q) == 1 and q[0]["reason"].startswith("conflicting_file") and q[0]["field"] == "*"
    assert s2.rows_kept == s1.rows_kept and _state(warehouse)[0] == batches
    # the stored copy of the second delivery holds the corrected book, not the first one's
    entry = store.entry_dir("ticks", new[0].sha256)
    assert (entry / DAY.format("orderbook")).read_bytes() == fixed
    assert (entry / DAY.format("message")).read_bytes() == msg


def test_the_same_pair_twice_changes_nothing_and_the_store_holds_each_file_once(warehouse, market_data, tmp_path):
    msg, ob, store, s1 = _first_delivery(warehouse, market_data, tmp_path)
    files = _stored_files(store)
    # one entry: the message file and its orderbook, each once; nothing else
    assert sorted(p.name for p in files) == sorted(DAY.format(k) for k in ("message", "orderbook"))
    assert sum(p.stat().st_size for p in files) == len(msg) + len(ob)
    before = _state(warehouse)

    _pair(tmp_path / "landing" / "b", msg, ob)  # the same pair delivered again elsewhere
    landed, s2 = _land(warehouse, tmp_path, store)
    assert [f.is_new for f in landed] == [False] * 4
    assert _stored_files(store) == files and _state(warehouse) == before
    assert s2.rows_kept == s1.rows_kept and s2.files_rejected == []


def test_the_pair_id_hashes_the_orderbook_bytes_it_stored_in_the_same_read(market_data, tmp_path):
    """The orderbook is hashed (for the pair's id) in the read that copies it: rewritten after that read,
    the entry still holds the bytes its id names — the id is the identity of the stored pair."""
    from thunderline.flow.landing import _companions, _prefix_for
    from thunderline.market.identity import tick_file_identity, tick_identity_prefix

    src = market_data / "lobster"
    msg, ob = (src / DAY.format("message")).read_bytes(), (src / DAY.format("orderbook")).read_bytes()
    path = _pair(tmp_path / "landing", msg, ob)
    orderbook = _companions(path)[0]
    inner = _prefix_for(path, tick_identity_prefix)

    def prefix_then_rewrite(shas):  # the vendor rewrites the orderbook right after the store read it
        out = inner(shas)
        orderbook.write_bytes(_corrected(ob))
        return out

    stored = ContentStore(tmp_path / "landed").put(path, "ticks", companions=[orderbook], prefix=prefix_then_rewrite)
    assert (stored.path.parent / orderbook.name).read_bytes() == ob  # what was hashed is what was stored
    assert stored.sha256 == tick_file_identity(stored.path)  # the id is the stored pair's own identity
    assert stored.sha256 != tick_file_identity(path)  # and not the rewritten landing pair's
