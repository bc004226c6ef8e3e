"""The `im2latex` source: im2latex-100k's layout (a formula list, split lists, an image folder), also the form in
which a teaching assistant's cleaned data arrives (the `course` source detects it).

    <dir>/im2latex_formulas.norm.lst     one formula per line (or im2latex_formulas.lst, formulas.norm.lst)
    <dir>/im2latex_train_filter.lst      `image.png formula_index` lines (processed form), or the raw
    <dir>/im2latex_validate_filter.lst   `formula_index image render_type` lines (im2latex_train.lst ...)
    <dir>/im2latex_test_filter.lst
    <dir>/formula_images_processed/      the images (or formula_images/: raw full-page renders; or images/)

The formula list is read with newline="\\n": some formulas hold a carriage return, which splits a line for
Python's universal newlines and would shift every later index.
"""
from __future__ import annotations

import os
from pathlib import Path

from . import SPLITS
from .images import IMAGE_EXTS
from .staging import Tally, link_or_copy, write_csv, write_test_order

ENV = "IM2LATEX_IM2LATEX_DIR"  # used when the notebook parameter im2latex_dir is empty
FORMULA_LISTS = ("im2latex_formulas.norm.lst", "formulas.norm.lst", "im2latex_formulas.lst", "formulas.lst")
SPLIT_LISTS = {
    "train": ("im2latex_train_filter.lst", "train_filter.lst", "im2latex_train.lst", "train.lst"),
    "dev": ("im2latex_validate_filter.lst", "validate_filter.lst", "im2latex_validate.lst", "validate.lst",
            "val_filter.lst", "dev_filter.lst"),
    "test": ("im2latex_test_filter.lst", "test_filter.lst", "im2latex_test.lst", "test.lst"),
}
IMAGE_DIRS = ("formula_images_processed", "formula_images", "images")
LAYOUT = ("expected a formula list (" + " or ".join(FORMULA_LISTS[:2]) + "), split lists (im2latex_train_filter.lst, "
          "im2latex_validate_filter.lst, im2latex_test_filter.lst) and an image folder (" + ", ".join(IMAGE_DIRS) + ")")
MANIFEST_FIELDS = ["crop_id", "split", "source", "label", "formula_index"]
# drop reasons of the export report
BAD_LINE = "malformed_list_line"
NO_FORMULA = "formula_index_out_of_range"
NO_IMAGE = "image_missing"
DUPLICATE = "duplicate_image_name"


class LayoutError(ValueError):
    """A folder without im2latex's layout; the message names the folder and what is missing."""


def _first(d: Path, names) -> Path | None:
    return next((d / n for n in names if (d / n).is_file()), None)


def has_lists(d: str | Path) -> bool:
    """True when a folder holds a formula list and at least a train split list (the list layout)."""
    d = Path(d)
    return _first(d, FORMULA_LISTS) is not None and _first(d, SPLIT_LISTS["train"]) is not None


def find_layout(d: str | Path) -> dict:
    """{"formulas": path, "lists": {split: path}, "images": folder} of a list-layout folder, or a LayoutError."""
    d = Path(d).expanduser()
    if not d.is_dir():
        raise LayoutError(f"{d}: no such folder; {LAYOUT} (python -m lib.im2latex fetch makes one)")
    formulas = _first(d, FORMULA_LISTS)
    lists = {s: _first(d, names) for s, names in SPLIT_LISTS.items()}
    images = next((d / n for n in IMAGE_DIRS if (d / n).is_dir()), None)
    missing = ([] if formulas else ["a formula list"]) + [f"the {s} list" for s in ("train", "test") if not lists[s]]
    missing += [] if images else ["an image folder"]
    if missing:
        raise LayoutError(f"{d}: missing {', '.join(missing)}; {LAYOUT}")
    return {"formulas": formulas, "lists": {s: p for s, p in lists.items() if p}, "images": images}


