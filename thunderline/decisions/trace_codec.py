"""Canonical bytes and content hashes of a whole batch of decision traces, without trace objects.

Why: a DecisionTrace's hash is sha256 over ``canonical_bytes(trace.hashed_content())``
(see :mod:`thunderline.hashing`). Building a dict of dicts per window and walking it
in Python costs more than everything else a decision does. The canonical encoding
is fully specified, though, so this module writes *the same bytes* straight from
the batch's arrays with one numba kernel, and only sha256 itself runs per trace.

How the bytes are laid out is not hand-copied from ``hashing.py``: the order of
dict keys and every constant piece (keys, tags, lengths, names, versions, flags)
is derived here by calling ``canonical_bytes`` on the real keys and values, so the
two encoders cannot drift apart silently. Tests compare both on real batches.

The kernel runs a tiny program per trace: ``(op, arg)`` pairs that say "copy
constant fragment *arg*", "write this trace's feature-window id", "write layer
*arg*'s kept experts" and so on. Per-action dicts use a second program with
holes for the action, weight and confidence.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
from numba import njit

from thunderline.contracts import ACTIONS
from thunderline.hashing import _key_bytes, canonical_bytes

# -- top-level ops
OP_CONST, OP_FW, OP_SYMBOL, OP_START, OP_END, OP_GATES, OP_SELECTED, OP_ACTIONS = 0, 1, 2, 3, 4, 5, 6, 7
OP_BLENDED, OP_BCONF, OP_FLAGS, OP_EMBEDDING, OP_BSCORE = 8, 9, 10, 11, 12
# -- per-action ops
AOP_CONST, AOP_ACTION, AOP_WEIGHT, AOP_CONF, AOP_SCORE = 0, 1, 2, 3, 4

#: The hashed fields of a trace (DecisionTrace.hashed_content) and of one expert action.
TRACE_KEYS = ("tenant_id", "feature_window_id", "symbol", "window_start_us", "window_end_us", "router_version",
              "gate_scores", "selected_experts", "expert_actions", "blended_action", "blended_confidence",
              "blended_score", "risk_flags", "embedding")
ACTION_KEYS = ("layer", "expert", "model_version", "alias", "action", "confidence", "weight", "flags", "score")


@dataclass(frozen=True)
class ActionColumn:
    """One expert slot a trace can list: a (layer, pool position) of a live expert, or a shadow (layer -1)."""

    layer: int
    expert: str
    model_version: str
    alias: str
    flags: tuple[str, ...]


class _Fragments:
    """Constant byte strings, interned, laid out in one uint8 pool for the kernel."""

    def __init__(self) -> None:
        self._index: dict[bytes, int] = {}
        self._parts: list[bytes] = []

    def add(self, b: bytes) -> int:
        i = self._index.get(b)
        if i is None:
            i = self._index[b] = len(self._parts)
            self._parts.append(b)
        return i

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        pool = np.frombuffer(b"".join(self._parts) or b"\0", dtype=np.uint8)
        off = np.zeros(len(self._parts) + 1, dtype=np.int64)
        np.cumsum([len(p) for p in self._parts], out=off[1:])
        return pool, off


def _ordered(keys: Sequence[str]) -> list[str]:
    return sorted(keys, key=_key_bytes)


def _list_header(n: int) -> bytes:
    return canonical_bytes([None] * n)[: 9]  # b"l" + 8-byte length


def _dict_header(n: int) -> bytes:
    return canonical_bytes({str(i): None for i in range(n)})[: 9]  # b"m" + 8-byte length


def _codes(values: np.ndarray, frags: _Fragments) -> np.ndarray:
    """Fragment id of each value's canonical encoding (values repeat: actions, symbols).

    pandas.factorize hashes the Python strings as they are; numpy's fixed-width
    unicode would silently drop trailing NUL characters.
    """
    arr = np.asarray(values, dtype=object)
    if arr.size == 0:
        return np.zeros(arr.shape, np.int64)
    inv, uniq = pd.factorize(arr.ravel(), use_na_sentinel=False)
    for u in uniq:
        if not isinstance(u, str):
            raise TypeError(f"trace_codec: expected strings, got {type(u).__name__}: {u!r}")
    table = np.array([frags.add(canonical_bytes(str(u))) for u in uniq], dtype=np.int64)
    return table[inv].reshape(arr.shape)


def _string_column(values: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Canonical encodings of n strings, concatenated, with offsets."""
    raw = [v.encode("utf-8") for v in values]
    lens = np.fromiter((len(r) for r in raw), dtype=np.int64, count=len(raw))
    body = np.frombuffer(b"".join(raw) or b"\0", dtype=np.uint8)
    off = np.zeros(len(raw) + 1, dtype=np.int64)
    np.cumsum(lens, out=off[1:])
    return body, off


