"""Check labelImg annotations before handing them in: `python -m lib.pages check DIR [--gallery OUT]`.

A folder of exam pages (PNG/JPG) with labelImg's files beside them (Pascal VOC `.xml`, or YOLO `.txt` plus
`classes.txt`), flat or in `train/ dev/ test/` subfolders. Every problem is named with its file and box:

- errors (the box gives no usable crop): unreadable files, boxes of zero area, outside the page, tiny, boxed
  twice, or holding no ink; pages without annotation or with no box; annotations without a page;
- warnings (the crop is made, but look again): boxes partly outside the page (clamped), boxes that overlap
  another (a crop then holds part of the next formula).

The gallery draws each page with its numbered boxes (green: fine, orange: warning, red: error).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from . import SPLITS
from . import annotations as ann
from .images import ImageError, load_grey

PAGE_EXTS = (".png", ".jpg", ".jpeg")
OVERLAP_IOU = 0.02       # boxes overlapping more than this (and not duplicates) are named

# problems besides lib/data/annotations.py's reasons
NO_ANNOTATION = "page_without_annotation"
NO_PAGE = "annotation_without_page"
NO_BOXES = "page_without_boxes"
PARTLY_OUTSIDE = "box_partly_outside_page"
OVERLAP = "boxes_overlap"
WARNINGS = (PARTLY_OUTSIDE, OVERLAP)


@dataclass
class Page:
    image: Path | None
    annotation: Path | None
    fmt: str        # voc | yolo | ""
    split: str


def find_pages(folder: Path) -> list[Page]:
    """Pages and their annotation files: in `train/ dev/ test/` subfolders when there are any, else the folder
    itself (split "train"); an image without annotation and an annotation without image are listed too."""
    folder = Path(folder)
    subs = [(s, folder / s) for s in SPLITS if (folder / s).is_dir()]
    pages = []
    for split, d in subs or [("train", folder)]:
        images = {p.stem: p for p in sorted(d.iterdir()) if p.suffix.lower() in PAGE_EXTS}
        notes = {p.stem: p for p in sorted(d.iterdir())
                 if p.suffix.lower() in (".xml", ".txt") and p.name != "classes.txt"}
        for stem in sorted(set(images) | set(notes)):
            note = notes.get(stem)
            xml = d / f"{stem}.xml"
            note = xml if xml.exists() else note
            fmt = "" if note is None else "voc" if note.suffix.lower() == ".xml" else "yolo"
            pages.append(Page(images.get(stem), note, fmt, split))
    return pages


def _problem(where: str, reason: str, detail: str = "", boxes: tuple[int, ...] = ()) -> dict:
    return {"where": where, "problem": reason, "detail": detail, "boxes": list(boxes),
            "level": "warning" if reason in WARNINGS else "error"}


def check_page(page: Page) -> dict:
    """The page's boxes (checked, clamped) and its problems, each naming the file and box."""
    name = str(page.annotation or page.image)
    out = {"page": str(page.image) if page.image else None, "annotation": str(page.annotation or ""),
           "format": page.fmt, "split": page.split, "boxes": [], "problems": []}
    if page.image is None:
        out["problems"].append(_problem(name, NO_PAGE, "no page image with the same name"))
        return out
    if page.annotation is None:
        out["problems"].append(_problem(str(page.image), NO_ANNOTATION, "no .xml or .txt beside it"))
        return out
    try:
        grey = load_grey(page.image)
        h, w = grey.shape
        boxes = (ann.parse_voc(page.annotation) if page.fmt == "voc"
                 else ann.parse_yolo(page.annotation, w, h, ann.read_classes(page.annotation.parent)))
    except (ImageError, ann.AnnotationError) as e:
        reason = ann.UNREADABLE_PAGE if isinstance(e, ImageError) else ann.BAD_ANNOTATION
        out["problems"].append(_problem(name, reason, str(e)))
        return out
    if not boxes:
        out["problems"].append(_problem(name, NO_BOXES, "the page has no box"))
    shift = 1 if page.fmt == "voc" else 0  # coordinates as the file writes them (VOC's are 1-based)
    raw = {b.k: (b.x0 + shift, b.y0 + shift, b.x1, b.y1) for b in boxes}
    for b in ann.check_boxes(boxes, w, h):
        where = f"{name} box {b.k}" + (f" ({b.name})" if b.name else "")
        coords = ", ".join(f"{v:.0f}" for v in raw[b.k])
        if b.problem is None and ann.ink_pixels(grey, b) < ann.MIN_INK_PIXELS:
            b.problem = ann.EMPTY
        if b.problem:
            out["problems"].append(_problem(where, b.problem, f"box {coords}", (b.k,)))
        elif b.clamped:
            out["problems"].append(_problem(where, PARTLY_OUTSIDE, f"box {coords} cut to the page", (b.k,)))
        out["boxes"].append({"k": b.k, "box": [round(v, 1) for v in (b.x0, b.y0, b.x1, b.y1)], "name": b.name,
                             "problem": b.problem, "clamped": b.clamped})
    usable = [b for b in boxes if b.problem is None]
    for i, a in enumerate(usable):
        for b in usable[i + 1:]:
            if ann.iou(a, b) > OVERLAP_IOU:
                out["problems"].append(_problem(f"{name} boxes {a.k} and {b.k}", OVERLAP,
                                                f"they share {100 * ann.iou(a, b):.0f} % of their area",
                                                (a.k, b.k)))
    return out


