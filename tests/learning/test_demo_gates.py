"""The demo's gates through the CLI: the demo tenant routes with gates learned from its own outcomes, a tenant
without any routes with the shared (seeded) version, and a learned version cannot be shared."""

from __future__ import annotations

import json
import subprocess
import sys

from demo_support import REPO, clean_env, demo_output


def _gates(home, tenant: str, *args: str) -> subprocess.CompletedProcess:
    env = {**clean_env(home), "THUNDERLINE_TENANT": tenant}
    return subprocess.run([sys.executable, "-m", "thunderline_cli.main", "gates", *args], cwd=REPO, env=env,
                          text=True, capture_output=True, timeout=300)


def test_the_demo_tenant_has_its_own_gates_and_a_tenant_without_uses_the_shared_ones(demo_home):
    own = _gates(demo_home, "default", "show", "--json")
    assert own.returncode == 0, own.stderr[-2000:]
    mine = json.loads(own.stdout)
    other = json.loads(_gates(demo_home, "demo-b", "show", "--json").stdout)
    assert mine["owner"] == "default" and mine["trained_on"]["tenant_id"] == "default"
    assert mine["trained_on"]["windows"] > 0 and mine["own_versions"] >= 2
    assert other["owner"] == "_shared" and other["trained_on"] is None and other["own_versions"] == 0
    assert other["version"] != mine["version"] and [x["experts"] for x in other["layers"]] == \
        [x["experts"] for x in mine["layers"]]
    refused = _gates(demo_home, "default", "share")
    assert refused.returncode != 0 and "only a seeded (bootstrap) version can be shared" in refused.stderr
    out = demo_output(demo_home)
    if out is not None:
        assert "[gates]" in out[0] and "(its own" in out[0] and "(the shared version" in out[0]


def test_gates_train_learns_from_the_tenants_own_outcomes_and_refuses_a_tenant_without_any(demo_home, tmp_path):
    import shutil

    home = tmp_path / "home"  # a copy of the demo's stores (its MLflow artifacts stay where the demo wrote them)
    home.mkdir()
    for name in ("warehouse.db", "mlflow.db", "ticker_map.json"):
        shutil.copy2(demo_home / name, home / name)
    before = json.loads(_gates(home, "default", "show", "--json").stdout)
    p = _gates(home, "default", "train", "--lookback-days", "400")
    assert p.returncode == 0, p.stderr[-2000:]
    assert f"gates learned from {before['trained_on']['windows']:,} of its own decided windows" in p.stdout
    after = json.loads(_gates(home, "default", "show", "--json").stdout)
    assert after["owner"] == "default" and after["trained_on"]["tenant_id"] == "default"
    empty = _gates(home, "demo-b", "train")
    assert empty.returncode != 0 and "tenant demo-b: gates not trained: no decided windows yet" in empty.stderr
    assert json.loads(_gates(home, "demo-b", "show", "--json").stdout)["owner"] == "_shared"
