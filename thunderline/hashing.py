"""Canonical hashing and content-derived ids.

Why: replay must reproduce identical ids and hashes on any machine and either
warehouse backend, so every id is derived from content (uuid5) and every hash is
sha256 over one canonical byte encoding:

* mappings are encoded with their keys sorted (by their own canonical bytes);
* floats (Python and numpy) are IEEE-754 big-endian float64 bytes, with every NaN
  folded to one quiet NaN and -0.0 folded to 0.0 (both arise from harmless
  re-orderings of arithmetic and must not change a hash);
* ints, Decimals and strings are type-tagged and length-prefixed, so ``1``,
  ``1.0``, ``"1"`` and ``Decimal("1")`` all hash differently;
* Decimals are normalised (``Decimal("1.50") == Decimal("1.5")`` hash alike);
* lists, tuples and 1-D/2-D numpy arrays encode element-wise with their length.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import struct
import uuid
from decimal import Decimal
from typing import Any, Sequence

import numpy as np

#: Namespace of every Thunderline uuid5 (fixed forever: changing it changes every id).
THUNDERLINE_NAMESPACE = uuid.UUID("6f1d3a52-4c0e-5b8e-9a57-2b8d7f0c1e44")

_QNAN = struct.pack(">d", float("nan"))


def _float_bytes(x: float) -> bytes:
    if x != x:
        return _QNAN
    if x == 0.0:
        x = 0.0
    return _F64(x)


_LEN = struct.Struct(">Q").pack
_F64 = struct.Struct(">d").pack


def _len(n: int) -> bytes:
    return _LEN(n)


def _enc_none(obj, out):
    out.append(b"N")


def _enc_bool(obj, out):
    out.append(b"T" if obj else b"F")


def _enc_int(obj, out):
    s = str(int(obj)).encode()
    out += [b"i", _len(len(s)), s]


def _enc_float(obj, out):
    out.append(b"f" + _float_bytes(float(obj)))


def _enc_str(obj, out):
    b = obj.encode("utf-8")
    out += [b"s", _len(len(b)), b]


def _enc_seq(obj, out):
    out += [b"l", _len(len(obj))]
    if len(obj) > 8 and all(type(v) is float for v in obj):
        out.append(_bulk_floats(obj))  # same bytes as b"f" + 8 bytes per value
        return
    for item in obj:
        _encode(item, out)


def _bulk_floats(values) -> bytes:
    """``b"f" + big-endian float64`` per value (NaN and -0.0 canonicalised), packed by numpy."""
    arr = np.array(values, dtype=">f8")
    arr[arr != arr] = np.nan
    arr[arr == 0.0] = 0.0
    rec = np.empty(len(arr), dtype=[("t", "S1"), ("v", ">f8")])
    rec["t"] = b"f"
    rec["v"] = arr
    return rec.tobytes()


_ORDER_CACHE: dict[tuple, list[tuple[bytes, object]]] = {}


def _key_bytes(k) -> bytes:
    parts: list[bytes] = []
    _encode(k, parts)
    return b"".join(parts)


def _enc_dict(obj, out):
    keys = tuple(obj)
    order = _ORDER_CACHE.get(keys) if all(type(k) is str for k in keys) else None
    if order is None:
        order = sorted(((_key_bytes(k), k) for k in keys), key=lambda kv: kv[0])
        if len(_ORDER_CACHE) < 4096 and all(type(k) is str for k in keys):
            _ORDER_CACHE[keys] = order  # feature dicts repeat the same keys millions of times
    out += [b"m", _len(len(order))]
    vals = [obj[k] for _, k in order]
    if len(vals) > 8 and all(type(v) is float for v in vals):
        # bulk path for feature dicts: same bytes as _enc_float per value, packed by numpy
        raw = _bulk_floats(vals)
        for i, (kb, _) in enumerate(order):
            out += [kb, raw[9 * i : 9 * i + 9]]
        return
    for (kb, _), v in zip(order, vals):
        out.append(kb)
        _encode(v, out)


class Encoded:
    """Bytes already in canonical form (from :func:`float_dict_rows`), spliced into an encoding as they are.

    Why: a bulk encoder can produce the canonical bytes of one part of many objects at once
    (a window's feature dict) and let :func:`canonical_bytes` encode the rest, so the
    result is the same bytes by construction. Never hashed on its own.
    """

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


def _enc_encoded(obj, out):
    out.append(obj.data)


def float_dict_rows(keys: Sequence[str], values: np.ndarray) -> list[bytes]:
    """``canonical_bytes(dict(zip(keys, row)))`` for every row of ``values`` (n × len(keys), floats).

    Same bytes as :func:`_enc_dict` writes for a dict of Python floats (keys sorted by their
    canonical bytes; NaN and -0.0 folded), built for all rows with numpy: the constant
    parts once, each value's big-endian float64 bytes copied into place.
    """
    v = np.asarray(values, dtype=np.float64)
    n, k = v.shape[0], len(keys)
    if v.shape != (n, k):
        raise ValueError(f"float_dict_rows: values of shape {v.shape} for {k} keys")
    order = sorted(range(k), key=lambda j: _key_bytes(keys[j]))
    kbs = [_key_bytes(keys[j]) for j in order]
    be = np.ascontiguousarray(v[:, order], dtype=">f8")
    be[be != be] = np.nan
    be[be == 0.0] = 0.0
    template = b"m" + _len(k) + b"".join(kb + b"f" + bytes(8) for kb in kbs)
    rows = np.empty((n, len(template)), dtype=np.uint8)
    rows[:] = np.frombuffer(template, dtype=np.uint8)
    pos = 9 + np.cumsum([0] + [len(kb) + 9 for kb in kbs[:-1]]) + np.array([len(kb) + 1 for kb in kbs], dtype=int)
    cells = be.view(np.uint8).reshape(n, k, 8)
    for j, p in enumerate(pos.tolist()):
        rows[:, p:p + 8] = cells[:, j]
    flat, width = rows.tobytes(), len(template)
    return [flat[i * width:(i + 1) * width] for i in range(n)]


# Exact-type dispatch for the common types (the hot path: feature dicts of floats);
# everything else (numpy scalars and arrays, Decimal, datetimes, dataclasses) goes through
# the isinstance chain below. Both paths produce the same bytes for the same value.
_FAST = {
    type(None): _enc_none, bool: _enc_bool, int: _enc_int, float: _enc_float, str: _enc_str,
    list: _enc_seq, tuple: _enc_seq, dict: _enc_dict, Encoded: _enc_encoded,
}


def _encode(obj: Any, out: list[bytes]) -> None:
    fast = _FAST.get(type(obj))
    if fast is not None:
        fast(obj, out)
    elif obj is True or obj is False or isinstance(obj, np.bool_):
        _enc_bool(obj, out)
    elif isinstance(obj, (int, np.integer)):
        _enc_int(obj, out)
    elif isinstance(obj, (float, np.floating)):
        _enc_float(obj, out)
    elif isinstance(obj, Decimal):
        if not obj.is_finite():
            raise ValueError(f"cannot hash non-finite Decimal {obj!r}")
        s = format(obj.normalize(), "f").encode()
        out += [b"d", _len(len(s)), s]
    elif isinstance(obj, str):
        _enc_str(obj, out)
    elif isinstance(obj, (bytes, bytearray, memoryview)):
        b = bytes(obj)
        out += [b"b", _len(len(b)), b]
    elif isinstance(obj, dt.datetime):
        if obj.tzinfo is None:
            raise ValueError("cannot hash a naive datetime: attach a time zone (UTC)")
        _encode(obj.astimezone(dt.timezone.utc).isoformat(), out)
    elif isinstance(obj, dt.date):
        _encode(obj.isoformat(), out)
    elif isinstance(obj, uuid.UUID):
        _encode(str(obj), out)
    elif isinstance(obj, np.ndarray):
        if obj.dtype.kind == "f":
            flat = np.ascontiguousarray(obj, dtype=">f8").copy()
            flat[np.isnan(flat)] = np.nan
            flat[flat == 0.0] = 0.0
            out += [b"A", _len(obj.ndim)] + [_len(s) for s in obj.shape] + [flat.tobytes()]
        else:
            _encode(obj.tolist(), out)
    elif isinstance(obj, (list, tuple)):
        _enc_seq(obj, out)
    elif isinstance(obj, dict):
        _enc_dict(obj, out)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        _encode({f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}, out)
    else:
        raise TypeError(f"cannot canonically encode {type(obj).__name__}: {obj!r}")


def canonical_bytes(obj: Any) -> bytes:
    """The canonical encoding of ``obj`` (see module docstring)."""
    out: list[bytes] = []
    _encode(obj, out)
    return b"".join(out)


def content_hash(obj: Any) -> str:
    """sha256 hex digest of the canonical encoding of ``obj``."""
    return hashlib.sha256(canonical_bytes(obj)).hexdigest()


def content_id(kind: str, obj: Any) -> str:
    """A uuid5 derived from ``kind`` and the canonical content: same content, same id."""
    return str(uuid.uuid5(THUNDERLINE_NAMESPACE, f"{kind}:{content_hash(obj)}"))


def content_ids_of_lists(kind: str, columns: Sequence[str | int | Sequence[str | int]]) -> list[str]:
    """``content_id(kind, [c[i] for c in columns])`` for every row i, at a few microseconds per row.

    Each column holds ``str`` or ``int`` values; a bare ``str``/``int`` is the same
    value on every row. Why a separate path: window, trace and lineage-edge ids are
    lists of strings and ints derived by the hundred thousand; this writes their
    canonical bytes directly (one comprehension per column) and formats
    the uuid5s with numpy. Tests hold it equal to :func:`content_id`.
    """
    raw = _digests_of_lists(kind, columns)
    return _uuid_strings(raw) if raw.shape[0] else []


def time_ordered_id(kind: str, time_us: int, obj: Any) -> str:
    """A deterministic, time-ordered uuid (UUIDv7 layout) for content ``obj`` that happened at ``time_us``.

    The first 48 bits are ``time_us`` in milliseconds since the epoch (big-endian, as
    UUIDv7), the version nibble is 7, and the remaining 74 bits are those of
    :func:`content_id` for the same (kind, content). Why: ids that sort by time make
    every insert into a primary-key B-tree an append near its right edge instead of a
    random page, while staying a pure function of the content (same input, same id).
    """
    raw = np.frombuffer(uuid.UUID(content_id(kind, obj)).bytes, dtype=np.uint8).reshape(1, 16).copy()
    return _uuid_strings(raw, version=7, time_us=np.array([time_us], dtype=np.int64))[0]


def time_ordered_ids_of_lists(kind: str, time_us: Sequence[int] | np.ndarray,
                              columns: Sequence[str | int | Sequence[str | int]]) -> list[str]:
    """:func:`time_ordered_id` for every row, in bulk (as :func:`content_ids_of_lists`)."""
    raw = _digests_of_lists(kind, columns)
    t = np.asarray(time_us, dtype=np.int64).reshape(-1)
    if t.shape[0] != raw.shape[0]:
        raise ValueError(f"time_ordered_ids_of_lists: {t.shape[0]} times for {raw.shape[0]} rows")
    return _uuid_strings(raw, version=7, time_us=t) if raw.shape[0] else []


def _digests_of_lists(kind: str, columns) -> np.ndarray:
    """n × 16 sha1 prefixes (uuid5 input) of every row's canonical content."""
    scalar = (str, int)
    lengths = {len(c) for c in columns if not isinstance(c, scalar)}
    if len(lengths) > 1:
        raise ValueError(f"content_ids_of_lists: columns of different lengths {sorted(lengths)}")
    n = lengths.pop() if lengths else 1
    if n == 0:
        return np.zeros((0, 16), dtype=np.uint8)
    header = b"l" + _LEN(len(columns))
    cols = [[_scalar_bytes(c)] * n if isinstance(c, scalar) else _column_bytes(c) for c in columns]
    sha256, sha1 = hashlib.sha256, hashlib.sha1
    prefix = THUNDERLINE_NAMESPACE.bytes + f"{kind}:".encode()
    digests = b"".join(sha1(prefix + sha256(header + b"".join(parts)).hexdigest().encode()).digest()[:16]
                       for parts in zip(*cols))
    return np.frombuffer(digests, dtype=np.uint8).reshape(-1, 16).copy()


def _scalar_bytes(v) -> bytes:
    if type(v) is str:
        raw = v.encode("utf-8")
        return b"s" + _LEN(len(raw)) + raw
    if type(v) is int:
        raw = str(v).encode()
        return b"i" + _LEN(len(raw)) + raw
    raise TypeError(f"content_ids_of_lists: expected str or int, got {type(v).__name__}: {v!r}")


def _column_bytes(values) -> list[bytes]:
    """Canonical bytes of every value of a column: one comprehension when the column is all str or
    all int (the common case), one value at a time (with the type check) otherwise."""
    values = list(values)
    kinds = set(map(type, values))
    if kinds == {str}:
        raw = [v.encode("utf-8") for v in values]
        return [b"s" + _LEN(len(r)) + r for r in raw]
    if kinds == {int}:
        raw = [str(v).encode() for v in values]
        return [b"i" + _LEN(len(r)) + r for r in raw]
    return [_scalar_bytes(v) for v in values]


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_UUID_POS = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])


