"""Training slices (seed name: Thundergate): features + realised labels + provenance as Parquet.

A :class:`SliceSpec` names months, symbols, label horizons and the walk-forward
protocol; :func:`build_slice` writes the dataset, its manifest and an
``export_jobs`` row, and :func:`open_slice` reads it back after checking every
file's sha256.

Walk-forward splits, no leakage (López de Prado's purging and embargo):

* rows are ordered by window start; ``n_folds`` boundaries ``b_1 < … < b_F``
  cut them into ``F + 1`` blocks of (about) equal row counts; fold ``k`` trains
  on everything before ``b_k`` and validates on the block after it;
* **purge**: a row before ``b_k`` whose label interval reaches past ``b_k``
  (its label reads returns inside the validation block) is ``purged`` from the
  fold's training set. The interval ends at the label's ``realised_at`` for the
  slice's longest horizon (or where it would end, when not realised);
* **embargo**: validation rows starting within ``embargo_windows`` window
  widths after ``b_k`` are ``embargoed`` — their features overlap the last
  training windows (50 % window overlap, slow features);
* each row carries one column per fold, ``split_f{k}`` ∈ {``train``,
  ``validation``, ``purged``, ``embargoed``, ``""`` (after the fold)}.

Class labels ``label_h{h}`` use a dead band fitted on fold 0's training rows
only (the earliest data, before every validation block) so that a
``hold_fraction`` of them are ``hold``; the forward log returns
``fwd_return_h{h}`` come from the realised ``labels`` table
(:mod:`thunderline.labels.realise`), unrealised ones are null.

Layout: ``<root>/tenant=<t>/training_slices/<name>/<slice id>/symbol=<S>/part-0.parquet``
plus ``manifest.json`` (schema version, spec, row counts per file and split,
each file's sha256, the bands, and the manifest's own sha256 over the rest).
The slice id is content-derived from (tenant, spec): rebuilding a spec replaces
its files; the manifest hash says which data a model was trained on.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from thunderline.contracts import FEATURE_SCHEMA_VERSION
from thunderline.feature_schemas import adapt_rows
from thunderline.hashing import content_hash, content_id, file_sha256
from thunderline.store.label_rows import load_labels
from thunderline.store.window_rows import load_edgar_windows, row_to_window

SLICE_SCHEMA_VERSION = "slice-1"
MANIFEST = "manifest.json"
ROLES = ("train", "validation", "purged", "embargoed", "")
PROVENANCE_COLUMNS = ("feature_window_id", "symbol", "window_start_us", "window_end_us", "available_at_us",
                      "recipe_version", "feature_schema_version", "window_content_hash", "provenance_json")


class SliceError(RuntimeError):
    """A slice cannot be built or read; the message names the slice, file or field."""


def _default_features() -> tuple[str, ...]:
    from thunderline.experts.catalog import FAMILY_FEATURES

    return tuple(dict.fromkeys(f for fam in ("order_flow", "momentum", "filing") for f in FAMILY_FEATURES[fam]))


@dataclass(frozen=True)
class SliceSpec:
    """What goes into a training slice and how it is split. ``features`` empty = every expert feature."""

    name: str
    months: tuple[str, ...]
    symbols: tuple[str, ...] = ()
    horizons: tuple[int, ...] = (1, 4, 10)
    features: tuple[str, ...] = ()
    n_folds: int = 3
    embargo_windows: int = 2
    hold_fraction: float = 1.0 / 3.0
    recipe_version: str | None = None
    #: the feature schema the slice is read as ("" = the current one); windows of other versions are
    #: adapted through the declared forward path (thunderline.feature_schemas) or refused
    feature_schema_version: str = ""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", self.name or ""):
            raise SliceError(f"slice name {self.name!r}: 1-64 chars of letters, digits, '_', '.', '-'")
        object.__setattr__(self, "months", tuple(sorted(set(self.months))))
        object.__setattr__(self, "symbols", tuple(sorted(set(self.symbols))))
        object.__setattr__(self, "horizons", tuple(sorted(set(int(h) for h in self.horizons))))
        if not self.months or not all(re.fullmatch(r"\d{4}-\d{2}", m) for m in self.months):
            raise SliceError(f"slice {self.name!r}: months must be YYYY-MM, got {self.months!r}")
        if not self.horizons or self.horizons[0] < 1:
            raise SliceError(f"slice {self.name!r}: horizons must be whole windows >= 1")
        if self.n_folds < 1 or self.embargo_windows < 0:
            raise SliceError(f"slice {self.name!r}: n_folds >= 1 and embargo_windows >= 0 required")
        if not 0.0 <= self.hold_fraction < 1.0:
            raise SliceError(f"slice {self.name!r}: hold_fraction must be in [0, 1)")

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.features or _default_features()

    @property
    def schema_version(self) -> str:
        return self.feature_schema_version or FEATURE_SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["features"] = list(self.feature_names)
        if not self.feature_schema_version:  # absent when current: slice ids made before the field stay put
            d.pop("feature_schema_version")
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "SliceSpec":
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()})

    def slice_id(self, tenant_id: str) -> str:
        return content_id("training_slice", [tenant_id, self.to_json()])


@dataclass
class Fold:
    fold: int
    boundary_us: int
    validation_end_us: int | None
    counts: dict[str, int] = field(default_factory=dict)


def walk_forward(window_start_us: np.ndarray, label_end_us: np.ndarray, n_folds: int, embargo_us: int
                 ) -> tuple[list[np.ndarray], list[Fold]]:
    """Per fold, an array of roles (see the module docstring); rows in any order."""
    t = np.asarray(window_start_us, dtype=np.int64)
    end = np.asarray(label_end_us, dtype=np.int64)
    n = t.size
    srt = np.sort(t)
    if n < 2 * (n_folds + 1):
        raise SliceError(f"{n} rows are too few for {n_folds} walk-forward folds")
    bounds = [int(srt[(k * n) // (n_folds + 1)]) for k in range(1, n_folds + 1)]
    if len(set(bounds)) != len(bounds):
        raise SliceError("walk-forward boundaries coincide: too many folds for the distinct window starts")
    roles, folds = [], []
    for k, b in enumerate(bounds):
        nb = bounds[k + 1] if k + 1 < len(bounds) else None
        r = np.full(n, "", dtype=object)
        before = t < b
        r[before & (end <= b)] = "train"
        r[before & (end > b)] = "purged"
        after = ~before & (t < nb if nb is not None else True)
        r[after & (t < b + embargo_us)] = "embargoed"
        r[after & (t >= b + embargo_us)] = "validation"
        roles.append(r)
        folds.append(Fold(k, b, nb, {role or "after": int((r == role).sum()) for role in ROLES}))
    return roles, folds


@dataclass
class SliceResult:
    slice_id: str
    path: Path
    manifest: dict[str, Any]

    @property
    def manifest_sha256(self) -> str:
        return self.manifest["manifest_sha256"]

    @property
    def rows(self) -> int:
        return int(self.manifest["rows"])


def slice_dir(root: str | Path, tenant_id: str, spec: SliceSpec) -> Path:
    return Path(root) / f"tenant={tenant_id}" / "training_slices" / spec.name / spec.slice_id(tenant_id)


def build_slice(session, spec: SliceSpec, root: str | Path, *, ticker_map: Sequence[dict] = ()) -> SliceResult:
    """Read windows + realised labels for ``spec`` from the warehouse, write the slice, record the export job."""
    frame = slice_frame(session, spec, ticker_map=ticker_map)
    result = write_slice(frame, spec, root, session.tenant_id)
    m = result.manifest
    session.upsert("export_jobs", [dict(
        id=content_id("export_job", [session.tenant_id, result.slice_id, result.manifest_sha256]),
        slice_name=spec.name, spec=spec.to_json(), manifest=m, path=str(result.path), status="complete",
        rows=int(m["rows"]))])
    return result


def slice_frame(session, spec: SliceSpec, *, ticker_map: Sequence[dict] = ()) -> pd.DataFrame:
    """Features, provenance and realised forward returns (not yet split or classed) of ``spec``'s windows."""
    from thunderline.decisions.pipeline import feature_frame
    from thunderline.partitioning import month_bounds_us

    fw = session.table("feature_windows")
    rows = []
    for m in spec.months:
        lo, hi = month_bounds_us(m)
        where = [fw.c.kind == "market", fw.c.window_start >= lo, fw.c.window_start < hi, fw.c.status != "superseded"]
        if spec.symbols:
            where.append(fw.c.key.in_(spec.symbols))
        if spec.recipe_version:
            where.append(fw.c.recipe_version == spec.recipe_version)
        rows += session.select("feature_windows", *where, order_by=[fw.c.window_start, fw.c.key, fw.c.id])
    if not rows:
        raise SliceError(f"slice {spec.name!r}: no market windows in {list(spec.months)}"
                         + (f" for {list(spec.symbols)}" if spec.symbols else ""))
    windows = [row_to_window(r) for r in rows]
    edgar = load_edgar_windows(session, None, max(w.available_at_us for w in windows)) if ticker_map else []
    feats = adapt_rows(feature_frame(windows, edgar, ticker_map), [w.feature_schema_version for w in windows],
                       spec.schema_version, spec.feature_names)
    df = pd.DataFrame({
        "feature_window_id": [w.id for w in windows],
        "symbol": [w.key for w in windows],
        "window_start_us": np.array([w.window_start_us for w in windows], dtype=np.int64),
        "window_end_us": np.array([w.window_end_us for w in windows], dtype=np.int64),
        "available_at_us": np.array([w.available_at_us for w in windows], dtype=np.int64),
        "recipe_version": [w.recipe_version for w in windows],
        "feature_schema_version": [w.feature_schema_version for w in windows],
        "window_content_hash": [w.content_hash for w in windows],
        "provenance_json": [json.dumps(w.provenance, sort_keys=True, separators=(",", ":")) for w in windows],
    })
    for f in spec.feature_names:
        df[f] = feats[f].to_numpy(np.float64) if f in feats.columns else np.nan
    for h in spec.horizons:
        got = load_labels(session, df["feature_window_id"].tolist(), h)
        df[f"fwd_return_h{h}"] = [float(got[i]["fwd_return"]) if i in got else np.nan for i in df["feature_window_id"]]
        df[f"label_realised_at_us_h{h}"] = pd.array(
            [int(got[i]["realised_at"]) if i in got else None for i in df["feature_window_id"]], dtype="Int64")
    return df


