"""Step 02: interim crops + raw labels -> processed images, im2latex lists, vocab.json and a cleaning report."""
from __future__ import annotations

import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

from ..run import atomic, records
from ..run.parallel import parallel_map, pool_workers
from . import LIST_NAMES, SPLITS, ocr_labels
from .buckets import of_profile
from .dataset import fingerprint
from .images import IMAGE_EXTS, ImageError, has_ink, ink_scale, load_grey, png_bytes, preprocess
from .latex import join
from .staging import TEST_ORDER, Tally, staged_dir
from .vocab import Vocab

PLAIN_SOURCES = ("crohme",)   # handwriting: \left/\right and text wrappers are not visible in ink
# drop reasons besides those of lib.data.ocr_labels
IMAGE_WITHOUT_LABEL = "image_without_label"
LABEL_WITHOUT_IMAGE = "label_without_image"
UNREADABLE_IMAGE = "unreadable_image"
BLANK_IMAGE = "blank_image"
DUPLICATE_IMAGE = "duplicate_image_name"
TEST_NOT_LISTED = "test_image_not_in_test_list"


def scan(folder: Path) -> tuple[dict[str, Path], dict[str, Path], list[str]]:
    """Images and labels of a folder by crop id (file stem), and image names whose stem repeats."""
    images: dict[str, Path] = {}
    found_labels: dict[str, Path] = {}
    duplicates: list[str] = []
    if folder.is_dir():
        for p in sorted(folder.iterdir()):
            ext = p.suffix.lower()
            if ext == ".txt":
                found_labels[p.stem] = p
            elif ext in IMAGE_EXTS:
                if p.stem in images:
                    duplicates.append(p.name)
                else:
                    images[p.stem] = p
    return images, found_labels, duplicates


def process_image(job: tuple[str, str, tuple]) -> dict:
    """Worker: read, crop white space, pad to a bucket, save as PNG; problems come back as values."""
    src, dst, buckets = job
    try:
        img = load_grey(src)
    except ImageError as e:
        return {"ok": False, "reason": UNREADABLE_IMAGE, "error": str(e)}
    blank = not has_ink(img)
    out = preprocess(img, buckets)
    Path(dst).write_bytes(png_bytes(out))
    return {"ok": True, "blank": blank, "orig": list(img.shape), "size": list(out.shape)}


def _stats(lengths: Sequence[int]) -> dict:
    if not lengths:
        return {"n": 0}
    return {"n": len(lengths), "min": min(lengths), "median": statistics.median(lengths),
            "mean": round(statistics.fmean(lengths), 1), "max": max(lengths)}