def _uuid_strings(raw: np.ndarray, version: int = 5, time_us: np.ndarray | None = None) -> list[str]:
    """uuid text (version and variant bits set, 8-4-4-4-12 hex) of n × 16 sha1 prefixes, as ``uuid.uuid5`` does;
    with ``time_us``, the first 6 bytes become the time in ms (UUIDv7 layout)."""
    if time_us is not None:
        ms = (time_us // 1000).astype(">u8").view(np.uint8).reshape(-1, 8)
        if (time_us < 0).any() or (time_us // 1000 >= 1 << 48).any():
            raise ValueError("time-ordered ids need times in [1970, 10889) (48-bit milliseconds)")
        raw[:, :6] = ms[:, 2:]
    raw[:, 6] = (raw[:, 6] & 0x0F) | (version << 4)
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexed = np.empty((raw.shape[0], 32), dtype=np.uint8)
    hexed[:, 0::2] = _HEX[raw >> 4]
    hexed[:, 1::2] = _HEX[raw & 0x0F]
    out = np.full((raw.shape[0], 36), ord("-"), dtype=np.uint8)
    out[:, _UUID_POS] = hexed
    return out.view("S36").ravel().astype("U36").tolist()


def file_sha256(path, chunk_size: int = 1 << 20) -> str:
    """sha256 of a file's bytes, streamed in bounded chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_size):
            h.update(chunk)
    return h.hexdigest()
