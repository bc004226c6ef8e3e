"""Build a whole output folder beside the old one, then swap: a step that fails half way loses nothing."""
from __future__ import annotations

import csv
import io
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..run import atomic


@contextmanager
def staged_dir(final: str | Path) -> Iterator[Path]:
    """Yield an empty temp folder beside `final`; on success it replaces `final`, on error it is removed."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    for stale in final.parent.glob(f".{final.name}.*"):  # left by a killed run
        shutil.rmtree(stale, ignore_errors=True)
    tmp = final.parent / f".{final.name}.new-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:8]}"
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link (fast, no extra space) or copy when linking is not possible."""
    try:
        dst.hardlink_to(src)
    except OSError:
        shutil.copyfile(src, dst)


def write_csv(path: str | Path, rows: list[dict], fields: list[str]) -> Path:
    """A CSV with a header row, written atomically."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    return atomic.write_text(path, buf.getvalue())


class Tally:
    """Per-split counts: seen, kept, dropped {reason: n} and a few example names per reason."""

    def __init__(self, n_examples: int = 5):
        self.splits: dict[str, dict] = {}
        self.n_examples = n_examples

    def split(self, split: str) -> dict:
        return self.splits.setdefault(split, {"seen": 0, "kept": 0, "dropped": {}, "examples": {}})

    def keep(self, split: str, n: int = 1) -> None:
        s = self.split(split)
        s["seen"] += n
        s["kept"] += n

    def drop(self, split: str, reason: str, example: str = "") -> None:
        s = self.split(split)
        s["seen"] += 1
        s["dropped"][reason] = s["dropped"].get(reason, 0) + 1
        ex = s["examples"].setdefault(reason, [])
        if example and len(ex) < self.n_examples:
            ex.append(example)

    def as_dict(self) -> dict:
        return self.splits


TEST_ORDER = "test_order.txt"  # step 01 -> step 02: the test crop ids in the teaching assistant's order


def write_test_order(out: Path, ids: list[str]) -> int:
    """`test_order.txt` (an id listed twice is kept at its first place); how many ids it holds."""
    unique = list(dict.fromkeys(ids))
    (Path(out) / TEST_ORDER).write_text("".join(f"{i}\n" for i in unique), encoding="utf-8")
    return len(unique)
