"""The whole demo set: a plan of every page (cheap, global), then pages drawn in parallel from per-page seeds."""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import time
from pathlib import Path

import numpy as np
from PIL import Image

from ...run.atomic import write_json, write_text
from ...run.parallel import default_workers
from ...run.progress import progress
from .. import SPLITS
from ..render import failure_reasons, random_tex_style, render_tex, tex_available
from .defects import BOX_DEFECTS, CLASS_NAME, LABEL_DEFECTS, annotate_box, label_bytes, voc_xml, yolo_txt
from .broad import sample_mixed
from .grammar import sample_formula
from .pages import Formula, compose_page
from .render import glyph_outlines

VERSION = 1
EXAM_ONLY = {"exam": 1.0}  # the exam grammar alone (the demo set before the broader mix)
LABEL_RATES = {"error": 0.05, "multiline": 0.03, "chinese": 0.04, "empty": 0.02, "gbk": 0.02, "bom": 0.02}
BOX_RATES = {"tight": 0.08, "loose": 0.08, "outside": 0.04, "zero": 0.02, "duplicate": 0.03}
YOLO_RATE, RGB_RATE, HAND_RATE = 0.08, 0.3, 0.6
OUTPUTS = ("pages", "ocr", "answer_key", "truth.jsonl", "synth.json", "tex")


def split_sizes(n: int) -> dict[str, int]:
    """Pages per split: about 80/10/10, every split non-empty from 3 pages on (4 pages: 2/1/1)."""
    dev = max(1, round(0.1 * n)) if n >= 3 else 0
    test = max(1, round(0.1 * n)) if n >= 2 else 0
    return {"train": n - dev - test, "dev": dev, "test": test}


def _pick(rng: np.random.Generator, rates: dict[str, float]) -> str:
    r, acc = rng.random(), 0.0
    for name, p in rates.items():
        acc += p
        if r < acc:
            return name
    return "none"


def _force_all(items: list[dict], key: str, kinds: tuple[str, ...], rng: np.random.Generator) -> None:
    """Give each defect kind at least one box when there are enough boxes (small sets still show them all)."""
    missing = [k for k in kinds if not any(it[key] == k for it in items)]
    free = [it for it in items if it[key] == "none"]
    if len(free) < 2 * len(kinds):
        return
    for kind, j in zip(missing, rng.choice(len(free), size=len(missing), replace=False)):
        free[int(j)][key] = kind


def mathtext_can(latex: str) -> bool:
    """True when matplotlib's mathtext parses the formula."""
    try:
        glyph_outlines(latex, "cm")
        return True
    except ValueError:
        return False


def _mix_formulas(out: list[dict], seed: int, mix: dict, tex: float) -> None:
    """Replace the exam formulas by the mix (its own random stream: the exam-only plan stays as it was) and
    mark a share `tex` of them to be typeset by LaTeX."""
    rng = np.random.default_rng([seed, 104729])
    for page in out:
        for f in page["formulas"]:
            latex = bool(tex > 0 and rng.random() < tex)
            if mix != EXAM_ONLY:
                for _ in range(50):  # what mathtext draws must parse in it (TeX's failures are handled later)
                    f["latex"], f["source"] = sample_mixed(rng, mix, matrices=latex)
                    if latex or mathtext_can(f["latex"]):
                        break
            if latex:
                f["kind"] = "latex"


def plan(pages: int, seed: int, mix: dict | None = None, tex: float = 0.0) -> list[dict]:
    """Every page's split, format, formulas and defects; drawing a page needs only its entry.

    `mix` weighs the kinds of formula (lib/data/synth/broad.py: exam, random, fragment; default the exam
    grammar alone); `tex` is the share typeset by LaTeX instead of mathtext (`typeset` draws them).
    """
    rng = np.random.default_rng([seed, 7919])
    sizes = split_sizes(pages)
    splits = [s for s in SPLITS for _ in range(sizes[s])]
    splits = [splits[int(i)] for i in rng.permutation(pages)]
    out, boxes = [], []
    for i, split in enumerate(splits):
        n = int(rng.integers(6, 13))
        forms = [{"latex": sample_formula(rng), "kind": "handwritten" if rng.random() < HAND_RATE else "printed"}
                 for _ in range(n)]
        items = [{"f": j, "box_defect": _pick(rng, BOX_RATES), "split": split,
                  "label_defect": _pick(rng, LABEL_RATES) if split != "test" else "none"} for j in range(n)]
        out.append({"name": f"page_{i:04d}", "index": i, "split": split, "formulas": forms, "items": items,
                    "format": "yolo" if rng.random() < YOLO_RATE else "voc", "rgb": bool(rng.random() < RGB_RATE)})
        boxes += items
    _force_all(boxes, "box_defect", BOX_DEFECTS, rng)
    for b in boxes:  # the OCR service answers an empty crop with an error
        if b["box_defect"] == "zero" and b["split"] != "test":
            b["label_defect"] = "error"
    _force_all([b for b in boxes if b["split"] != "test"], "label_defect", LABEL_DEFECTS, rng)
    if (mix and mix != EXAM_ONLY) or tex > 0:
        _mix_formulas(out, seed, dict(mix or EXAM_ONLY), tex)
    train = [p for p in out if p["split"] == "train"]
    if len(train) >= 2 and not any(p["format"] == "yolo" for p in out):
        train[int(rng.integers(len(train)))]["format"] = "yolo"
    for p in out:
        _finish_items(p, rng)
    return out


