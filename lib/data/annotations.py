"""labelImg boxes (Pascal VOC XML or YOLO txt) -> checked, clamped boxes -> formula crops with a margin."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..run import atomic
from .images import ImageError, load_grey, png_bytes

CROP_MARGIN = 6       # white-ish page pixels kept around each box (annotators box too tightly)
MIN_SIDE = 3          # a clamped box thinner than this many pixels holds no formula
DUPLICATE_IOU = 0.9   # a box overlapping an earlier one this much is the same formula boxed twice
INK_LEVEL = 128       # a page pixel darker than this is ink
MIN_INK_PIXELS = 12   # a box with fewer ink pixels holds no formula

# skip reasons
BAD_ANNOTATION = "annotation_unreadable"
BAD_BOX = "bad_box"
ZERO_AREA = "zero_area_box"
OUTSIDE = "box_outside_page"
TINY = "tiny_box"
DUPLICATE = "duplicate_box"
UNREADABLE_PAGE = "unreadable_page"
EMPTY = "box_without_ink"


class AnnotationError(ValueError):
    """An annotation file that cannot be read; the message names the file and the problem."""


@dataclass
class Box:
    """A box in 0-based pixel coordinates, x1/y1 exclusive; `problem` is set when it cannot be used."""

    k: int
    x0: float
    y0: float
    x1: float
    y1: float
    name: str = ""
    problem: str | None = None
    clamped: bool = False

    def as_ints(self) -> tuple[int, int, int, int]:
        return int(round(self.x0)), int(round(self.y0)), int(round(self.x1)), int(round(self.y1))


def parse_voc(path: str | Path) -> list[Box]:
    """Boxes of a labelImg Pascal VOC file in object order (labelImg writes 1-based pixel coordinates)."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as e:
        raise AnnotationError(f"{path}: XML does not parse ({e})") from None
    if root.tag != "annotation":
        raise AnnotationError(f"{path}: root element is <{root.tag}>, expected <annotation>")
    boxes = []
    for k, obj in enumerate(root.findall("object")):
        name = (obj.findtext("name") or "").strip()
        try:
            bb = obj.find("bndbox")
            xmin, ymin, xmax, ymax = (float(bb.findtext(t)) for t in ("xmin", "ymin", "xmax", "ymax"))
            # judged in the file's own numbers: xmin == xmax is a box of no width, whatever the convention
            zero = ZERO_AREA if xmax <= xmin or ymax <= ymin else None
            boxes.append(Box(k, xmin - 1, ymin - 1, xmax, ymax, name, problem=zero))
        except (AttributeError, TypeError, ValueError):
            boxes.append(Box(k, 0, 0, 0, 0, name, problem=BAD_BOX))
    return boxes


def parse_yolo(path: str | Path, width: int, height: int, classes: list[str] | None = None) -> list[Box]:
    """Boxes of a YOLO txt file (`class cx cy w h`, normalised to 0..1) in line order."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise AnnotationError(f"{path}: cannot read YOLO boxes ({e})") from None
    boxes = []
    for k, line in enumerate(l for l in lines if l.strip()):
        try:
            cls, cx, cy, w, h = line.split()
            cls_i, cx, cy, w, h = int(cls), float(cx), float(cy), float(w), float(h)
            name = classes[cls_i] if classes and 0 <= cls_i < len(classes) else cls
            boxes.append(Box(k, (cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width,
                             (cy + h / 2) * height, name, problem=ZERO_AREA if w <= 0 or h <= 0 else None))
        except ValueError:
            boxes.append(Box(k, 0, 0, 0, 0, problem=BAD_BOX))
    return boxes


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0))
    iy = max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))
    inter = ix * iy
    union = (a.x1 - a.x0) * (a.y1 - a.y0) + (b.x1 - b.x0) * (b.y1 - b.y0) - inter
    return inter / union if union > 0 else 0.0


def check_boxes(boxes: list[Box], width: int, height: int) -> list[Box]:
    """Clamp every box to the page and mark the degenerate ones (zero area, outside, tiny, duplicate)."""
    kept: list[Box] = []
    for b in boxes:
        if b.problem:
            continue
        if b.x1 <= b.x0 or b.y1 <= b.y0:
            b.problem = ZERO_AREA
            continue
        x0, y0, x1, y1 = max(0.0, b.x0), max(0.0, b.y0), min(float(width), b.x1), min(float(height), b.y1)
        if x1 <= x0 or y1 <= y0:
            b.problem = OUTSIDE
            continue
        b.clamped = (x0, y0, x1, y1) != (b.x0, b.y0, b.x1, b.y1)
        b.x0, b.y0, b.x1, b.y1 = x0, y0, x1, y1
        if x1 - x0 < MIN_SIDE or y1 - y0 < MIN_SIDE:
            b.problem = TINY
        elif any(iou(b, o) > DUPLICATE_IOU for o in kept):
            b.problem = DUPLICATE
        else:
            kept.append(b)
    return boxes


def ink_pixels(page: np.ndarray, box: Box) -> int:
    """Ink pixels inside the box (without the crop margin)."""
    x0, y0, x1, y1 = box.as_ints()
    return int((page[max(0, y0):y1, max(0, x0):x1] < INK_LEVEL).sum())


def crop(page: np.ndarray, box: Box, margin: int = CROP_MARGIN) -> np.ndarray:
    """The box plus `margin` pixels each side, clamped to the page."""
    x0, y0, x1, y1 = box.as_ints()
    h, w = page.shape[:2]
    return page[max(0, y0 - margin):min(h, y1 + margin), max(0, x0 - margin):min(w, x1 + margin)]


def read_classes(folder: Path) -> list[str] | None:
    path = folder / "classes.txt"
    if not path.exists():
        return None
    return [c.strip() for c in path.read_text(encoding="utf-8-sig").splitlines() if c.strip()]


def export_page(job: tuple[str, str, str, str]) -> dict:
    """Worker: (page image, annotation file, voc|yolo, crop folder) -> one row per box; errors as values."""
    page_path, ann_path, fmt, out_dir = job
    page_name = Path(page_path).stem
    result: dict = {"page": page_name, "boxes": [], "error": None, "reason": None}
    try:
        page = load_grey(page_path)
        h, w = page.shape
        boxes = (parse_voc(ann_path) if fmt == "voc"
                 else parse_yolo(ann_path, w, h, read_classes(Path(ann_path).parent)))
    except (ImageError, AnnotationError) as e:
        result.update(error=str(e), reason=UNREADABLE_PAGE if isinstance(e, ImageError) else BAD_ANNOTATION)
        try:  # still count the page's boxes when only the image is bad
            result["n_boxes"] = len(parse_voc(ann_path)) if fmt == "voc" else None
        except AnnotationError:
            result["n_boxes"] = None
        return result
    for b in check_boxes(boxes, w, h):
        if b.problem is None and ink_pixels(page, b) < MIN_INK_PIXELS:
            b.problem = EMPTY
        crop_id = f"{page_name}_{b.k:02d}"
        row = {"crop_id": crop_id, "k": b.k, "box": [round(v, 1) for v in (b.x0, b.y0, b.x1, b.y1)],
               "name": b.name, "problem": b.problem, "clamped": b.clamped}
        if b.problem is None:
            atomic.write_bytes(Path(out_dir) / f"{crop_id}.png", png_bytes(crop(page, b)))
        result["boxes"].append(row)
    return result
