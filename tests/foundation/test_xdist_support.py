"""The suite's parallel run (tests/xdist_support.py, tests/conftest.py): work made once for all workers, ports
no two workers share, and the groups that keep tests which must not run beside each other on one worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import xdist_support

TESTS = Path(__file__).resolve().parents[1]

#: one "worker": its basetemp is <run root>/popen-<id>, as pytest-xdist lays them out
WORKER = """
import sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
import xdist_support

class Factory:
    def getbasetemp(self):
        return Path({root!r}) / "popen-{wid}"

def make(folder):
    with open(Path({root!r}) / "calls", "a") as f:
        f.write("{wid}\\n")
    time.sleep(1.0)  # the other workers arrive while this one is making it
    if {fail}:
        raise RuntimeError("make failed")
    (folder / "made").write_text("{wid}")

print(xdist_support.once(Factory(), "shared", make))
"""


def _worker(root: Path, wid: str, fail: bool = False) -> subprocess.Popen:
    code = WORKER.format(tests=str(TESTS), root=str(root), wid=wid, fail=fail)
    return subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "PYTEST_XDIST_WORKER": wid},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_once_makes_the_shared_folder_in_one_worker_and_the_others_wait_for_it(tmp_path):
    procs = [_worker(tmp_path, f"gw{i}") for i in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err for _, err in outs]
    assert {out.strip() for out, _ in outs} == {str(tmp_path / "shared")}  # the run root, not a worker's basetemp
    maker = (tmp_path / "calls").read_text().split()
    assert len(maker) == 1 and (tmp_path / "shared" / "made").read_text() == maker[0]


def test_a_failed_make_leaves_no_marker_and_the_next_worker_makes_it_again(tmp_path):
    failed = _worker(tmp_path, "gw0", fail=True)
    assert failed.wait(120) != 0
    ok = _worker(tmp_path, "gw1")
    out, err = ok.communicate(timeout=120)
    assert ok.returncode == 0, err
    assert (tmp_path / "calls").read_text().split() == ["gw0", "gw1"]
    assert (tmp_path / "shared" / "made").read_text() == "gw1"


def test_without_xdist_the_run_root_is_the_session_basetemp(tmp_path_factory, monkeypatch):
    monkeypatch.setattr(xdist_support, "WORKER", "")
    assert xdist_support.run_root(tmp_path_factory) == tmp_path_factory.getbasetemp()
    assert xdist_support.worker_tag() == "main"


@pytest.mark.parametrize("index,count", [(0, 2), (1, 2), (0, 3), (1, 3), (2, 3)])
def test_free_ports_of_one_worker_are_its_own_class_and_never_repeat(monkeypatch, index, count):
    monkeypatch.setattr(xdist_support, "WORKER", f"gw{index}")
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", str(count))
    ports = [xdist_support.free_port() for _ in range(20)]  # worker 0 of 2 too: Linux gives bind(0) odd ports
    assert len(set(ports)) == 20 and all((p >> 1) % count == index for p in ports)


PRINTER = """
import json

def pytest_collection_finish(session):
    groups = {i.nodeid: sorted(m.args[0] for m in i.iter_markers("xdist_group")) for i in session.items}
    with open(%r, "w") as f:
        json.dump(groups, f)
"""


def test_demo_readers_share_one_group_and_module_fixtures_keep_their_module_on_one_worker(tmp_path):
    (tmp_path / "group_printer.py").write_text(PRINTER % str(tmp_path / "groups.json"))
    files = ["tests/learning/test_demo_registry.py", "tests/retention/test_demo_retention.py",
             "tests/orchestration/test_celery_workers.py", "tests/foundation/test_hashing.py"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    p = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                        "-p", "no:xdist", "-p", "group_printer", *files], cwd=TESTS.parent, env=env,
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    groups = json.loads((tmp_path / "groups.json").read_text())
    by_file = {f: [g for node, g in groups.items() if node.startswith(f)] for f in files}
    assert all(by_file[f] for f in files), by_file
    assert all(g == ["demo"] for f in files[:2] for g in by_file[f])  # the registry's module fixture too
    assert all(g == [files[2]] for g in by_file[files[2]])  # the one Celery deployment (module fixture)
    assert all(g == [] for g in by_file[files[3]])  # plain tests go one by one