def _finish_items(page: dict, rng: np.random.Generator) -> None:
    """Duplicates become extra boxes; `outside` formulas go to a page edge; annotators sometimes go out of order."""
    items = []
    for it in page["items"]:
        if it["box_defect"] == "outside":
            page["formulas"][it["f"]]["edge"] = True
        dup = it["box_defect"] == "duplicate"
        items.append({**it, "box_defect": "none" if dup else it["box_defect"]})
        if dup:
            items.append(dict(it))
    if len(items) > 2 and rng.random() < 0.3:
        a = int(rng.integers(len(items) - 1))
        items[a], items[a + 1] = items[a + 1], items[a]
    page["items"] = items


def draw_page(page: dict, seed: int, out: str) -> list[dict]:
    """Render one planned page and write its image, annotation and label files; returns its truth records."""
    rng = np.random.default_rng([seed, page["index"], 1])
    root, name, split = Path(out), page["name"], page["split"]
    forms = [Formula(f["latex"], f["kind"], f.get("edge", False), f.get("image")) for f in page["formulas"]]
    img, inks = compose_page(forms, rng, rgb=page["rgb"])
    h, w = img.shape[:2]
    pdir = root / "pages" / split
    Image.fromarray(img).save(pdir / f"{name}.png", compress_level=4)
    items = page["items"]
    first = {it["f"]: annotate_box(inks[it["f"]], it["box_defect"], w, h, rng)
             for it in items if it["box_defect"] != "duplicate"}
    # a duplicate is the same box drawn again, a pixel or so off
    boxes = [first[it["f"]] if it["box_defect"] != "duplicate" else
             tuple(int(b + rng.integers(-1, 2)) for b in first[it["f"]]) for it in items]
    records = []
    for k, (it, box) in enumerate(zip(items, boxes)):
        f = page["formulas"][it["f"]]
        cid = f"{name}_{k:02d}"
        if split == "test":
            (root / "answer_key" / "test" / f"{cid}.txt").write_text(f"${f['latex']}$\n", encoding="utf-8")
        else:
            other = page["formulas"][int(rng.integers(len(page["formulas"])))]["latex"]
            (root / "ocr" / split / f"{cid}.txt").write_bytes(label_bytes(f["latex"], it["label_defect"], rng, other))
        records.append({"page": name, "split": split, "k": k, "latex": f["latex"], "kind": f["kind"],
                        "source": f.get("source", "exam"),
                        "box": list(box), "box_defect": it["box_defect"], "label_defect": it["label_defect"],
                        "format": page["format"], "ink_box": list(inks[it["f"]]), "size": [w, h]})
    if page["format"] == "yolo":
        (pdir / f"{name}.txt").write_text(yolo_txt(boxes, w, h), encoding="utf-8")
    else:
        # labelImg records the annotator's own absolute path, useless on any other machine
        path = f"C:\\Users\\student\\Desktop\\exam\\{split}\\{name}.png"
        xml = voc_xml(f"{name}.png", split, path, w, h, 3 if img.ndim == 3 else 1, boxes)
        (pdir / f"{name}.xml").write_text(xml, encoding="utf-8")
    return records


def typeset(out: Path, pages: list[dict], seed: int, workers: int = 2) -> dict:
    """Typeset the formulas planned as `latex` with TeX into `out/tex/` (their images go on the pages); one
    that TeX cannot set is drawn by mathtext instead (an exam formula in its place where mathtext cannot
    either) and counted with its reason. Without TeX every one is drawn by mathtext, and that is said."""
    todo = [f for p in pages for f in p["formulas"] if f["kind"] == "latex"]
    summary = {"planned": len(todo), "typeset": 0, "engine": "latex" if tex_available() else "mathtext",
               "failed": {}}
    if not todo:
        return summary
    rng = np.random.default_rng([seed, 15485863])
    styles = [random_tex_style(rng) for _ in todo]
    images, failed = render_tex([f["latex"] for f in todo], styles, workers=workers) if tex_available() else (
        [None] * len(todo), {})
    (out / "tex").mkdir(exist_ok=True)
    for i, (f, img) in enumerate(zip(todo, images)):
        if img is not None:
            f["image"] = str(out / "tex" / f"{i:06d}.png")
            Image.fromarray(img).save(f["image"])
            summary["typeset"] += 1
            continue
        f["kind"] = "printed"  # drawn by mathtext instead; an exam formula where mathtext cannot draw it either
        if not mathtext_can(f["latex"]):
            f["latex"] = sample_formula(rng)
    summary["failed"] = failure_reasons(failed)
    return summary


