"""Micro-batches from standard input: canonical CSV lines or an Arrow IPC stream, stamped with arrival times.

A reader thread takes whatever has arrived; a micro-batch is what has queued up (after a short linger),
so a burst is one batch and a trickle is many small ones.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from typing import IO, Iterator

import numpy as np
import pyarrow as pa


def micro_batches(stream: IO, *, max_batch: int = 5_000, linger_s: float = 0.005,
                  idle_s: float = 0.5) -> Iterator[tuple[str, list[str], np.ndarray] | None]:
    """(header, lines, arrival µs per line) per micro-batch from canonical CSV on ``stream``.

    A reader thread takes whatever bytes have arrived (``os.read`` on a pipe or file, so a
    burst is read in one go, not line by line), timestamps them and queues their complete
    lines; a micro-batch is whatever has been queued (after waiting ``linger_s`` for more),
    at most about ``max_batch`` lines. Yields None after ``idle_s`` without input (so the
    caller can keep its ladder ticking).
    """
    q: queue.Queue = queue.Queue()
    threading.Thread(target=_read_lines, args=(stream, q), name="stdin-reader", daemon=True).start()
    header: str | None = None
    for items in _coalesce(q, max_batch, linger_s, idle_s, len):
        if items is None:
            yield None
            continue
        lines = [x for chunk, _ in items for x in chunk]
        arrivals = np.concatenate([np.full(len(chunk), t, dtype=np.int64) for chunk, t in items])
        if header is None:
            header, lines, arrivals = lines[0], lines[1:], arrivals[1:]
        if lines:
            yield header, lines, arrivals


def _read_lines(stream: IO, q: queue.Queue, chunk: int = 1 << 16) -> None:
    try:
        try:
            fd = stream.fileno()
        except (AttributeError, OSError, ValueError):
            fd = None
        if fd is None:  # in-memory streams (tests, benchmarks)
            while lines := stream.readlines(chunk):
                q.put(([x if x.endswith("\n") else x + "\n" for x in lines], time.time_ns() // 1000))
            return
        tail = b""
        while data := os.read(fd, chunk):
            t = time.time_ns() // 1000
            *complete, tail = (tail + data).split(b"\n")
            if complete:
                q.put(([x.decode("utf-8") + "\n" for x in complete], t))
        if tail:
            q.put(([tail.decode("utf-8") + "\n"], time.time_ns() // 1000))
    finally:
        q.put(None)


def arrow_micro_batches(stream: IO[bytes], *, max_batch: int = 5_000, linger_s: float = 0.005,
                        idle_s: float = 0.5) -> Iterator[tuple[pa.Table, np.ndarray] | None]:
    """(ticks, arrival µs per tick) per micro-batch from an Arrow IPC stream of TICK_SCHEMA batches."""
    q: queue.Queue = queue.Queue()

    def read() -> None:
        try:
            for b in pa.ipc.open_stream(stream):
                q.put((b, time.time_ns() // 1000))
        finally:
            q.put(None)

    threading.Thread(target=read, name="stdin-arrow-reader", daemon=True).start()
    for items in _coalesce(q, max_batch, linger_s, idle_s, lambda b: b.num_rows):
        if items is None:
            yield None
            continue
        arrivals = np.concatenate([np.full(b.num_rows, t, dtype=np.int64) for b, t in items])
        yield pa.Table.from_batches([b for b, _ in items]), arrivals


def _coalesce(q: queue.Queue, max_batch: int, linger_s: float, idle_s: float, size) -> Iterator[list | None]:
    done = False
    while not done:
        try:
            item = q.get(timeout=idle_s)
        except queue.Empty:
            yield None
            continue
        if item is None:
            return
        items, n = [item], size(item[0])
        deadline = time.monotonic() + linger_s
        while n < max_batch:
            try:
                item = q.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if item is None:
                done = True
                break
            items.append(item)
            n += size(item[0])
        yield items
