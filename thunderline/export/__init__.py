"""Training-slice export (seed name: Thundergate): Parquet features + labels + provenance, walk-forward splits.

    result = build_slice(session, SliceSpec("momentum", months=("2025-03",)), lake_root)
    data = open_slice(result.path)          # sha256 of every file checked
    train, validation = data.split()        # the last walk-forward fold
"""

from thunderline.export.slices import (
    SLICE_SCHEMA_VERSION,
    SliceError,
    SliceResult,
    SliceSpec,
    TrainingSlice,
    build_slice,
    open_slice,
    slice_dir,
    slice_frame,
    walk_forward,
    write_slice,
)

__all__ = ["SLICE_SCHEMA_VERSION", "SliceError", "SliceResult", "SliceSpec", "TrainingSlice", "build_slice",
           "open_slice", "slice_dir", "slice_frame", "walk_forward", "write_slice"]
