"""Step 01: raw material of any source -> formula crops + raw labels under data/interim/<source>/<key>/."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from ..run import records
from ..run.parallel import parallel_map, pool_workers
from . import SPLITS, course, crohme, im2latex
from . import annotation_check as check
from . import annotations as ann
from .staging import Tally, link_or_copy, staged_dir, write_csv

EXPORT_VERSION = 2
COURSE_ENV = "IM2LATEX_COURSE_DIR"   # used when the notebook parameter course_dir is empty
PAGES_ENV = "IM2LATEX_PAGES_DIR"     # used when the notebook parameter pages_dir is empty
MANIFEST_FIELDS = ["crop_id", "split", "page", "source", "annotation", "format", "x0", "y0", "x1", "y1",
                   "clamped", "label"]


def ensure_demo(raw_dir: Path, pages: int, seed: int, mix: dict | None = None, tex: float = 0.0) -> bool:
    """Generate the demo set with lib.data.synth when missing or made with other pages/seed/version/mix (or a
    LaTeX share typeset without TeX, now that TeX is here); True if generated."""
    from . import synth  # lazy: the generator loads matplotlib's fonts, which only the demo source needs
    from .synth.dataset import mix_params  # lazy: as above

    info = raw_dir / "synth.json"
    if info.exists():
        made = json.loads(info.read_text(encoding="utf-8"))
        want = {"pages": pages, "seed": seed, "version": synth.VERSION, **mix_params(mix, tex)}
        if {k: v for k, v in made.items() if k != "summary"} == want:
            return False

    with staged_dir(raw_dir) as tmp:
        synth.generate(tmp, pages, seed, mix=mix, tex=tex)
    return True


def _page_jobs(folder: Path, out: Path, tally: Tally) -> tuple[list, list[str]]:
    """(page image, annotation, format, crop folder) per annotated page of `folder` (flat, or `train/ dev/ test/`);
    pages without annotation and annotations without page are counted."""
    jobs, splits = [], []
    for split in SPLITS:
        (out / split).mkdir(parents=True, exist_ok=True)
    for p in check.find_pages(folder) if folder.is_dir() else []:
        if p.image is None or p.annotation is None:
            reason = check.NO_PAGE if p.image is None else check.NO_ANNOTATION
            tally.drop(f"pages_{p.split}", reason, (p.annotation or p.image).name)
            continue
        jobs.append((str(p.image), str(p.annotation), p.fmt, str(out / p.split)))
        splits.append(p.split)
    return jobs, splits


def export_pages(folder: Path, out: Path, workers: int | None = 0) -> dict:
    """The `pages` source: a student's own labelImg pages -> crops and manifest.csv, as the demo's (no labels
    yet: the crops go to the teaching assistant for OCR labels)."""
    body, rows = _crop_pages(folder, out, workers)
    write_csv(out / "manifest.csv", rows, MANIFEST_FIELDS)
    return {**body, "labels": {split: 0 for split in SPLITS}, "answer_keys": 0,
            "next": "hand manifest.csv and the crops to the teaching assistant; with the labels back, use the course "
                    "source (data='course')"}


def _crop_pages(folder: Path, out: Path, workers: int | None) -> tuple[dict, list[dict]]:
    """Crop every usable box of every page (a process pool over pages): (counts, manifest rows)."""
    pages_tally, tally, rows = Tally(), Tally(), []
    jobs, splits = _page_jobs(folder, out, pages_tally)
    results = parallel_map(ann.export_page, jobs, workers, desc="crop pages", unit="page")
    for (page, annotation, fmt, _), split, r in zip(jobs, splits, results):
        if r["error"]:
            pages_tally.drop(f"pages_{split}", r["reason"], r["error"])
            for _ in range(r.get("n_boxes") or 0):
                tally.drop(split, r["reason"], Path(page).name)
            continue
        pages_tally.keep(f"pages_{split}")
        for b in r["boxes"]:
            if b["problem"]:
                tally.drop(split, b["problem"], f"{b['crop_id']} {b['box']}")
                continue
            tally.keep(split)
            rows.append({"crop_id": b["crop_id"], "split": split, "page": r["page"], "source": Path(page).name,
                         "annotation": Path(annotation).name, "format": fmt, **dict(zip("x0 y0 x1 y1".split(),
                         b["box"])), "clamped": int(b["clamped"]), "label": ""})
    return {"splits": tally.as_dict(), "pages": pages_tally.as_dict(), "crops": len(rows),
            "clamped_boxes": sum(int(r["clamped"]) for r in rows)}, rows


def export_demo(raw_dir: Path, out: Path, workers: int | None = 0) -> dict:
    """The demo's pages cropped (`_crop_pages`), its OCR labels and answer keys copied beside the crops."""
    body, rows = _crop_pages(raw_dir / "pages", out, workers)
    labels = {}
    for split in SPLITS:  # every OCR label travels, also those whose box was skipped (cleaning reports them)
        src = raw_dir / "ocr" / split
        names = sorted(p.name for p in src.glob("*.txt")) if src.is_dir() else []
        for name in names:
            link_or_copy(src / name, out / split / name)
        labels[split] = len(names)
    keys = sorted((raw_dir / "answer_key" / "test").glob("*.txt"))
    (out / "answer_key").mkdir(exist_ok=True)
    for p in keys:
        link_or_copy(p, out / "answer_key" / p.name)
    for r in rows:
        label = out / r["split"] / f"{r['crop_id']}.txt"
        r["label"] = label.name if label.exists() else ""
    write_csv(out / "manifest.csv", rows, MANIFEST_FIELDS)
    return {**body, "labels": labels, "answer_keys": len(keys)}