def _draw(args: tuple) -> list[dict]:
    return draw_page(*args)


def _prepare(out: Path, pages: list[dict]) -> None:
    for name in OUTPUTS:  # only what this generator writes; anything else in `out` is left alone
        p = out / name
        shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
    for s in SPLITS:
        (out / "pages" / s).mkdir(parents=True, exist_ok=True)
    for s in ("train", "dev"):
        (out / "ocr" / s).mkdir(parents=True, exist_ok=True)
    (out / "answer_key" / "test").mkdir(parents=True, exist_ok=True)
    for s in {p["split"] for p in pages if p["format"] == "yolo"}:
        (out / "pages" / s / "classes.txt").write_text(CLASS_NAME + "\n", encoding="utf-8")


def mix_params(mix: dict | None, tex: float) -> dict:
    """What a demo set's formulas depend on beside pages and seed (empty for the exam grammar alone)."""

    out = {}
    if mix and dict(mix) != EXAM_ONLY:
        out["mix"] = {k: float(v) for k, v in sorted(dict(mix).items())}
    if tex > 0:
        out["tex"] = float(tex)
        out["tex_engine"] = "latex" if tex_available() else "mathtext"
    return out


def mix_tag(mix: dict | None, tex: float) -> str:
    """A folder-name suffix for a demo set with another mix than the exam grammar alone ("" for that one)."""
    import hashlib

    params = {k: v for k, v in mix_params(mix, tex).items() if k != "tex_engine"}
    return "" if not params else "-m" + hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:6]


def generate(out_dir: str | os.PathLike, pages: int, seed: int = 0, workers: int | None = None,
             reuse: bool = False, show_progress: bool = True, mix: dict | None = None, tex: float = 0.0) -> dict:
    """Write the demo set under `out_dir` (same seed, same bytes) and return a summary dict.

    `reuse=True` keeps an existing complete set made with the same pages, seed, version and mix.
    `workers=None` uses every core for larger sets; the output does not depend on it.
    `mix` and `tex`: the kinds of formula and the share typeset by LaTeX (see `plan`).
    """
    if pages < 1:
        raise ValueError(f"pages must be at least 1, got {pages}")
    out = Path(out_dir)
    params = {"pages": pages, "seed": seed, "version": VERSION, **mix_params(mix, tex)}
    meta = out / "synth.json"
    if reuse and meta.exists():
        old = json.loads(meta.read_text(encoding="utf-8"))
        if {k: v for k, v in old.items() if k != "summary"} == params:
            return {**old["summary"], "workers": 0, "seconds": 0.0, "out": str(out), "reused": True}
    t0 = time.perf_counter()
    todo = plan(pages, seed, mix, tex)
    _prepare(out, todo)
    typeset_summary = typeset(out, todo, seed, workers=min(default_workers(), 8)) if tex > 0 else None
    if typeset_summary and typeset_summary["engine"] != "latex":
        print("no TeX installation: the formulas planned for LaTeX are drawn by mathtext")
    jobs = [(p, seed, str(out)) for p in todo]
    n = workers if workers is not None else (min(default_workers(), 8) if pages >= 12 else 1)
    wrap = (lambda it: progress(it, total=pages, desc="demo pages", unit="page")) if show_progress else iter
    if n > 1:  # spawn: safe even when the caller has torch threads running
        with mp.get_context("spawn").Pool(n) as pool:
            results = list(wrap(pool.imap(_draw, jobs, chunksize=max(1, min(4, pages // (4 * n))))))
    else:
        results = list(wrap(map(_draw, jobs)))
    records = [r for page in results for r in page]
    write_text(out / "truth.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    counts = {"pages": {s: sum(p["split"] == s for p in todo) for s in SPLITS},
              "boxes": {s: sum(r["split"] == s for r in records) for s in SPLITS},
              "yolo_pages": sum(p["format"] == "yolo" for p in todo),
              "formulas": {k: sum(f.get("source", "exam") == k for p in todo for f in p["formulas"])
                           for k in ("exam", "random", "fragment")}}
    if typeset_summary:
        counts["typeset"] = typeset_summary
    write_json(meta, {**params, "summary": counts})  # written last: its presence marks a complete set
    return {**counts, "workers": n, "seconds": round(time.perf_counter() - t0, 2), "out": str(out), "reused": False}


def read_truth(out_dir: str | os.PathLike) -> list[dict]:
    """The records of `truth.jsonl` (one per box, in page then box order)."""
    lines = (Path(out_dir) / "truth.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def formula_kinds(out_dir: str | os.PathLike) -> dict[str, str]:
    """{crop image name: exam | random | fragment} of a demo set (the crop ids steps 01-02 give its boxes)."""
    return {f"{r['page']}_{r['k']:02d}.png": r.get("source", "exam") for r in read_truth(out_dir)}
