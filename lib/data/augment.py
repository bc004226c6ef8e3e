"""Named augmentation pipelines for formula images (uint8 H x W, white paper), and their per-worker seeding.

Every pipeline keeps the dtype (uint8), one channel (H x W) and a white background. All but `mixup` keep the
canvas size (the bucket the image was padded to): `scale` resizes the ink only and pastes it back on the same
white canvas, so bucketing stays valid. `mixup` blends in a second image (given, or an earlier image of the
same stream) and grows the canvas only when the partner's ink would otherwise be cut off (see `blend`).

albumentations 2.0.8 keeps its own random generator inside each Compose; DataLoader workers are copies of
the main process, so without `reseed` every worker (and every epoch) replays the same augmentations.
`lib.data.dataset.worker_init_fn` calls `reseed(dataset.transform, seed)` with torch's per-worker seed, which
differs per worker and per epoch.
"""
from __future__ import annotations

import random
from typing import Any, Callable, Sequence

import albumentations as A
import cv2
import numpy as np

from .images import pick_bucket

PIPELINES: tuple[str, ...] = ("none", "noise", "blur", "scale", "elastic", "all", "mixup")
PAPER = 250          # a pixel darker than this is content: never cut off, never pasted over
WHITE = 255
DEFAULTS: dict[str, Any] = dict(
    p=0.5,                      # probability of each random op (the gallery uses 1.0)
    noise_std=(0.02, 0.06),     # GaussNoise std as a fraction of 255 (about 5..15 grey levels)
    blur_limit=(3, 5),          # odd kernel sizes for Gaussian / motion blur
    scale_x=(0.7, 1.3),         # width factor range of `scale`
    scale_y=(0.7, 1.3),         # height factor range of `scale`
    elastic_alpha=40.0,         # ElasticTransform strength: about 2 px smooth wobble ...
    elastic_sigma=6.0,          # ... smoothed over this many pixels: wavy strokes, whole formula kept
    grid_limit=0.2,             # GridDistortion distort_limit (normalized grid keeps the borders in place)
    mixup_weight=(0.6, 0.9),    # weight of the first image (whose label is kept)
    buckets=None,               # mixup: snap a grown canvas to these (width, height) buckets
)


def _check_image(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 2:
        what = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"augmentations take uint8 H x W grey images, got {what}")
    return image


def _as_2d(image: np.ndarray) -> np.ndarray:
    return image[..., 0] if image.ndim == 3 else image


def _content_box(img: np.ndarray) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) of the pixels darker than PAPER, or None for a blank image."""
    mask = img < PAPER
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


class InkScale(A.ImageOnlyTransform):
    """Resize the formula by separate random width/height factors, on the same white canvas.

    The factors are clamped so the formula always fits the canvas whole; it keeps its top-left corner
    (where `lib.data.images.preprocess` puts it) unless it must move left/up to fit.
    """

    def __init__(self, scale_x: tuple[float, float] = (0.7, 1.3), scale_y: tuple[float, float] = (0.7, 1.3),
                 p: float = 0.5):
        super().__init__(p=p)
        self.scale_x, self.scale_y = tuple(scale_x), tuple(scale_y)

    def get_params(self) -> dict[str, float]:
        return {"sx": self.py_random.uniform(*self.scale_x), "sy": self.py_random.uniform(*self.scale_y)}

    def apply(self, img: np.ndarray, sx: float = 1.0, sy: float = 1.0, **params: Any) -> np.ndarray:
        return scale_ink(img, sx, sy)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("scale_x", "scale_y")


def scale_ink(img: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """`img` with its content box resized by (sx, sy), clamped to fit, on a white canvas of the same size."""
    squeeze = img.ndim == 3
    img2 = _as_2d(img)
    box = _content_box(img2)
    if box is None:
        return img
    y0, y1, x0, x1 = box
    h, w = img2.shape
    ink = img2[y0:y1, x0:x1]
    nw = int(np.clip(round((x1 - x0) * sx), 1, w))
    nh = int(np.clip(round((y1 - y0) * sy), 1, h))
    shrink = nw * nh < ink.size
    small = cv2.resize(ink, (nw, nh), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    out = np.full_like(img2, WHITE)
    ty, tx = min(y0, h - nh), min(x0, w - nw)
    out[ty:ty + nh, tx:tx + nw] = small
    return out[..., None] if squeeze else out


class Augment:
    """A named pipeline: `aug(image=img) -> {"image": img2}` with img2 uint8 H x W (albumentations-like)."""

    def __init__(self, name: str, compose: A.Compose | None):
        self.name, self.compose = name, compose

    def __call__(self, image: np.ndarray, **_: Any) -> dict[str, np.ndarray]:
        _check_image(image)
        if self.compose is None:
            return {"image": image}
        out = _as_2d(self.compose(image=image)["image"])
        return {"image": np.ascontiguousarray(out, dtype=np.uint8)}

    def reseed(self, seed: int) -> None:
        """One numpy + one Python generator shared by all ops (Compose.set_random_seed would give each op
        its own generator with the same seed, so their draws would be correlated)."""
        if self.compose is not None:
            self.compose.set_random_state(np.random.default_rng(seed), random.Random(seed))

    def __repr__(self) -> str:
        return f"Augment({self.name!r}, {self.compose!r})"


class MixUp:
    """Blend a second image into the first, keeping the first one's label (the negative control).

    `mix(image=a, other=b)` blends a with b. Called with `image` alone (as the dataset does), the partner is
    a random earlier image of this worker's stream, preferring one of the same size (same bucket); the first
    image of a stream passes unchanged. Sizes may differ: see `blend`, which never cuts a formula off.
    """

    name = "mixup"

    def __init__(self, weight: tuple[float, float] = (0.6, 0.9), p: float = 0.5,
                 buckets: Sequence[Sequence[int]] | None = None, seed: int | None = None, pool: int = 32):
        self.weight, self.p, self.buckets, self.pool_size = tuple(weight), p, buckets, pool
        self.rng = np.random.default_rng(seed)
        self.pool: list[np.ndarray] = []

    def reseed(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.pool = []

    def _partner(self, shape: tuple[int, ...]) -> np.ndarray | None:
        same = [im for im in self.pool if im.shape == shape]
        choices = same or self.pool
        return choices[int(self.rng.integers(len(choices)))] if choices else None

    def _remember(self, image: np.ndarray) -> None:
        if len(self.pool) < self.pool_size:
            self.pool.append(image)
        else:
            self.pool[int(self.rng.integers(self.pool_size))] = image

    def __call__(self, image: np.ndarray, other: np.ndarray | None = None, **_: Any) -> dict[str, np.ndarray]:
        _check_image(image)
        if other is None:
            other = self._partner(image.shape)
            self._remember(image)
        else:
            _check_image(other)
        if other is None or self.rng.random() >= self.p:
            return {"image": image}
        return {"image": blend(image, other, float(self.rng.uniform(*self.weight)), self.buckets)}


def blend(a: np.ndarray, b: np.ndarray, weight: float,
          buckets: Sequence[Sequence[int]] | None = None) -> np.ndarray:
    """w*a + (1-w)*b on a white canvas holding both; back to a's size only if no content is lost."""
    h, w = max(a.shape[0], b.shape[0]), max(a.shape[1], b.shape[1])
    pa, pb = (np.full((h, w), WHITE, np.float32) for _ in range(2))
    pa[:a.shape[0], :a.shape[1]] = a
    pb[:b.shape[0], :b.shape[1]] = b
    mixed = np.clip(np.rint(weight * pa + (1.0 - weight) * pb), 0, 255).astype(np.uint8)
    outside = mixed.copy()
    outside[:a.shape[0], :a.shape[1]] = WHITE
    if not (outside < PAPER).any():
        return np.ascontiguousarray(mixed[:a.shape[0], :a.shape[1]])
    bucket = pick_bucket(w, h, buckets) if buckets else None
    if bucket is not None and bucket != (w, h):
        canvas = np.full((bucket[1], bucket[0]), WHITE, np.uint8)
        canvas[:h, :w] = mixed
        mixed = canvas
    return mixed


