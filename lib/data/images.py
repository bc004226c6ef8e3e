"""Image loading and the shared preprocessing: level the paper, dark ink on white, white space cropped,
the scale of the training data, padding to a size bucket.

Every image a model sees goes through `preprocess`: the crops of step 02 and any file given to prediction
(a phone photo, a screenshot, a dark-mode capture), so both look alike to the model.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .buckets import COURSE, pick_bucket

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp")  # every reader uses these
INK_THRESHOLD = 200   # a pixel darker than this (0..255) is ink
MARGIN = 4            # pixels of white kept around the ink after cropping


class ImageError(ValueError):
    """An image that cannot be read; the message names the file and the problem."""


def to_grey(im: Image.Image) -> np.ndarray:
    """A PIL image as uint8 grey (H, W): EXIF orientation applied (phone photos), transparency on white,
    16-bit and float images scaled to 0..255 (PIL's own conversion would clip them to white)."""
    im = ImageOps.exif_transpose(im)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(bg, im)
    if im.mode.startswith(("I", "F")):  # I;16, I;16B, I (PNG 16-bit grey), F
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if arr.max() > 255 else 255.0
        return np.clip(np.rint(arr * (255.0 / top)), 0, 255).astype(np.uint8)
    return np.asarray(im.convert("L"), dtype=np.uint8)


def load_grey(path: str | Path) -> np.ndarray:
    """Read an image as uint8 grey (H, W) (see `to_grey`); raises ImageError naming the file."""
    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            arr = to_grey(im)
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


def dark_ink(img: np.ndarray) -> np.ndarray:
    """Dark ink on light paper: an image whose background (its median tone) is dark, as a dark-mode
    screenshot or chalk on a board, is inverted."""
    return 255 - img if float(np.median(img)) < 128 else img


def has_ink(img: np.ndarray, threshold: int = INK_THRESHOLD) -> bool:
    return bool((img < threshold).any())


def stroke_width(img: np.ndarray, threshold: int = INK_THRESHOLD) -> float | None:
    """The pen's width in pixels, 2 x ink area / boundary length (None without ink). It grows with the
    image's scale whatever the formula's shape (a tall fraction has the same strokes as a short sum);
    strokes of one or two pixels read as about 2."""
    ink = img < threshold
    area = int(ink.sum())
    if area == 0:
        return None
    inner = ink[1:-1, 1:-1] & ink[:-2, 1:-1] & ink[2:, 1:-1] & ink[1:-1, :-2] & ink[1:-1, 2:]
    boundary = area - int(inner.sum())
    return 2.0 * area / max(boundary, 1)


def ink_scale(images: Sequence[np.ndarray], threshold: int = INK_THRESHOLD) -> dict:
    """What the training images look like, for `rescale`: median stroke width and the range of ink heights
    (smallest and largest) of the cropped images."""
    strokes = [w for w in (stroke_width(im, threshold) for im in images) if w]
    heights = [crop_whitespace(im, threshold, 0).shape[0] for im in images if has_ink(im, threshold)]
    if not strokes:
        return {}
    return {"stroke_px": round(float(np.median(strokes)), 3),
            "height_lo": int(min(heights)), "height_hi": int(max(heights)), "images": len(strokes)}


def _resize(img: np.ndarray, factor: float) -> np.ndarray:
    h, w = img.shape
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    resample = Image.Resampling.LANCZOS if factor < 1 else Image.Resampling.BICUBIC
    return np.asarray(Image.fromarray(img).resize(size, resample), dtype=np.uint8)


def rescale(img: np.ndarray, scale: dict | None, threshold: int = INK_THRESHOLD) -> np.ndarray:
    """Bring a cropped image to the training data's scale: shrink it while its strokes are over 1.5 times
    the training strokes (an enlarged crop, a phone photo), and keep its ink height within the training
    range (a tiny screenshot is enlarged). `scale` comes from `ink_scale` (stored with each checkpoint)."""
    if not scale or not has_ink(img, threshold):
        return img
    for _ in range(3):  # the stroke estimate is exact for wide strokes, so this converges at once
        width = stroke_width(img, threshold)
        if width is None or width <= 1.5 * scale["stroke_px"]:
            break
        img = _resize(img, scale["stroke_px"] / width)
    h = img.shape[0]
    if h > scale["height_hi"]:
        img = _resize(img, scale["height_hi"] / h)
    elif h < scale["height_lo"]:
        img = _resize(img, scale["height_lo"] / h)
    return img


def fit_to_buckets(img: np.ndarray, buckets: Sequence[Sequence[int]] = COURSE) -> np.ndarray:
    """Scale an image down (keeping its aspect) until some bucket holds it; never scales up."""
    h, w = img.shape
    if pick_bucket(w, h, buckets) is not None:
        return img
    # the largest scale at which some bucket fits
    scale = max(min(bw / w, bh / h) for bw, bh in buckets)
    nw, nh = max(1, int(w * scale)), max(1, int(h * scale))
    return np.asarray(Image.fromarray(img).resize((nw, nh), Image.Resampling.LANCZOS), dtype=np.uint8)


def pad_to_bucket(img: np.ndarray, buckets: Sequence[Sequence[int]] = COURSE) -> np.ndarray:
    """Pad with white (right and bottom) to the smallest bucket; too-large images are scaled down first."""
    img = fit_to_buckets(img, buckets)
    h, w = img.shape
    bw, bh = pick_bucket(w, h, buckets)
    out = np.full((bh, bw), 255, dtype=np.uint8)
    out[:h, :w] = img
    return out


def preprocess(img: np.ndarray, buckets: Sequence[Sequence[int]] = COURSE,
               threshold: int = INK_THRESHOLD, margin: int = MARGIN, scale: dict | None = None) -> np.ndarray:
    """The one preprocessing of cleaning and prediction: dark ink on light paper, the paper levelled to white,
    white space cropped, (with `scale`) the training data's scale, padded to a bucket."""
    img = crop_whitespace(level_paper(dark_ink(img)), threshold, 0)
    img = rescale(img, scale, threshold)
    if margin:
        img = np.pad(img, margin, mode="constant", constant_values=255)
    return pad_to_bucket(img, buckets)
