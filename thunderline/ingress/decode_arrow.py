"""Arrow IPC (stream or file) → the wire schema (columns must cast safely to the TICK_SCHEMA types)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from thunderline.ingress.problems import PayloadError, Problem
from thunderline.ingress.wire import _ALLOWED, _WIRE, _arr
from thunderline.market.canonical import REQUIRED_CSV_COLUMNS


def _from_arrow(body: bytes, *, stream: bool) -> pa.Table:
    try:
        reader = ipc.open_stream(body) if stream else ipc.open_file(body)
        t = reader.read_all()
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        kind = "stream" if stream else "file"
        raise PayloadError("invalid_ticks", [Problem(None, "*", f"not an Arrow IPC {kind}: {exc}")]) from None
    names = set(t.column_names)
    unknown = sorted(names - _ALLOWED)
    missing = [c for c in REQUIRED_CSV_COLUMNS if c not in names]
    if unknown or missing:
        raise PayloadError("invalid_ticks", [Problem(None, c, "unknown column") for c in unknown]
                           + [Problem(None, c, "required column is missing") for c in missing])
    arrays = []
    for f in _WIRE:
        if f.name not in names:
            arrays.append(pa.nulls(t.num_rows, f.type))
            continue
        col = _arr(t.column(f.name))
        try:
            arrays.append(col if col.type == f.type else pc.cast(col, f.type, safe=True))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            raise PayloadError("invalid_ticks", [Problem(None, f.name, f"type {col.type} does not cast to {f.type}: {exc}")]) from None
    return pa.Table.from_arrays(arrays, schema=_WIRE)
