"""The demo tiers its history month to cold storage and restores it: the summary says so, the lake files are
the bytes ingest recorded, and the cold copies, their manifest and the audit trail stay behind."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

from demo_support import REPO, clean_env, demo_output

from thunderline_cli.demo import TRAIN_MONTH


def test_the_demo_tiers_and_restores_its_history_month(demo_home):
    out = demo_output(demo_home)
    if out is not None:
        assert f"[retention] {TRAIN_MONTH} tiered to cold storage (retention_tiering_job)" in out[0]
        line = next(x for x in out[0].splitlines() if f"thunderline restore {TRAIN_MONTH}:" in x)
        files = int(line.split(": ")[1].split()[0])
        assert files > 0 and f"sha256 identical to ingest for {files} of {files}" in line
    month_dir = demo_home / "cold" / "tenant=default" / "ticks" / f"month={TRAIN_MONTH}"
    manifest = json.loads((month_dir / "manifest.json").read_text())
    assert manifest["files"] and manifest["compression"] == "zstd"
    for f in manifest["files"]:
        lake = demo_home / "lake" / "tenant=default" / "ticks" / f"month={TRAIN_MONTH}" / f["path"]
        assert hashlib.sha256(lake.read_bytes()).hexdigest() == f["sha256"]  # restored: the recorded bytes
        assert hashlib.sha256((month_dir / f["path"]).read_bytes()).hexdigest() == f["sha256"]
    status = subprocess.run([sys.executable, "-m", "thunderline_cli.main", "retention", "status"], cwd=REPO,
                            env=clean_env(demo_home), text=True, capture_output=True, timeout=300)
    assert status.returncode == 0, status.stderr[-2000:]
    assert f"{TRAIN_MONTH} restored  {len(manifest['files'])} files" in status.stdout