def pages_folder(pages_dir: str | Path) -> Path:
    """The `pages` source's folder, or a clear error saying how to give it."""
    if not str(pages_dir):
        raise FileNotFoundError("data='pages' needs the folder of your labelImg pages: set the notebook parameter "
                                f"pages_dir (python -m lib.series --data pages -p pages_dir=DIR --only 01) or "
                                f"${PAGES_ENV}")
    folder = Path(pages_dir).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder (pages_dir: your labelImg pages and their .xml/.txt files)")
    if not check.find_pages(folder):
        raise FileNotFoundError(f"{folder}: no page images ({', '.join(check.PAGE_EXTS)}) and no annotation files")
    return folder.resolve()


def export_params(source: str, profile, seed: int, where: Path | None, crohme_test: str = "2014") -> dict:
    """What an export depends on: an interim folder made with the same params is reused."""
    params = {"source": source, "version": EXPORT_VERSION, "seed": seed}
    if source == "demo":
        params.update(pages=profile.demo_pages, crop_margin=ann.CROP_MARGIN, mix=profile.demo_mix,
                      tex=profile.demo_tex)
    elif source == "crohme":
        params.update(dir=str(where), train=profile.crohme_train, test=profile.crohme_test,
                      test_set=str(crohme_test), dev_fraction=profile.dev_fraction,
                      symbol_height=profile.crohme_symbol_height, dev_by=profile.crohme_dev_by,
                      parts=profile.crohme_parts, composed=profile.crohme_composed,
                      **({"mix": profile.demo_mix} if profile.crohme_composed else {}))
    elif source == "im2latex":
        params.update(dir=str(where), train=profile.im2latex_train, test=profile.im2latex_test)
    else:
        params.update(dir=str(where))
    return params


def run_export(ctx, crohme_dir: str | Path = "", course_dir: str | Path = "", force: bool = False,
               crohme_test: str | int = "2014", im2latex_dir: str | Path = "", pages_dir: str | Path = "") -> dict:
    """Step 01 for `ctx.data`: writes interim/<source>/<key>/ (crops, labels, manifest.csv, export_report.json).

    crohme: `crohme_dir`, else $IM2LATEX_CROHME_DIR, else <data>/raw/crohme (`python -m lib.crohme fetch`),
    else <repo>/../shared/data/crohme; `crohme_test` picks the 2014 or 2016 test set. course: `course_dir`,
    else $IM2LATEX_COURSE_DIR. im2latex: `im2latex_dir`, else $IM2LATEX_IM2LATEX_DIR, else <data>/raw/im2latex
    (`python -m lib.im2latex fetch`). pages: `pages_dir` (a student's labelImg pages), else $IM2LATEX_PAGES_DIR.
    An interim folder made with the same parameters is reused unless `force`.
    """
    t0 = time.monotonic()
    out_dir, prof, src = ctx.interim_dir(), ctx.profile, ctx.data
    course_dir = course_dir or os.environ.get(COURSE_ENV, "")
    where = None
    if src == "crohme":
        where = crohme.find_dir(crohme_dir, ctx.home, ctx.root, crohme_test)
    elif src == "course":
        where = course.check_layout(course_dir).resolve()
    elif src == "im2latex":
        where = im2latex.find_dir(im2latex_dir, ctx.home)
    elif src == "pages":
        where = pages_folder(pages_dir or os.environ.get(PAGES_ENV, ""))
    params = export_params(src, prof, ctx.seed, where, str(crohme_test))
    generated = (ensure_demo(ctx.raw_dir("demo"), prof.demo_pages, ctx.seed, prof.demo_mix, prof.demo_tex)
                 if src == "demo" else False)
    # a student's files may change under the same parameters: always re-read
    old = None if force or generated or src in ("course", "pages") else records.read_export_report(out_dir)
    if old is not None and old.get("params") == params:
        print(f"interim data up to date (same parameters): {out_dir}")
        records.write_export_report(ctx.out, old)
        return old
    workers = pool_workers(prof.workers)
    with staged_dir(out_dir) as tmp:
        if src == "demo":
            body = export_demo(ctx.raw_dir("demo"), tmp, workers)
        elif src == "crohme":
            body = crohme.export_crohme(where, tmp, prof.crohme_train, prof.crohme_test, prof.dev_fraction,
                                        ctx.seed, workers, crohme_test, prof.crohme_symbol_height,
                                        prof.crohme_dev_by, prof.crohme_parts, prof.crohme_composed, prof.demo_mix)
        elif src == "im2latex":
            n = prof.im2latex_train
            body = im2latex.export_lists(where, tmp, {"train": n, "dev": None if n is None else max(1, n // 10),
                                                      "test": prof.im2latex_test})
        elif src == "pages":
            body = export_pages(where, tmp, workers)
        else:
            body = course.import_course(where, tmp)
        report = {"source": src, "params": params, **body, "seconds": round(time.monotonic() - t0, 1)}
        records.write_export_report(tmp, report)
    records.write_export_report(ctx.out, report)
    return report
