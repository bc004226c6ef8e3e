"""The `course` source: the teaching assistant's train/ dev/ test/ folders of images + same-named .txt labels."""
from __future__ import annotations

from pathlib import Path

from . import SPLITS, im2latex
from .images import IMAGE_EXTS
from .staging import Tally, link_or_copy, write_csv, write_test_order

LAYOUT = ("expected <course_dir>/train/, dev/ and test/ holding images (.png/.jpg) with same-named .txt "
          "OCR labels (test without labels), or im2latex's list layout (a formula list, *_filter.lst split lists "
          "and an image folder)")
MANIFEST_FIELDS = ["crop_id", "split", "source", "label"]


class LayoutError(ValueError):
    """A course folder that does not have the expected layout; the message says what is wrong."""


def check_layout(course_dir: str | Path) -> Path:
    """The folder, or a LayoutError naming what is missing."""
    if not str(course_dir):
        raise LayoutError(f"data='course' needs the notebook parameter course_dir: {LAYOUT}")
    d = Path(course_dir).expanduser()
    if not d.is_dir():
        raise LayoutError(f"{d}: no such folder; {LAYOUT}")
    if im2latex.has_lists(d):
        try:
            im2latex.find_layout(d)
        except im2latex.LayoutError as e:
            raise LayoutError(str(e)) from None
        return d
    missing = [s for s in SPLITS if not (d / s).is_dir()]
    if missing:
        raise LayoutError(f"{d}: missing {', '.join(s + '/' for s in missing)}; {LAYOUT}")
    for s in ("train", "test"):
        if not any(p.suffix.lower() in IMAGE_EXTS for p in (d / s).iterdir()):
            raise LayoutError(f"{d / s}: no images ({', '.join(IMAGE_EXTS)}); {LAYOUT}")
    if not any(p.suffix.lower() == ".txt" for p in (d / "train").iterdir()):
        raise LayoutError(f"{d / 'train'}: no .txt labels; {LAYOUT}")
    return d


def import_course(course_dir: str | Path, out: Path) -> dict:
    """Pass the files through into `out/{split}/` (linked or copied, bytes untouched) with a manifest."""
    d = check_layout(course_dir)
    if im2latex.has_lists(d):  # the teaching assistant's data in im2latex's list form
        return im2latex.export_lists(d, out)
    tally, rows = Tally(), []
    order = test_list(d)
    for split in SPLITS:
        (out / split).mkdir(parents=True, exist_ok=True)
        seen_ids: set[str] = set()
        for p in sorted((d / split).iterdir()):
            ext = p.suffix.lower()
            if not p.is_file() or p.name.startswith(".") or (order and p == order):
                continue
            if ext == ".txt":
                link_or_copy(p, out / split / p.name)
            elif ext in IMAGE_EXTS:
                if p.stem in seen_ids:
                    tally.drop(split, "duplicate_image_name", p.name)
                    continue
                seen_ids.add(p.stem)
                link_or_copy(p, out / split / f"{p.stem}{ext}")
                tally.keep(split)
                label = p.with_suffix(".txt")
                rows.append({"crop_id": p.stem, "split": split, "source": str(p),
                             "label": label.name if label.exists() else ""})
            else:
                tally.drop(split, "not_an_image", p.name)
    write_csv(out / "manifest.csv", rows, MANIFEST_FIELDS)
    report = {"splits": tally.as_dict(), "layout": "folders"}
    if order:
        ids = write_test_order(out, [Path(line.strip()).stem for line in order.read_text(encoding="utf-8-sig")
                                     .splitlines() if line.strip()])
        report["test_order"] = {"from": str(order), "ids": ids}
    return report


TEST_LISTS = ("test_ids.txt", "test/test_ids.txt")  # the teaching assistant's order of the test images


def test_list(d: Path) -> Path | None:
    """The teaching assistant's list of test images (result.txt follows its order), when the folder has one."""
    return next((d / name for name in TEST_LISTS if (d / name).is_file()), None)