def encode_batch(
    *,
    tenant_id: str,
    router_version: str,
    feature_window_ids: Sequence[str],
    symbols: Sequence[str],
    window_start_us: np.ndarray,
    window_end_us: np.ndarray,
    layer_scores: Sequence[np.ndarray],
    layer_kept: Sequence[tuple[np.ndarray, np.ndarray]],
    columns: Sequence[ActionColumn],
    actions: np.ndarray,
    confidences: np.ndarray,
    weights: np.ndarray,
    n_live: int,
    blended_actions: np.ndarray,
    blended_confidence: np.ndarray,
    risk_flags: Sequence[Sequence[str]],
    embedding: np.ndarray,
    action_codes: np.ndarray | None = None,
    scores: np.ndarray | None = None,
    blended_score: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Canonical bytes of every trace of a batch: ``(buffer, offsets)``; trace t is ``buffer[off[t]:off[t+1]]``.

    ``columns``: the live slots, layer by layer in pool order (``n_live`` of them), then the shadows.
    ``actions``/``confidences``/``weights``: n × len(columns); a live slot's weight is its layer weight.
    ``layer_kept``: per layer, (kept_experts, kept_offsets) as in :class:`~thunderline.routing.Assignment`.
    ``action_codes``: optionally, ``actions`` as indices into ``ACTIONS`` (saves hashing every string).
    ``scores``: n × len(columns) signed expert scores; ``blended_score``: n (both default to zeros).
    """
    n = len(feature_window_ids)
    frags = _Fragments()
    # the fragment pool is filled in a fixed order (column programs, expert names, trace program, codes):
    # fragment ids are part of the programs, so the order is part of the encoding
    aprog, aprog_len, name_frag = _action_programs(columns, frags)
    program = _trace_program(tenant_id, router_version, frags)
    if action_codes is not None:
        table = np.array([frags.add(canonical_bytes(a)) for a in ACTIONS], dtype=np.int64)
        act_code = table[np.asarray(action_codes, dtype=np.intp)]
    else:
        act_code = _codes(actions, frags) if actions.size else np.zeros(actions.shape, np.int64)
    blended_code = _codes(blended_actions, frags)
    sym_code = _codes(np.asarray(symbols, dtype=object), frags)
    flag_code, flag_off = _flag_codes(risk_flags, n, frags)
    fw_body, fw_off = _string_column(feature_window_ids)
    pool, frag_off = frags.arrays()
    if scores is None:
        scores = np.zeros(np.shape(confidences))
    if blended_score is None:
        blended_score = np.zeros(n)
    S, layer_off, kept_all, kept_off = _layer_layout(layer_scores, layer_kept, n)

    return _encode(program, aprog, aprog_len, name_frag, pool, frag_off, fw_body, fw_off, sym_code,
                   np.ascontiguousarray(window_start_us, dtype=np.int64), np.ascontiguousarray(window_end_us, dtype=np.int64),
                   _float_bits(S), layer_off, kept_all.astype(np.int64), kept_off, int(n_live),
                   np.ascontiguousarray(act_code, dtype=np.int64), _float_bits(confidences), _float_bits(weights),
                   blended_code.astype(np.int64), _float_bits(blended_confidence), flag_code.astype(np.int64),
                   flag_off, _float_bits(embedding), _float_bits(scores), _float_bits(blended_score))


def _action_programs(columns: Sequence[ActionColumn], frags: _Fragments) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column, the program of its action dict: constant fragments with holes for action, weight,
    confidence and score (the structure is the same for every column; only the constants differ).

    Returns the programs padded to one width, their lengths and each column's expert-name fragment.
    """
    akeys = _ordered(ACTION_KEYS)
    hole = {"action": AOP_ACTION, "weight": AOP_WEIGHT, "confidence": AOP_CONF, "score": AOP_SCORE}
    col_programs = []
    for c in columns:
        values = {"layer": c.layer, "expert": c.expert, "model_version": c.model_version, "alias": c.alias,
                  "flags": list(c.flags)}
        prog: list[tuple[int, int]] = []
        pending = _dict_header(len(akeys))
        for k in akeys:
            pending += _key_bytes(k)
            if k in hole:
                prog.append((AOP_CONST, frags.add(pending)))
                prog.append((hole[k], 0))
                pending = b""
            else:
                pending += canonical_bytes(values[k])
        prog.append((AOP_CONST, frags.add(pending)))
        col_programs.append(prog)
    width = max((len(p) for p in col_programs), default=1)
    aprog = np.zeros((max(len(columns), 1), width, 2), dtype=np.int64)
    aprog_len = np.zeros(max(len(columns), 1), dtype=np.int64)
    for g, p in enumerate(col_programs):
        aprog[g, : len(p)] = p
        aprog_len[g] = len(p)
    name_frag = np.array([frags.add(canonical_bytes(c.expert)) for c in columns] or [0], dtype=np.int64)
    return aprog, aprog_len, name_frag


def _trace_program(tenant_id: str, router_version: str, frags: _Fragments) -> np.ndarray:
    """The top-level program: the trace dict's keys in canonical order, tenant and router version
    folded into the constants (the same for the whole batch), a field op for every per-row value."""
    const = {"tenant_id": canonical_bytes(tenant_id), "router_version": canonical_bytes(router_version)}
    field_op = {"feature_window_id": OP_FW, "symbol": OP_SYMBOL, "window_start_us": OP_START,
                "window_end_us": OP_END, "gate_scores": OP_GATES, "selected_experts": OP_SELECTED,
                "expert_actions": OP_ACTIONS, "blended_action": OP_BLENDED, "blended_confidence": OP_BCONF,
                "blended_score": OP_BSCORE, "risk_flags": OP_FLAGS, "embedding": OP_EMBEDDING}
    prog = []
    pending = _dict_header(len(TRACE_KEYS))
    for k in _ordered(TRACE_KEYS):
        pending += _key_bytes(k)
        if k in const:
            pending += const[k]
            continue
        prog.append((OP_CONST, frags.add(pending)))
        prog.append((field_op[k], 0))
        pending = b""
    if pending:
        prog.append((OP_CONST, frags.add(pending)))
    return np.array(prog, dtype=np.int64)


def _flag_codes(risk_flags: Sequence[Sequence[str]], n: int, frags: _Fragments) -> tuple[np.ndarray, np.ndarray]:
    """Every row's risk flags as fragment ids, flattened, with per-row offsets."""
    flat_flags = [f for fl in risk_flags for f in fl]
    flag_code = _codes(np.array(flat_flags, dtype=object), frags) if flat_flags else np.zeros(0, np.int64)
    flag_off = np.zeros(n + 1, dtype=np.int64)
    np.cumsum([len(fl) for fl in risk_flags], out=flag_off[1:])
    return flag_code, flag_off


def _layer_layout(layer_scores: Sequence[np.ndarray], layer_kept: Sequence[tuple[np.ndarray, np.ndarray]],
                  n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The gate scores of all layers side by side, each layer's first column, and the kept experts of
    all layers as column indices into that matrix with per-layer, per-row offsets."""
    L = len(layer_scores)
    layer_off = np.zeros(L + 1, dtype=np.int64)
    np.cumsum([s.shape[1] for s in layer_scores], out=layer_off[1:])
    S = np.hstack(layer_scores) if L else np.zeros((n, 0))
    kept_all = np.concatenate([k + layer_off[l] for l, (k, _) in enumerate(layer_kept)]) if L else np.zeros(0, np.int64)
    kept_off = np.zeros((max(L, 1), n + 1), dtype=np.int64)
    base = 0
    for l, (k, o) in enumerate(layer_kept):
        kept_off[l] = o + base
        base += k.shape[0]
    return S, layer_off, kept_all, kept_off


def _float_bits(a: np.ndarray) -> np.ndarray:
    """IEEE-754 bits of a float64 array with every NaN folded to the quiet NaN and -0.0 to 0.0 (hashing.py)."""
    a = np.array(a, dtype=np.float64, order="C", copy=True)
    a[np.isnan(a)] = np.nan
    a[a == 0.0] = 0.0
    return a.view(np.uint64)


def hashes(buffer: np.ndarray, offsets: np.ndarray) -> list[str]:
    """sha256 hex digest of every trace's canonical bytes (hashlib releases nothing faster than this)."""
    mv = memoryview(buffer)
    off = offsets.tolist()
    sha = hashlib.sha256
    return [sha(mv[off[t]:off[t + 1]]).hexdigest() for t in range(len(off) - 1)]


# --------------------------------------------------------------------------- kernel

@njit(cache=True, nogil=True, inline="always")
def _put_u64(out, pos, v):
    for i in range(8):
        out[pos + i] = (v >> np.uint64(56 - 8 * i)) & np.uint64(0xFF)
    return pos + 8


@njit(cache=True, nogil=True, inline="always")
def _put_float(out, pos, bits):
    """b"f" + big-endian float64 (``bits`` already canonical, see :func:`_float_bits`)."""
    out[pos] = 102  # "f"
    return _put_u64(out, pos + 1, bits)


@njit(cache=True, nogil=True, inline="always")
def _put_header(out, pos, tag, n):
    out[pos] = tag
    return _put_u64(out, pos + 1, np.uint64(n))


@njit(cache=True, nogil=True, inline="always")
def _put_frag(out, pos, pool, frag_off, f):
    a, b = frag_off[f], frag_off[f + 1]
    out[pos:pos + (b - a)] = pool[a:b]
    return pos + (b - a)


@njit(cache=True, nogil=True, inline="always")
def _int_digits(v):
    n = 1
    x = -v if v < 0 else v
    while x >= 10:
        x //= 10
        n += 1
    return n + (1 if v < 0 else 0)


@njit(cache=True, nogil=True, inline="always")
def _put_int(out, pos, v):
    """b"i" + length + decimal digits, as str(int) writes them."""
    nd = _int_digits(v)
    pos = _put_header(out, pos, 105, nd)  # "i"
    x = -v if v < 0 else v
    end = pos + nd
    for i in range(nd):
        out[end - 1 - i] = 48 + x % 10
        x //= 10
    if v < 0:
        out[pos] = 45  # "-"
    return end


@njit(cache=True, nogil=True, inline="always")
def _frag_len(frag_off, f):
    return frag_off[f + 1] - frag_off[f]


@njit(cache=True, nogil=True)
def _trace_size(t, program, aprog, aprog_len, name_frag, frag_off, fw_off, sym_code, starts, ends, layer_off,
                kept_all, kept_off, n_live, act_code, blended_code, flag_code, flag_off, emb_width):
    size = 0
    n_cols = act_code.shape[1]
    L = layer_off.shape[0] - 1
    for p in range(program.shape[0]):
        op, arg = program[p, 0], program[p, 1]
        if op == OP_CONST:
            size += _frag_len(frag_off, arg)
        elif op == OP_FW:
            size += 9 + fw_off[t + 1] - fw_off[t]
        elif op == OP_SYMBOL:
            size += _frag_len(frag_off, sym_code[t])
        elif op == OP_START:
            size += 9 + _int_digits(starts[t])
        elif op == OP_END:
            size += 9 + _int_digits(ends[t])
        elif op == OP_GATES:
            size += 9 + L * 9 + 9 * layer_off[L]
        elif op == OP_SELECTED:
            size += 9
            for l in range(L):
                size += 9
                for q in range(kept_off[l, t], kept_off[l, t + 1]):
                    size += _frag_len(frag_off, name_frag[kept_all[q]])
        elif op == OP_ACTIONS:
            size += 9
            for l in range(L):
                for q in range(kept_off[l, t], kept_off[l, t + 1]):
                    size += _action_size(t, kept_all[q], aprog, aprog_len, frag_off, act_code)
            for g in range(n_live, n_cols):
                size += _action_size(t, g, aprog, aprog_len, frag_off, act_code)
        elif op == OP_BLENDED:
            size += _frag_len(frag_off, blended_code[t])
        elif op == OP_BCONF or op == OP_BSCORE:
            size += 9
        elif op == OP_FLAGS:
            size += 9
            for q in range(flag_off[t], flag_off[t + 1]):
                size += _frag_len(frag_off, flag_code[q])
        elif op == OP_EMBEDDING:
            size += 9 + 9 * emb_width
    return size


@njit(cache=True, nogil=True, inline="always")
def _action_size(t, g, aprog, aprog_len, frag_off, act_code):
    size = 0
    for p in range(aprog_len[g]):
        op, arg = aprog[g, p, 0], aprog[g, p, 1]
        if op == AOP_CONST:
            size += _frag_len(frag_off, arg)
        elif op == AOP_ACTION:
            size += _frag_len(frag_off, act_code[t, g])
        else:
            size += 9
    return size


@njit(cache=True, nogil=True, inline="always")
def _put_action(out, pos, t, g, aprog, aprog_len, pool, frag_off, act_code, conf, weights, scores):
    for p in range(aprog_len[g]):
        op, arg = aprog[g, p, 0], aprog[g, p, 1]
        if op == AOP_CONST:
            pos = _put_frag(out, pos, pool, frag_off, arg)
        elif op == AOP_ACTION:
            pos = _put_frag(out, pos, pool, frag_off, act_code[t, g])
        elif op == AOP_WEIGHT:
            pos = _put_float(out, pos, weights[t, g])
        elif op == AOP_SCORE:
            pos = _put_float(out, pos, scores[t, g])
        else:
            pos = _put_float(out, pos, conf[t, g])
    return pos


@njit(cache=True, nogil=True)
def _encode(program, aprog, aprog_len, name_frag, pool, frag_off, fw_body, fw_off, sym_code, starts, ends, S,
            layer_off, kept_all, kept_off, n_live, act_code, conf, weights, blended_code, bconf, flag_code,
            flag_off, emb, scores, bscore):
    n = starts.shape[0]
    n_cols = act_code.shape[1]
    L = layer_off.shape[0] - 1
    emb_width = emb.shape[1]
    offsets = np.zeros(n + 1, dtype=np.int64)
    for t in range(n):
        offsets[t + 1] = offsets[t] + _trace_size(t, program, aprog, aprog_len, name_frag, frag_off, fw_off,
                                                  sym_code, starts, ends, layer_off, kept_all, kept_off, n_live,
                                                  act_code, blended_code, flag_code, flag_off, emb_width)
    out = np.empty(offsets[n], dtype=np.uint8)
    for t in range(n):
        pos = offsets[t]
        for p in range(program.shape[0]):
            op, arg = program[p, 0], program[p, 1]
            if op == OP_CONST:
                pos = _put_frag(out, pos, pool, frag_off, arg)
            elif op == OP_FW:
                a, b = fw_off[t], fw_off[t + 1]
                pos = _put_header(out, pos, 115, b - a)  # "s"
                out[pos:pos + (b - a)] = fw_body[a:b]
                pos += b - a
            elif op == OP_SYMBOL:
                pos = _put_frag(out, pos, pool, frag_off, sym_code[t])
            elif op == OP_START:
                pos = _put_int(out, pos, starts[t])
            elif op == OP_END:
                pos = _put_int(out, pos, ends[t])
            elif op == OP_GATES:
                pos = _put_header(out, pos, 108, L)  # "l"
                for l in range(L):
                    pos = _put_header(out, pos, 108, layer_off[l + 1] - layer_off[l])
                    for j in range(layer_off[l], layer_off[l + 1]):
                        pos = _put_float(out, pos, S[t, j])
            elif op == OP_SELECTED:
                pos = _put_header(out, pos, 108, L)
                for l in range(L):
                    pos = _put_header(out, pos, 108, kept_off[l, t + 1] - kept_off[l, t])
                    for q in range(kept_off[l, t], kept_off[l, t + 1]):
                        pos = _put_frag(out, pos, pool, frag_off, name_frag[kept_all[q]])
            elif op == OP_ACTIONS:
                count = n_cols - n_live
                for l in range(L):
                    count += kept_off[l, t + 1] - kept_off[l, t]
                pos = _put_header(out, pos, 108, count)
                for l in range(L):
                    for q in range(kept_off[l, t], kept_off[l, t + 1]):
                        pos = _put_action(out, pos, t, kept_all[q], aprog, aprog_len, pool, frag_off, act_code,
                                          conf, weights, scores)
                for g in range(n_live, n_cols):
                    pos = _put_action(out, pos, t, g, aprog, aprog_len, pool, frag_off, act_code, conf, weights,
                                      scores)
            elif op == OP_BLENDED:
                pos = _put_frag(out, pos, pool, frag_off, blended_code[t])
            elif op == OP_BCONF:
                pos = _put_float(out, pos, bconf[t])
            elif op == OP_BSCORE:
                pos = _put_float(out, pos, bscore[t])
            elif op == OP_FLAGS:
                pos = _put_header(out, pos, 108, flag_off[t + 1] - flag_off[t])
                for q in range(flag_off[t], flag_off[t + 1]):
                    pos = _put_frag(out, pos, pool, frag_off, flag_code[q])
            elif op == OP_EMBEDDING:
                pos = _put_header(out, pos, 108, emb_width)
                for j in range(emb_width):
                    pos = _put_float(out, pos, emb[t, j])
    return out, offsets


def reference_bytes(trace: Any) -> bytes:
    """What the kernel must reproduce for one trace (the definition, used by tests)."""
    return canonical_bytes(trace.hashed_content())
