"""Size buckets: every processed image is padded (white, right and bottom) to the smallest bucket holding it,
and a training batch holds images of one bucket.

- `course`: the course's own list (its scripts use it), with a 1600x400 step added before 1600x1600.
- `fit`: a grid fitted to formula crops, widths in steps of 64 px and heights in steps of 16 px up to
  1600x400 (larger images are scaled down to fit): little padding, so little work spent on white paper.
"""
from __future__ import annotations

from typing import Sequence

COURSE: tuple[tuple[int, int], ...] = (
    (60, 40), (80, 40), (80, 60), (140, 60), (140, 80), (240, 100), (320, 80), (400, 80),
    (400, 100), (480, 80), (480, 100), (560, 80), (560, 100), (640, 80), (640, 100),
    (720, 80), (720, 100), (720, 120), (720, 200), (800, 100), (800, 320), (1000, 200),
    (1000, 400), (1200, 200), (1600, 200), (1600, 400), (1600, 1600),
)
FIT: tuple[tuple[int, int], ...] = tuple((w, h) for h in range(32, 401, 16) for w in range(64, 1601, 64))
SETS = {"course": COURSE, "fit": FIT}


def sizes(spec: str | Sequence[Sequence[int]]) -> tuple[tuple[int, int], ...]:
    """The (width, height) buckets of a named set ("course", "fit") or of an explicit list."""
    if isinstance(spec, str):
        if spec not in SETS:
            raise ValueError(f"unknown bucket set {spec!r}: choose one of {', '.join(SETS)} or give (w, h) pairs")
        return SETS[spec]
    return tuple((int(w), int(h)) for w, h in spec)


def of_profile(profile) -> tuple[tuple[int, int], ...]:
    """The (width, height) buckets a profile names (its `buckets` field)."""
    return sizes(profile.buckets)


def pick_bucket(width: int, height: int, buckets: Sequence[Sequence[int]] = COURSE) -> tuple[int, int] | None:
    """The smallest-area (width, height) bucket holding the image, or None if none does."""
    fitting = [(w, h) for w, h in buckets if w >= width and h >= height]
    return min(fitting, key=lambda b: (b[0] * b[1], b)) if fitting else None
