"""A process pool over the cores with a progress line; `workers=0` runs in this process (tests, smoke)."""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterable, Sequence, TypeVar

from .progress import progress

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


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


def chunked(items: Iterable[T], size: int) -> list[list[T]]:
    """Consecutive lists of at most `size` items."""
    out: list[list[T]] = []
    for x in items:
        if not out or len(out[-1]) >= size:
            out.append([])
        out[-1].append(x)
    return out
