"""Figures and tables for notebooks 01-02: boxes on a page, crop galleries, the cleaning report, histograms."""
from __future__ import annotations

import csv
import random
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from ..data import annotation_check as check
from ..data import latex, ocr_labels
from ..data.images import ImageError, load_grey

# OCR labels hold Chinese; without a CJK font matplotlib draws boxes and warns at every draw
warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font")


def _manifest(interim: Path) -> list[dict]:
    path = Path(interim) / "manifest.csv"
    return list(csv.DictReader(path.open(encoding="utf-8"))) if path.exists() else []


def _plain(text: str) -> str:
    """Text shown as written: matplotlib would otherwise typeset `$...$` (and fail on unknown commands)."""
    return text.replace("$", r"\$")


def _label_text(path: Path) -> str:
    try:
        return ocr_labels.read_label(path)[0].strip()
    except ocr_labels.LabelError as e:
        return f"<{e}>"


def page_with_boxes(raw: Path, interim: Path, source: str, pages_dir: Path | None = None):
    """demo, pages: a page with its numbered boxes (green cropped, orange a warning, red skipped with the reason);
    other sources: one sample image. `pages_dir`: the pages source's folder (else <raw>/pages)."""
    rows = _manifest(interim)
    fig, ax = plt.subplots(figsize=(9, 9 if source in ("demo", "pages") else 3))
    if source in ("demo", "pages") and rows:
        pages = [p for p in check.find_pages(Path(pages_dir or Path(raw) / "pages")) if p.image and p.annotation]
        page = next((p for p in pages if p.fmt == "voc"), pages[0])
        ax.imshow(check.draw_page(check.check_page(page)))
        ax.set_title(f"{page.image.name} ({page.fmt}): green = cropped, orange = look again, red = skipped")
    elif rows:
        row = rows[0]
        img = load_grey(Path(interim) / row["split"] / f"{row['crop_id']}.png") if source == "crohme" \
            else load_grey(row["source"])
        ax.imshow(img, cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"{Path(row['source']).name}" + (" (rendered from InkML)" if source == "crohme" else ""))
    ax.axis("off")
    return fig


def crop_gallery(interim: Path, n: int = 12, seed: int = 0, cols: int = 3):
    """A random sample of exported crops with their raw labels (or test answer keys)."""
    rows = _manifest(interim)
    rows = random.Random(seed).sample(rows, min(n, len(rows)))
    fig, axes = plt.subplots(max(1, -(-len(rows) // cols)), cols, figsize=(4 * cols, 1.6 * max(1, len(rows) // cols)))
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, r in zip(np.ravel(axes), rows):
        folder = Path(interim) / ("answer_key" if r["split"] == "test" else r["split"])
        image = next((p for p in (Path(interim) / r["split"]).glob(f"{r['crop_id']}.*") if p.suffix != ".txt"), None)
        try:
            ax.imshow(load_grey(image), cmap="gray", vmin=0, vmax=255)
        except (ImageError, TypeError):
            ax.text(0.5, 0.5, "unreadable", ha="center")
        label = folder / f"{r['crop_id']}.txt"
        text = _label_text(label) if label.exists() else "(no label)"
        ax.set_title(f"{r['crop_id']}\n{_plain(text[:60])}", fontsize=7)
    fig.tight_layout()
    return fig


def report_rows(report: dict) -> list[dict]:
    """One row per split: seen, kept and each drop reason."""
    reasons = sorted({r for s in report["splits"].values() for r in s["dropped"]})
    return [{"split": name, "seen": s["seen"], "kept": s["kept"], **{r: s["dropped"].get(r, 0) for r in reasons}}
            for name, s in report["splits"].items()]


def report_bars(report: dict):
    """Kept and dropped (by reason) per split as stacked bars."""
    rows = report_rows(report)
    keys = [k for k in rows[0] if k not in ("split", "seen")] if rows else []
    fig, ax = plt.subplots(figsize=(8, 3.5))
    bottom = np.zeros(len(rows))
    for k in keys:
        vals = np.array([r[k] for r in rows], dtype=float)
        ax.bar([r["split"] for r in rows], vals, bottom=bottom, label=k)
        bottom += vals
    ax.set_ylabel("items")
    ax.set_title("cleaning: kept and dropped per split")
    ax.legend(fontsize=7, bbox_to_anchor=(1.01, 1), loc="upper left")
    return fig


def histograms(processed: Path, interim: Path, limit: int = 3000):
    """Formula lengths (tokens) and image sizes before/after crop+pad."""
    processed, interim = Path(processed), Path(interim)
    lengths = [len(line.split()) for line in (processed / "formulas.norm.lst").read_text("utf-8").splitlines()]
    after = [Image.open(p).size for p in sorted((processed / "images").glob("*.png"))[:limit]]
    before = [Image.open(p).size for s in ("train", "dev", "test")
              for p in sorted((interim / s).glob("*.png"))[:limit // 3]]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3))
    axes[0].hist(lengths, bins=30)
    axes[0].set(title="formula length", xlabel="tokens")
    for ax, sizes, name in ((axes[1], before, "crops (before)"), (axes[2], after, "processed (after)")):
        if sizes:
            ax.scatter([w for w, _ in sizes], [h for _, h in sizes], s=6, alpha=0.4)
        ax.set(title=f"image size: {name}", xlabel="width", ylabel="height")
    fig.tight_layout()
    return fig


def before_after(processed: Path, interim: Path, n: int = 6, seed: int = 0):
    """Crops as exported (left) and after white-space crop + padding to a bucket (right)."""
    names = sorted(p.stem for p in (Path(processed) / "images").glob("*.png"))
    names = random.Random(seed).sample(names, min(n, len(names)))
    fig, axes = plt.subplots(max(1, len(names)), 2, figsize=(10, 1.3 * max(1, len(names))), squeeze=False)
    for (a, b), name in zip(axes, names):
        src = next(p for s in ("train", "dev", "test") for p in (Path(interim) / s).glob(f"{name}.*")
                   if p.suffix != ".txt")
        for ax, img, title in ((a, load_grey(src), "before"), (b, load_grey(Path(processed) / "images" / f"{name}.png"),
                                                                "after")):
            ax.imshow(img, cmap="gray", vmin=0, vmax=255)
            ax.set_title(f"{name} {title} {img.shape[1]}x{img.shape[0]}", fontsize=7)
    for ax in axes.ravel():
        ax.axis("off")
    fig.tight_layout()
    return fig


def token_examples(interim: Path, n: int = 5, plain: bool = False) -> list[dict]:
    """Raw labels next to their tokens and normalised form (the first `n` usable ones of train)."""
    out = []
    for p in sorted((Path(interim) / "train").glob("*.txt")):
        text = _label_text(p)
        v = ocr_labels.classify(text, plain=plain)
        if v.ok:
            out.append({"file": p.name, "raw": f"`{text}`", "tokens": f"`{latex.join(latex.tokenize(text))}`",
                        "normalised": f"`{latex.join(v.tokens)}`"})
        if len(out) >= n:
            break
    return out