def clean(interim: Path, processed: Path, max_tokens: int, buckets: Sequence[Sequence[int]],
          plain: bool = False, workers: int | None = 0, symbol_height: float | None = None) -> dict:
    """Filter, align, normalise and preprocess one source; writes the processed layout atomically.
    `symbol_height`: pen data rendered at that symbol height (recorded with the ink scale, so that a drawing
    is rendered for the model as its training data was)."""
    t0 = time.monotonic()
    tally, encodings = Tally(), Counter()
    formulas: dict[str, dict[str, list[str]]] = {s: {} for s in SPLITS}   # split -> id -> tokens
    test_ids: list[str] = []
    order: dict = {}
    answers: dict[str, list[str] | None] = {}
    answer_problems: Counter = Counter()
    pending: list[tuple[str, str, Path]] = []                             # (split, id, image)
    for split in SPLITS:
        images, found, dups = scan(interim / split)
        for name in dups:
            tally.drop(split, DUPLICATE_IMAGE, name)
        if split == "test":  # test answers are kept apart; labels beside test images serve when there are none
            keys = scan(interim / "answer_key")[1] if (interim / "answer_key").is_dir() else {}
            found = keys or found
            test_ids, order = test_order(interim, images, tally)
        for cid in sorted(set(images) | set(found)):
            if split == "test" and cid not in test_ids:
                continue  # an image the teaching assistant's list leaves out (counted by test_order)
            if cid not in found and split != "test":
                tally.drop(split, IMAGE_WITHOUT_LABEL, images[cid].name)
                continue
            if cid not in images:
                tally.drop(split, LABEL_WITHOUT_IMAGE, found[cid].name)
                continue
            verdict = ocr_labels.classify_file(found[cid], None if split == "test" else max_tokens, plain) \
                if cid in found else None
            if verdict is not None:
                encodings[verdict.extra.get("encoding", "undecodable")] += 1
            if split == "test":
                answers[cid] = verdict.tokens if verdict else None
                if verdict is not None and not verdict.ok:
                    answer_problems[verdict.reason] += 1
            elif not verdict.ok:
                tally.drop(split, verdict.reason, f"{found[cid].name}: {verdict.detail}".rstrip(": "))
                continue
            else:
                formulas[split][cid] = verdict.tokens
            pending.append((split, cid, images[cid]))
    with staged_dir(processed) as out:
        (out / "images").mkdir()
        jobs = [(str(p), str(out / "images" / f"{cid}.png"), tuple(map(tuple, buckets))) for _, cid, p in pending]
        t_img = time.monotonic()
        results = parallel_map(process_image, jobs, workers, desc="crop+pad", unit="img")
        img_seconds = time.monotonic() - t_img
        buckets_used: Counter = Counter()
        for (split, cid, path), r in zip(pending, results):
            if r["ok"] and r["blank"] and split != "test":
                (out / "images" / f"{cid}.png").unlink()
                r = {"ok": False, "reason": BLANK_IMAGE, "error": f"{path.name}: no ink"}
            if not r["ok"]:
                tally.drop(split, r["reason"], r["error"])
                formulas[split].pop(cid, None)
                answers.pop(cid, None)
                continue
            tally.keep(split)
            buckets_used[f"{r['size'][1]}x{r['size'][0]}"] += 1
        report = _write_lists(out, formulas, test_ids, answers)
        report.update(splits=tally.as_dict(), test_order=order, label_encodings=dict(encodings),
                      answer_key_problems=dict(answer_problems), max_tokens=max_tokens,
                      style="plain" if plain else "im2latex", buckets=dict(buckets_used.most_common()),
                      lengths={s: _stats([len(t) for t in (formulas[s].values() if s != "test" else
                                                            filter(None, answers.values()))]) for s in SPLITS},
                      images=len(jobs), image_seconds=round(img_seconds, 2),
                      images_per_s=round(len(jobs) / max(img_seconds, 1e-9), 1),
                      seconds=round(time.monotonic() - t0, 1))
        report["ink_scale"] = train_ink_scale(out, formulas["train"])
        report["fingerprint"] = fingerprint(out)
        if symbol_height and report["ink_scale"]:
            report["ink_scale"]["symbol_height"] = symbol_height
        records.write_cleaning_report(out, report)
    return report


def train_ink_scale(out: Path, train: dict, limit: int = 2000) -> dict:
    """Stroke width and ink-height range of (up to `limit`) processed train images: prediction brings any
    image to this scale (stored with every checkpoint trained on this data)."""
    names = sorted(train)[:limit]
    return ink_scale([load_grey(out / "images" / f"{cid}.png") for cid in names
                      if (out / "images" / f"{cid}.png").exists()])


def test_order(interim: Path, images: dict, tally: Tally) -> tuple[list[str], dict]:
    """The test ids in the order result.txt must follow: step 01's `test_order.txt` (the teaching assistant's
    list) when there is one, else the images' sorted names; (ids, what the report says of the order)."""
    listed = interim / TEST_ORDER
    if not listed.is_file():
        return sorted(images), {"from": "sorted image names", "ids": len(images)}
    ids = [line.strip() for line in listed.read_text(encoding="utf-8").splitlines() if line.strip()]
    known = set(ids)
    for cid in sorted(set(images) - known):
        tally.drop("test", TEST_NOT_LISTED, images[cid].name)
    without = [cid for cid in ids if cid not in images]
    return ids, {"from": "the teaching assistant's test list", "ids": len(ids), "without_image": len(without),
                 "examples_without_image": without[:5], "images_not_listed": len(set(images) - known)}


