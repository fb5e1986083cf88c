"""Helpers shared by the orchestration tests (landing files, definitions, running what a sensor asked for)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg

PAST = time.time() - 3600  # landing files are dated an hour ago: settled for the scan


def write_ticks(path: Path, symbol: str, n: int = 2_000, seed: int = 1, start_us: int = 1_704_205_800_000_000,
                fmt: str = "parquet") -> Path:
    """A deterministic synthetic tick file in the canonical format, written atomically and settled."""
    from thunderline.market import write_canonical_csv, write_canonical_parquet
    from thunderline.market.synthetic import SyntheticSpec, synthetic_ticks

    path.parent.mkdir(parents=True, exist_ok=True)
    spec = SyntheticSpec(n_ticks=n, seed=seed, symbol=symbol, venue="TEST", start_us=start_us)
    writer = write_canonical_parquet if fmt == "parquet" else write_canonical_csv
    tmp = path.with_name(path.name + ".tmp")
    writer(synthetic_ticks(spec, "default"), tmp)
    os.replace(tmp, path)
    os.utime(path, (PAST, PAST))
    return path


def resources_for(settings) -> dict:
    from resources import build_resources
    from resources.landing import LandingResource

    res = dict(build_resources(settings))
    res.setdefault("landing", LandingResource(root=str(settings.landing_dir)))
    return res


def sensor_context(instance: dg.DagsterInstance, defs: dg.Definitions, resources: dict, cursor: str | None = None):
    return dg.build_sensor_context(instance=instance, instance_ref=instance.get_ref() if _has_ref(instance) else None,
                                   definitions=defs, resources=resources, cursor=cursor)


def _has_ref(instance: dg.DagsterInstance) -> bool:
    try:
        instance.get_ref()
        return True
    except Exception:  # noqa: BLE001 - an ephemeral instance has no ref
        return False


def apply_sensor_result(instance: dg.DagsterInstance, result) -> None:
    """What the daemon does with a sensor result besides launching runs: add dynamic partitions."""
    for req in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))


def execute_request(defs: dg.Definitions, instance: dg.DagsterInstance, resources: dict, request: dg.RunRequest,
                    job_name: str | None = None):
    """Run what ``request`` asks for, in process, with its partition, config and tags."""
    job = defs.resolve_job_def(job_name or request.job_name)
    return job.execute_in_process(partition_key=request.partition_key, run_config=request.run_config or None,
                                  tags=dict(request.tags), instance=instance, resources=resources)