def write_slice(frame: pd.DataFrame, spec: SliceSpec, root: str | Path, tenant_id: str) -> SliceResult:
    """Split, class-label and write ``frame`` (from :func:`slice_frame`) as the slice of ``spec``."""
    df = frame.sort_values(["window_start_us", "symbol"], kind="stable").reset_index(drop=True)
    width = int(np.median(df["window_end_us"] - df["window_start_us"]))
    h_max = max(spec.horizons)
    realised = df[f"label_realised_at_us_h{h_max}"]
    nominal = df["window_end_us"] + h_max * width
    label_end = np.where(realised.isna(), nominal, realised.fillna(0).astype(np.int64)).astype(np.int64)
    roles, folds = walk_forward(df["window_start_us"].to_numpy(), label_end, spec.n_folds,
                                spec.embargo_windows * width)
    for k, r in enumerate(roles):
        df[f"split_f{k}"] = pd.Series(r, dtype=object)
    fit = roles[0] == "train"
    bands = {}
    for h in spec.horizons:
        x = df[f"fwd_return_h{h}"].to_numpy(np.float64)
        known = fit & np.isfinite(x)
        if not known.any():
            raise SliceError(f"slice {spec.name!r}: no realised labels at horizon {h} in fold 0's training rows "
                             "(materialize the labels asset for these months first)")
        band = float(np.quantile(np.abs(x[known]), spec.hold_fraction))
        bands[h] = band
        lab = np.full(len(df), None, dtype=object)
        ok = np.isfinite(x)
        lab[ok] = "hold"
        lab[ok & (x > band)] = "buy"
        lab[ok & (x < -band)] = "sell"
        df[f"label_h{h}"] = pd.Series(lab, dtype=object)
    schema = slice_schema(spec)
    final = slice_dir(root, tenant_id, spec)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    files = []
    for sym, part in df.groupby("symbol", sort=True):
        rel = f"symbol={sym}/part-0.parquet"
        path = tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(part[schema.names], schema=schema, preserve_index=False)
        pq.write_table(table, path, compression="zstd")
        files.append({"path": rel, "rows": int(len(part)), "sha256": file_sha256(path)})
    manifest = {
        "schema_version": SLICE_SCHEMA_VERSION,
        "slice_id": spec.slice_id(tenant_id),
        "tenant_id": tenant_id,
        "spec": spec.to_json(),
        "feature_schema_version": spec.schema_version,
        "rows": int(len(df)),
        "files": files,
        "columns": schema.names,
        "window_width_us": width,
        "folds": [{"fold": f.fold, "boundary_us": f.boundary_us, "validation_end_us": f.validation_end_us,
                   "counts": f.counts, "column": f"split_f{f.fold}"} for f in folds],
        "dead_bands": {str(h): b for h, b in bands.items()},
        "label_counts": {f"label_h{h}": {str(k): int(v) for k, v in
                                         df[f"label_h{h}"].value_counts(dropna=False).items()}
                         for h in spec.horizons},
        "time_range_us": [int(df["window_start_us"].min()), int(df["window_end_us"].max())],
        "label_definition": "fwd_return_h{h}: sum of mid_return over the next h non-overlapping windows "
                            "(thunderline.labels.realise); label_h{h}: buy/sell/hold with dead_bands[h], "
                            "fitted on fold 0's training rows",
    }
    manifest["manifest_sha256"] = content_hash(manifest)
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    if final.exists():
        shutil.rmtree(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, final)
    return SliceResult(manifest["slice_id"], final, manifest)