def _write_lists(out: Path, formulas: dict, test_ids: list[str], answers: dict) -> dict:
    """formulas.norm.lst, the three filter lists, test_ids.txt, answer_key.txt and vocab.json."""
    lines: list[str] = []
    lists: dict[str, list[str]] = {s: [] for s in SPLITS}
    for split in ("train", "dev"):
        for cid, tokens in sorted(formulas[split].items()):
            lists[split].append(f"{cid}.png {len(lines)}")
            lines.append(join(tokens))
    have_key = any(v is not None for v in answers.values())
    for cid in test_ids:
        if answers.get(cid):
            lists["test"].append(f"{cid}.png {len(lines)}")
            lines.append(join(answers[cid]))
    atomic.write_text(out / "formulas.norm.lst", "".join(f"{line}\n" for line in lines))
    for split, name in LIST_NAMES.items():
        atomic.write_text(out / name, "".join(f"{line}\n" for line in lists[split]))
    atomic.write_text(out / "test_ids.txt", "".join(f"{cid}.png\n" for cid in test_ids))
    if have_key:
        atomic.write_text(out / "answer_key.txt",
                          "".join(f"{join(answers[c]) if answers.get(c) else '-'}\n" for c in test_ids))
    vocab = Vocab.build(formulas["train"].values())
    vocab.save(out / "vocab.json")
    unknown = {s: dict(Counter(t for f in ([*formulas[s].values()] if s != "test" else
                                           [a for a in answers.values() if a]) for t in f
                               if t not in vocab).most_common()) for s in SPLITS}
    test_refs = [a for a in answers.values() if a]
    return {"vocab_size": len(vocab), "formulas": len(lines), "test_ids": len(test_ids),
            "answer_key": have_key, "unknown_tokens": unknown,
            "overlap_with_train": {"dev": overlap(formulas["train"].values(), formulas["dev"].values()),
                                   "test": overlap(formulas["train"].values(), test_refs)},
            "unknown_token_total": sum(sum(u.values()) for u in unknown.values())}


def overlap(train: Iterable[Sequence[str]], other: Iterable[Sequence[str]]) -> dict:
    """How much of a split a model could answer from memory: its formulas (and distinct formulas) that occur
    verbatim, as normalised tokens, in train."""
    seen = {join(t) for t in train}
    lines = [join(t) for t in other]
    hits = sum(line in seen for line in lines)
    distinct = set(lines)
    return {"formulas": len(lines), "in_train": hits, "share": round(100.0 * hits / len(lines), 1) if lines else 0.0,
            "distinct": len(distinct), "distinct_in_train": len(distinct & seen)}


def run_cleaning(ctx) -> dict:
    """Step 02 for `ctx.data`: reads interim/<source>/<key>/, writes processed/<source>/<key>/ and a copy of the report."""
    if ctx.data == "pages":
        raise ValueError("data='pages' exports your labelImg crops for labelling (notebook 01 only): hand "
                         "manifest.csv and the crops to the teaching assistant, and clean the labelled set with "
                         "data='course'")
    interim = ctx.interim_dir()
    exported = records.read_export_report(interim)
    if exported is None:
        raise FileNotFoundError(f"{interim}: no {records.EXPORT_REPORT}; run notebook 01 (export) for "
                                f"data={ctx.data!r} first")
    prof = ctx.profile
    report = clean(interim, ctx.processed_dir(), prof.max_tokens, of_profile(prof),
                   plain=ctx.data in PLAIN_SOURCES, workers=pool_workers(prof.workers),
                   symbol_height=exported.get("symbol_height"))
    report = {"source": ctx.data, "profile": prof.name, **report}
    records.write_cleaning_report(ctx.processed_dir(), report)
    records.write_cleaning_report(ctx.out, report)
    return report

