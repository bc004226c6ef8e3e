"""One progress helper: a tqdm bar when a person watches, plain timed lines under papermill/nbval."""
from __future__ import annotations

import os
import sys
import time
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")
HEADLESS_ENV = "IM2LATEX_HEADLESS"  # set by `lib.series` and the tests


def is_headless() -> bool:
    """True under `lib.series`/papermill/nbval (set $IM2LATEX_HEADLESS=1), or when stdout is a pipe."""
    flag = os.environ.get(HEADLESS_ENV)
    if flag is not None:
        return flag not in ("", "0", "false")
    return "ipykernel" not in sys.modules and not sys.stdout.isatty()


class LineProgress:
    """Prints `desc: i/total (pct) rate elapsed postfix` at most every `interval` seconds, and at the end."""

    def __init__(self, iterable: Iterable[T] | None = None, total: int | None = None,
                 desc: str = "", interval: float = 30.0, unit: str = "it"):
        self.iterable, self.desc, self.interval, self.unit = iterable, desc, interval, unit
        self.total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
        self.n, self.postfix, self.printed = 0, "", None  # printed: the count of the last line printed
        self.start = self.last = time.monotonic()

    def __iter__(self) -> Iterator[T]:
        for item in self.iterable:
            yield item
            self.update()
        self.close()

    def set_postfix(self, **kw) -> None:
        self.postfix = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in kw.items())

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            self._print()

    def _print(self) -> None:
        self.printed = self.n
        elapsed = time.monotonic() - self.start
        frac = f"{self.n}/{self.total} ({100 * self.n / self.total:.0f}%)" if self.total else f"{self.n}"
        rate = self.n / elapsed if elapsed > 0 else 0.0
        print(f"{self.desc}: {frac} {rate:.2f} {self.unit}/s {elapsed:.0f}s {self.postfix}".rstrip(), flush=True)

    def close(self) -> None:
        """The final line, unless the last update already printed it (or the bar was closed before)."""
        if self.printed != self.n:
            self._print()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def progress(iterable: Iterable[T] | None = None, total: int | None = None, desc: str = "",
             interval: float = 30.0, unit: str = "it"):
    """Wrap an iterable (or use as a manual counter with `.update()`): the right kind for where we run."""
    if is_headless():
        return LineProgress(iterable, total=total, desc=desc, interval=interval, unit=unit)
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit)
