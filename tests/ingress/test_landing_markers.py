"""DurableLanding's cheap paths keep its guarantees: directory entries fsynced before any 2xx rests on
them, symlink markers answer duplicates (and markers written as text by earlier versions still do)."""

from __future__ import annotations

import os

import pyarrow.parquet as pq

from thunderline.ingress import landing as L
from thunderline.ingress.landing import DurableLanding, parquet_bytes

from .ticks import ticks


def _spy_dir_fsyncs(monkeypatch) -> list[str]:
    seen: list[str] = []
    real = L.fsync_dir
    monkeypatch.setattr(L, "fsync_dir", lambda d: seen.append(str(d)) or real(d))
    return seen


def test_parent_directories_are_fsynced_until_known_durable(tmp_path, monkeypatch):
    seen = _spy_dir_fsyncs(monkeypatch)
    landing = DurableLanding(tmp_path)
    a = landing.write_ticks("acme", ticks(5, seed=1))
    day, tenant, kind = a.path.parent, a.path.parent.parent, a.path.parent.parent.parent
    assert seen == [str(day), str(tenant), str(kind)]
    seen.clear()
    landing.write_ticks("acme", ticks(5, seed=2))
    assert seen == [str(day)]  # known durable in this process: only the rename's own directory
    seen.clear()
    DurableLanding(tmp_path).write_ticks("acme", ticks(5, seed=3))  # a new process (maybe after a crash)
    assert seen == [str(day), str(tenant), str(kind)]


def test_markers_are_symlinks_and_old_text_markers_still_count(tmp_path):
    landing = DurableLanding(tmp_path)
    t = ticks(7)
    first = landing.write_ticks("acme", t)
    [marker] = (tmp_path / "ticks" / "tenant=acme" / ".ids").rglob(f".{first.sha256}")
    assert marker.is_symlink() and marker.resolve() == first.path.resolve()
    assert landing.write_ticks("acme", t).duplicate

    marker.unlink()  # as written before markers were symlinks: the path relative to the tenant dir, as text
    marker.write_text(str(first.path.relative_to(tmp_path / "ticks" / "tenant=acme")))
    again = DurableLanding(tmp_path).write_ticks("acme", t)
    assert again.duplicate and again.path == first.path

    first.path.unlink()  # the file is gone (processed and cleaned up): the batch lands again, marker re-pointed
    third = landing.write_ticks("acme", t)
    assert not third.duplicate and third.path.exists() and pq.read_table(third.path).num_rows == 7
    assert marker.is_symlink() and marker.resolve() == third.path.resolve()
    assert [p.name for p in marker.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_write_parquet_lands_what_parquet_bytes_encoded(tmp_path):
    landing = DurableLanding(tmp_path)
    t = ticks(9).cast(L.TICK_SCHEMA) if ticks(9).schema != L.TICK_SCHEMA else ticks(9)
    data = parquet_bytes(t)
    landed = landing.write_parquet("acme", data, t.num_rows)
    assert landed.path.read_bytes() == data.to_pybytes() and landed.rows == 9
    assert landing.write_ticks("acme", t).duplicate  # the same content, the same id
    assert oct(os.stat(landed.path).st_mode & 0o777) == "0o644"