def slice_schema(spec: SliceSpec) -> pa.Schema:
    fields = [pa.field("feature_window_id", pa.string(), nullable=False), pa.field("symbol", pa.string(), False),
              pa.field("window_start_us", pa.int64(), False), pa.field("window_end_us", pa.int64(), False),
              pa.field("available_at_us", pa.int64(), False), pa.field("recipe_version", pa.string(), False),
              pa.field("feature_schema_version", pa.string(), False),
              pa.field("window_content_hash", pa.string(), False), pa.field("provenance_json", pa.string(), False)]
    fields += [pa.field(f, pa.float64()) for f in spec.feature_names]
    for h in spec.horizons:
        fields += [pa.field(f"fwd_return_h{h}", pa.float64()), pa.field(f"label_h{h}", pa.string()),
                   pa.field(f"label_realised_at_us_h{h}", pa.int64())]
    fields += [pa.field(f"split_f{k}", pa.string(), False) for k in range(spec.n_folds)]
    return pa.schema(fields, metadata={"thunderline.slice_schema_version": SLICE_SCHEMA_VERSION})


@dataclass
class TrainingSlice:
    """A slice read back from disk (files verified against the manifest)."""

    path: Path
    manifest: dict[str, Any]
    frame: pd.DataFrame

    @property
    def spec(self) -> SliceSpec:
        return SliceSpec.from_json(self.manifest["spec"])

    @property
    def slice_id(self) -> str:
        return self.manifest["slice_id"]

    @property
    def manifest_sha256(self) -> str:
        return self.manifest["manifest_sha256"]

    def fold_column(self, fold: int = -1) -> str:
        return self.manifest["folds"][fold]["column"]

    def split(self, fold: int = -1) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(train, validation) rows of ``fold`` (default: the last, which trains on the most data)."""
        col = self.fold_column(fold)
        return (self.frame[self.frame[col] == "train"].reset_index(drop=True),
                self.frame[self.frame[col] == "validation"].reset_index(drop=True))


def open_slice(path: str | Path, *, verify: bool = True) -> TrainingSlice:
    """Read a slice directory; with ``verify`` every file's sha256 and the manifest hash are checked first."""
    path = Path(path)
    mpath = path / MANIFEST
    if not mpath.exists():
        raise SliceError(f"{path}: no {MANIFEST} (not a training slice, or still being written)")
    manifest = json.loads(mpath.read_text())
    if manifest.get("schema_version") != SLICE_SCHEMA_VERSION:
        raise SliceError(f"{mpath}: schema_version {manifest.get('schema_version')!r}, expected {SLICE_SCHEMA_VERSION}")
    if verify:
        body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
        if content_hash(body) != manifest.get("manifest_sha256"):
            raise SliceError(f"{mpath}: manifest_sha256 does not match its content (edited after writing?)")
        for f in manifest["files"]:
            got = file_sha256(path / f["path"])
            if got != f["sha256"]:
                raise SliceError(f"{path / f['path']}: sha256 {got[:16]}… differs from the manifest's "
                                 f"{f['sha256'][:16]}…")
    parts = [pq.read_table(path / f["path"]).to_pandas() for f in manifest["files"]]
    frame = pd.concat(parts, ignore_index=True).sort_values(["window_start_us", "symbol"], kind="stable")
    return TrainingSlice(path, manifest, frame.reset_index(drop=True))
