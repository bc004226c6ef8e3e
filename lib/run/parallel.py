"""A process pool over the cores with a progress line; `workers=0` runs in this process (tests, smoke)."""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable, Sequence, TypeVar

from .progress import progress

T = TypeVar("T")
R = TypeVar("R")


CGROUP_ROOT = Path("/sys/fs/cgroup")


def cgroup_cpus(root: str | Path = CGROUP_ROOT) -> float | None:
    """The CPU quota of this container in cores (cgroup v2 `cpu.max`, else v1 `cpu.cfs_quota_us`), or None.

    Rented GPU containers (AutoDL) show every core of the host to `sched_getaffinity` but let the
    container use only a few of them: a pool sized from the host would thrash.
    """
    root = Path(root)
    try:
        v2 = root / "cpu.max"
        if v2.is_file():
            quota, period = v2.read_text().split()[:2]
            return None if quota == "max" else int(quota) / int(period)
        for v1 in (root / "cpu", root / "cpu,cpuacct"):
            if (v1 / "cpu.cfs_quota_us").is_file():
                quota = int((v1 / "cpu.cfs_quota_us").read_text())
                period = int((v1 / "cpu.cfs_period_us").read_text())
                return None if quota <= 0 else quota / period
    except (OSError, ValueError, ZeroDivisionError):
        return None
    return None


def default_workers(cgroup_root: str | Path = CGROUP_ROOT) -> int:
    """The cores this process may use: its CPU affinity, capped by the container's CPU quota."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n = os.cpu_count() or 1
    quota = cgroup_cpus(cgroup_root)
    return max(1, min(n, int(quota))) if quota else n


def loader_workers(profile_workers: int, cgroup_root: str | Path = CGROUP_ROOT, processes: int = 1) -> int:
    """DataLoader worker processes: the profile's number, at most the cores left beside the training process
    (Colab's 2 vCPUs: 1 worker, not the gpu profile's 4); with `processes` training processes on this machine
    (torchrun), each gets its share of the cores."""
    return max(0, min(profile_workers, default_workers(cgroup_root) // max(1, processes) - 1))


def pool_workers(profile_workers: int) -> int | None:
    """Processes for CPU-bound data work: all cores, or this process only when the profile says 0."""
    return None if profile_workers > 0 else 0


def parallel_map(fn: Callable[[T], R], items: Sequence[T], workers: int | None = None, desc: str = "",
                 unit: str = "it", chunksize: int | None = None) -> list[R]:
    """`[fn(x) for x in items]` in order, on `workers` processes (None: all cores, 0/1: this process).

    `fn` must be a module-level function and should return errors as values, not raise, so that one bad
    file never stops the others.
    """
    items = list(items)
    workers = default_workers() if workers is None else workers
    bar = progress(total=len(items), desc=desc, unit=unit)
    results: list[R] = []
    if workers <= 1 or len(items) < 2:
        for x in items:
            results.append(fn(x))
            bar.update()
    else:
        chunksize = chunksize or max(1, min(64, len(items) // (workers * 8)))
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for r in pool.map(fn, items, chunksize=chunksize):
                results.append(r)
                bar.update()
    bar.close()
    return results