def find_dir(im2latex_dir: str | Path, home: Path) -> Path:
    """`im2latex_dir`, else $IM2LATEX_IM2LATEX_DIR, else <data>/raw/im2latex (python -m lib.im2latex fetch)."""
    for d in (im2latex_dir, os.environ.get(ENV, ""), Path(home) / "data" / "raw" / "im2latex"):
        if str(d) and Path(d).expanduser().is_dir():
            find_layout(d)
            return Path(d).expanduser().resolve()
    raise LayoutError(f"no im2latex data: run `python -m lib.im2latex fetch` (or `--render` to typeset the "
                      f"formulas yourself), or set the notebook parameter im2latex_dir; {LAYOUT}")


def read_formulas(path: str | Path) -> list[str]:
    """The formula list, one formula per line; a carriage return inside a formula stays in it (as a space)."""
    with open(path, encoding="utf-8", errors="replace", newline="\n") as f:
        return [line.rstrip("\n").replace("\r", " ").strip() for line in f]


def parse_list_line(line: str) -> tuple[str, int] | None:
    """(image file name, formula index) of one split-list line in either published form, else None:
    `image.png 123` (processed) or `123 image render_type` (raw; the image is image.png)."""
    parts = line.split()
    if len(parts) == 2 and parts[1].isdigit():
        name = parts[0]
        return (name if Path(name).suffix.lower() in IMAGE_EXTS else f"{name}.png"), int(parts[1])
    if len(parts) == 3 and parts[0].isdigit():
        return f"{parts[1]}.png", int(parts[0])
    return None


def read_split_list(path: str | Path) -> tuple[list[tuple[str, int]], list[str]]:
    """(entries, problems): the (image, formula index) of every well-formed line, and 'line N: ...' for the rest."""
    entries, problems = [], []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        e = parse_list_line(line)
        if e is None:
            problems.append(f"{Path(path).name} line {n}: {line.strip()[:60]!r}")
        else:
            entries.append(e)
    return entries, problems


def export_lists(d: str | Path, out: Path, limits: dict[str, int | None] | None = None) -> dict:
    """Images linked into `out/{split}/`, each formula written beside it as a label (test: into answer_key/),
    every skipped line counted with its reason; the first `limits[split]` entries of a list when given."""
    layout = find_layout(d)
    formulas = read_formulas(layout["formulas"])
    tally, rows = Tally(), []
    (out / "answer_key").mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        (out / split).mkdir(parents=True, exist_ok=True)
        if split not in layout["lists"]:
            continue
        entries, problems = read_split_list(layout["lists"][split])
        for p in problems:
            tally.drop(split, BAD_LINE, p)
        limit = (limits or {}).get(split)
        if split == "test":  # result.txt follows the test list's order
            order = write_test_order(out, [Path(n).stem for n, _ in (entries[:limit] if limit is not None
                                                                     else entries)])
        seen: set[str] = set()
        for name, idx in entries[:limit] if limit is not None else entries:
            stem = Path(name).stem
            src = layout["images"] / name
            if stem in seen:
                tally.drop(split, DUPLICATE, name)
                continue
            seen.add(stem)
            if not 0 <= idx < len(formulas):
                tally.drop(split, NO_FORMULA, f"{name}: index {idx} of {len(formulas)} formulas")
                continue
            if not src.is_file():
                tally.drop(split, NO_IMAGE, f"{name}: not in {layout['images'].name}/")
                continue
            link_or_copy(src, out / split / f"{stem}{src.suffix.lower()}")
            label = (out / "answer_key" if split == "test" else out / split) / f"{stem}.txt"
            label.write_text(f"${formulas[idx]}$\n", encoding="utf-8")
            tally.keep(split)
            rows.append({"crop_id": stem, "split": split, "source": str(src), "label": label.name,
                         "formula_index": idx})
    write_csv(out / "manifest.csv", rows, MANIFEST_FIELDS)
    orders = {"test_order": {"from": layout["lists"]["test"].name, "ids": order}} if "test" in layout["lists"] else {}
    return {"splits": tally.as_dict(), "layout": "im2latex lists", **orders,
            "lists": {s: p.name for s, p in layout["lists"].items()}, "formula_list": layout["formulas"].name,
            "image_folder": layout["images"].name, "formulas": len(formulas)}
