"""Image loading and the shared preprocessing: white-space crop, then padding to a size bucket."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..run.profiles import DEFAULT_BUCKETS

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp")  # every reader uses these
INK_THRESHOLD = 200   # a pixel darker than this (0..255) is ink
MARGIN = 4            # pixels of white kept around the ink after cropping


class ImageError(ValueError):
    """An image that cannot be read; the message names the file and the problem."""


def load_grey(path: str | Path) -> np.ndarray:
    """Read an image as uint8 grey (H, W), white background; raises ImageError naming the file."""
    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
                im = im.convert("RGBA")
                bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
                im = Image.alpha_composite(bg, im)
            arr = np.asarray(im.convert("L"), dtype=np.uint8)
    except FileNotFoundError:
        raise ImageError(f"{path}: no such image file") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise ImageError(f"{path}: unreadable image ({e})") from None
    if arr.size == 0:
        raise ImageError(f"{path}: empty image (0 pixels)")
    return arr


def png_bytes(img: np.ndarray) -> bytes:
    """A uint8 image as PNG bytes (for atomic writes)."""
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", compress_level=3)
    return buf.getvalue()


def crop_whitespace(img: np.ndarray, threshold: int = INK_THRESHOLD, margin: int = MARGIN) -> np.ndarray:
    """Crop to the bounding box of pixels darker than `threshold`, keeping `margin` white pixels.

    An image without ink is returned unchanged (the caller decides whether that is an error).
    """
    ink = img < threshold
    rows = np.flatnonzero(ink.any(axis=1))
    if rows.size == 0:
        return img
    cols = np.flatnonzero(ink.any(axis=0))
    crop = img[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    if margin:
        crop = np.pad(crop, margin, mode="constant", constant_values=255)
    return crop


def level_paper(img: np.ndarray, percentile: float = 90.0) -> np.ndarray:
    """Stretch grey so the paper tone (a high percentile) becomes white: scans and white padding then match."""
    paper = float(np.percentile(img, percentile))
    if paper >= 250 or paper <= INK_THRESHOLD * 0.5:   # already white, or no clear paper to level
        return img
    return np.clip(img.astype(np.float32) * (255.0 / paper), 0, 255).astype(np.uint8)


def has_ink(img: np.ndarray, threshold: int = INK_THRESHOLD) -> bool:
    return bool((img < threshold).any())


def pick_bucket(width: int, height: int,
                buckets: Sequence[Sequence[int]] = DEFAULT_BUCKETS) -> tuple[int, int] | None:
    """The smallest-area (width, height) bucket holding the image, or None if none does."""
    fitting = [(w, h) for w, h in buckets if w >= width and h >= height]
    return min(fitting, key=lambda b: (b[0] * b[1], b)) if fitting else None


def fit_to_buckets(img: np.ndarray, buckets: Sequence[Sequence[int]] = DEFAULT_BUCKETS) -> np.ndarray:
    """Scale an image down (keeping its aspect) until some bucket holds it; never scales up."""
    h, w = img.shape
    if pick_bucket(w, h, buckets) is not None:
        return img
    # the largest scale at which some bucket fits
    scale = max(min(bw / w, bh / h) for bw, bh in buckets)
    nw, nh = max(1, int(w * scale)), max(1, int(h * scale))
    return np.asarray(Image.fromarray(img).resize((nw, nh), Image.Resampling.LANCZOS), dtype=np.uint8)


def pad_to_bucket(img: np.ndarray, buckets: Sequence[Sequence[int]] = DEFAULT_BUCKETS) -> np.ndarray:
    """Pad with white (right and bottom) to the smallest bucket; too-large images are scaled down first."""
    img = fit_to_buckets(img, buckets)
    h, w = img.shape
    bw, bh = pick_bucket(w, h, buckets)
    out = np.full((bh, bw), 255, dtype=np.uint8)
    out[:h, :w] = img
    return out


def preprocess(img: np.ndarray, buckets: Sequence[Sequence[int]] = DEFAULT_BUCKETS,
               threshold: int = INK_THRESHOLD, margin: int = MARGIN) -> np.ndarray:
    """The one preprocessing used by cleaning and by prediction: level the paper, crop white space, pad."""
    return pad_to_bucket(crop_whitespace(level_paper(img), threshold, margin), buckets)
