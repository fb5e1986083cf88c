"""JSON lines → the wire schema (fast Arrow reader; the exact per-line diagnosis only when it refuses)."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from thunderline.ingress.problems import MAX_PROBLEMS, PayloadError, Problem, line_numbers
from thunderline.ingress.wire import _BOOK_FIELDS, _FLOAT_FIELDS, _INT_FIELDS, _STR_FIELDS, _WIRE
from thunderline.market.canonical import CANONICAL_COLUMNS


def _from_json_lines(body: bytes) -> pa.Table:
    if not body.strip():
        raise PayloadError("empty", [Problem(None, "*", "the body holds no ticks")])
    try:
        t = pj.read_json(io.BytesIO(body), read_options=pj.ReadOptions(block_size=max(1 << 20, len(body) + 1)),
                         parse_options=pj.ParseOptions(explicit_schema=_WIRE, unexpected_field_behavior="error"))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        problems = _diagnose_json_lines(body)
        if not problems:
            problems = [Problem(None, "*", "not valid canonical JSON lines (the body as a whole was refused and "
                                           "no single line is at fault: check the encoding is UTF-8 and lines end in \\n)")]
        raise PayloadError("invalid_ticks", problems) from None
    nan_problems = []
    for name in _FLOAT_FIELDS:
        col = t.column(name)
        bad = pc.fill_null(pc.is_nan(col), False).to_numpy(zero_copy_only=False)
        nan_problems += [(int(i), name) for i in np.flatnonzero(bad)]
    for name in _BOOK_FIELDS:
        flat = pc.list_flatten(t.column(name))
        if len(flat):
            bad = pc.fill_null(pc.is_nan(flat), False).to_numpy(zero_copy_only=False)
            if bad.any():
                parents = pc.list_parent_indices(t.column(name)).to_numpy(zero_copy_only=False)
                nan_problems += [(int(i), name) for i in np.unique(parents[bad])]
    if nan_problems:
        lines = line_numbers(body, 0)
        raise PayloadError("invalid_ticks", [Problem(lines(i), f, "NaN is not a JSON number; use null for absent")
                                                  for i, f in sorted(nan_problems)])
    return t


_JSON_KIND = {**{n: "string" for n in _STR_FIELDS + ("tenant_id",)}, **{n: "integer" for n in _INT_FIELDS},
              **{n: "number" for n in _FLOAT_FIELDS}, **{n: "array of numbers" for n in _BOOK_FIELDS}}


def _json_type_ok(kind: str, v: Any) -> bool:
    if v is None:
        return True
    if kind == "string":
        return isinstance(v, str)
    if kind == "integer":
        return isinstance(v, int) and not isinstance(v, bool) and -(2**63) <= v < 2**63
    if kind == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return isinstance(v, list) and all(x is None or (isinstance(x, (int, float)) and not isinstance(x, bool)) for x in v)


_MAX_JSON_DEPTH = 8


def _nesting_depth(raw: bytes) -> int:
    """Deepest ``[``/``{`` nesting of one line, counted without parsing (vectorised; brackets inside
    strings count too, which can only over-estimate — enough to refuse before a recursive parser runs)."""
    b = np.frombuffer(raw, dtype=np.uint8)
    step = (b == 0x5B).astype(np.int32) + (b == 0x7B) - (b == 0x5D) - (b == 0x7D)
    return int(np.cumsum(step).max(initial=0))


def _diagnose_json_lines(body: bytes) -> list[Problem]:
    """The slow, exact path: find the lines and fields the fast parser refused."""
    out: list[Problem] = []
    for n, raw in enumerate(body.split(b"\n"), start=1):
        if not raw.strip():
            continue
        depth = _nesting_depth(raw)
        if depth > _MAX_JSON_DEPTH:
            out.append(Problem(n, "*", f"JSON nested {depth} levels deep; a tick line is an object of scalars and "
                                       f"arrays of numbers (at most {_MAX_JSON_DEPTH} levels)",
                               raw[:80].decode("utf-8", "replace")))
            continue
        try:
            obj = json.loads(raw, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(f"{c} is not a JSON number")))
        except (ValueError, UnicodeDecodeError) as exc:
            out.append(Problem(n, "*", f"not valid JSON: {exc}", raw[:80].decode("utf-8", "replace")))
            continue
        if not isinstance(obj, dict):
            out.append(Problem(n, "*", f"expected a JSON object, got {type(obj).__name__}"))
            continue
        for k, v in obj.items():
            kind = _JSON_KIND.get(k)
            if kind is None:
                out.append(Problem(n, k, f"unknown field (expected {', '.join(CANONICAL_COLUMNS)})"))
            elif not _json_type_ok(kind, v):
                out.append(Problem(n, k, f"expected {kind} or null", json.dumps(v)[:80]))
        if len(out) >= MAX_PROBLEMS:
            break
    return out