def _ops(name: str, o: dict[str, Any]) -> list:
    """The albumentations ops of one named pipeline."""
    fill = dict(border_mode=cv2.BORDER_CONSTANT, fill=WHITE)
    make = {
        "noise": lambda p: A.GaussNoise(std_range=o["noise_std"], p=p),
        "blur": lambda p: A.OneOf([A.GaussianBlur(blur_limit=o["blur_limit"], sigma_limit=(0.3, 1.2)),
                                   A.MotionBlur(blur_limit=o["blur_limit"], allow_shifted=False)], p=p),
        "scale": lambda p: InkScale(o["scale_x"], o["scale_y"], p=p),
        "elastic": lambda p: A.OneOf([
            A.ElasticTransform(alpha=o["elastic_alpha"], sigma=o["elastic_sigma"], **fill),
            A.GridDistortion(num_steps=5, distort_limit=o["grid_limit"], normalized=True, **fill)], p=p),
    }
    if name == "all":  # geometry first, then optics, then sensor noise; the extra ops less often
        return [make["scale"](o["p"]), *(make[k](o["p"] / 2) for k in ("elastic", "blur", "noise"))]
    return [make[name](o["p"])]


def get_transform(name: str, **options: Any) -> Callable[..., dict[str, np.ndarray]]:
    """The named pipeline (see PIPELINES); options override DEFAULTS, e.g. p=1.0, scale_x=(0.8, 1.2)."""
    if name not in PIPELINES:
        raise ValueError(f"unknown augmentation {name!r}: choose one of {', '.join(PIPELINES)}")
    unknown = set(options) - set(DEFAULTS) - {"seed"}
    if unknown:
        raise ValueError(f"unknown augmentation option(s) {sorted(unknown)}: known are {sorted(DEFAULTS)}")
    o = {**DEFAULTS, **options}
    if name == "mixup":
        return MixUp(o["mixup_weight"], p=o["p"], buckets=o["buckets"], seed=o.get("seed"))
    if name == "none":
        return Augment(name, None)
    return Augment(name, A.Compose(_ops(name, o), seed=o.get("seed")))


def reseed(transform: Any, seed: int) -> None:
    """Give `transform` (from get_transform, or any albumentations transform) a fresh random state."""
    seed = int(seed) % 2**32
    if transform is None:
        return
    if hasattr(transform, "reseed"):
        transform.reseed(seed)
    elif isinstance(transform, (A.BaseCompose, A.BasicTransform)):
        transform.set_random_state(np.random.default_rng(seed), random.Random(seed))
    else:
        raise TypeError(f"cannot reseed {type(transform).__name__}: not an augmentation from lib.data.augment")