def check_folder(folder: str | Path, gallery: str | Path | None = None) -> dict:
    """Check every page of `folder`; with `gallery`, draw each annotated page there (`<page>.png`)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    pages = [check_page(p) for p in find_pages(folder)]
    if gallery is not None:
        Path(gallery).mkdir(parents=True, exist_ok=True)
        for p in pages:
            if p["page"] and p["boxes"]:
                draw_page(p).save(Path(gallery) / f"{Path(p['page']).stem}.png")
    problems = [q for p in pages for q in p["problems"]]
    counts: dict[str, int] = {}
    for q in problems:
        counts[q["problem"]] = counts.get(q["problem"], 0) + 1
    return {"folder": str(folder), "pages": sum(p["page"] is not None for p in pages),
            "annotated": sum(bool(p["boxes"]) for p in pages),
            "boxes": sum(len(p["boxes"]) for p in pages),
            "usable_boxes": sum(b["problem"] is None for p in pages for b in p["boxes"]),
            "errors": sum(q["level"] == "error" for q in problems),
            "warnings": sum(q["level"] == "warning" for q in problems),
            "counts": counts, "problems": problems, "gallery": str(gallery) if gallery else None}


def draw_page(page: dict, width: int = 1200) -> Image.Image:
    """The page with its numbered boxes: green fine, orange a warning, red an error."""
    grey = load_grey(page["page"])
    scale = min(1.0, width / grey.shape[1])
    img = Image.fromarray(grey).convert("RGB")
    if scale < 1.0:
        img = img.resize((round(grey.shape[1] * scale), round(grey.shape[0] * scale)))
    draw = ImageDraw.Draw(img)
    warned = {k for q in page["problems"] if q["level"] == "warning" for k in q["boxes"]}
    for b in page["boxes"]:
        colour = (220, 30, 30) if b["problem"] else (240, 140, 0) if b["k"] in warned else (20, 170, 40)
        x0, y0, x1, y1 = (v * scale for v in b["box"])
        draw.rectangle((x0, y0, max(x1, x0 + 2), max(y1, y0 + 2)), outline=colour, width=2)
        draw.text((x0 + 2, max(0, y0 - 12)), f"{b['k']}" + (f" {b['problem']}" if b["problem"] else ""),
                  fill=colour)
    return img


def format_report(report: dict) -> str:
    """The lines a student reads: a summary, then each problem with its file and box."""
    lines = [f"{report['folder']}: {report['pages']} pages, {report['annotated']} annotated, {report['boxes']} boxes "
             f"({report['usable_boxes']} usable); {report['errors']} errors, {report['warnings']} warnings"]
    inside = report["folder"].rstrip("/") + "/"  # names below the folder, as the student sees them
    lines += [f"  {q['level']}: {q['where'].replace(inside, '')}: {q['problem']}"
              + (f" ({q['detail'].replace(inside, '')})" if q["detail"] else "") for q in report["problems"]]
    if report["gallery"]:
        lines.append(f"pages drawn with their boxes: {report['gallery']}")
    return "\n".join(lines)
