"""Processes a test started through Dagster that outlive its process group: found by the instance they serve.

Why: ``dagster-daemon`` (and a CLI run that loads the workspace) start ``dagster api grpc`` code servers
with ``--instance-ref <the instance's serialized ref>``; stopping the daemon's process group does not always
reach them (a code server can outlive its parent and is reparented to init), and the code server's
multiprocessing child then spins at 50-60 % CPU long after the test. Every such process names the test's
``DAGSTER_HOME`` in its command line (the instance ref holds its storage paths) or carries it in its
environment (the children), so the fixtures kill exactly those, and ``leaked_code_servers`` lets a check
fail a module that leaves one behind.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import psutil


def _mentions(proc: psutil.Process, needle: str) -> bool:
    try:
        return any(needle in part for part in proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def _env_home(proc: psutil.Process) -> str | None:
    try:
        return proc.environ().get("DAGSTER_HOME")
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def instance_processes(dagster_home: str | Path) -> list[psutil.Process]:
    """Every process (not this one, not its ancestors) serving ``dagster_home``, with its descendants."""
    home = str(Path(dagster_home).resolve())
    spared = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
    found: dict[int, psutil.Process] = {}
    for proc in psutil.process_iter():
        if proc.pid in spared:
            continue
        if _mentions(proc, home) or (_env_home(proc) or "").startswith(home):
            found[proc.pid] = proc
            try:
                found.update((c.pid, c) for c in proc.children(recursive=True))
            except psutil.NoSuchProcess:
                pass
    return list(found.values())


def kill_instance_processes(dagster_home: str | Path, wait_s: float = 10.0) -> list[str]:
    """SIGTERM, then SIGKILL after ``wait_s``, every process serving ``dagster_home``; their command lines."""
    procs = instance_processes(dagster_home)
    names = []
    for proc in procs:
        try:
            names.append(" ".join(proc.cmdline())[:200])
            proc.terminate()
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            pass
    _, alive = psutil.wait_procs(procs, timeout=wait_s)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=wait_s)
    return names


def leaked_code_servers(root: str | Path) -> list[psutil.Process]:
    """Processes serving an instance under ``root``: ``dagster api grpc`` code servers (``--instance-ref`` naming
    it) and any process whose ``DAGSTER_HOME`` is under it (a code server's multiprocessing child outlives the
    server when the server stops on its heartbeat timeout). Never this process or its ancestors."""
    needle = os.path.join(Path(root).resolve(), "")  # with the separator: popen-gw1 is not popen-gw10
    spared = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
    out = []
    for proc in psutil.process_iter():
        if proc.pid in spared:
            continue
        try:
            cmd = proc.cmdline()
            serves = "--instance-ref" in cmd and any(needle in part for part in cmd)
            if (serves or (_env_home(proc) or "").startswith(needle)) and proc.status() != psutil.STATUS_ZOMBIE:
                out.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return out


def stop_leaked_code_servers(root: str | Path, grace_s: float = 2.0) -> list[str]:
    """Kill (with their children) the processes :func:`leaked_code_servers` finds under ``root`` that are still
    there after ``grace_s`` (a code server told to stop by its heartbeat is on its way out); what they were."""
    if not leaked_code_servers(root):
        return []
    time.sleep(grace_s)
    what = []
    for p in leaked_code_servers(root):
        with contextlib.suppress(psutil.Error):
            what.append(f"pid {p.pid}: {' '.join(p.cmdline())[:160]}")
            for child in p.children(recursive=True):
                child.kill()
            p.kill()
    return what
