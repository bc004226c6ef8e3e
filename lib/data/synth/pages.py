"""Scanned-looking exam pages: paper, printed distractor text and rules, formulas pasted in, scan artefacts."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from .fonts import text_font_path
from .render import Style, random_style, render_mask

PAGE_W, PAGE_H = 850, 1200  # about A4 at 100 dpi
MARGIN = 48
INKS = {"printed": [(20, 20, 24)], "latex": [(20, 20, 24), (30, 30, 36)], "handwritten": [(28, 45, 140), (20, 20, 26), (35, 35, 90), (60, 30, 120)]}
STEMS = ["Given the function", "Let the set", "In triangle ABC,", "The sequence satisfies", "Find the range of",
         "Prove that", "Simplify:", "Solve the inequality", "It is known that", "Calculate:", "Suppose that",
         "The vectors satisfy", "If the real number a satisfies", "Determine whether", "Evaluate the limit"]
WORDS = ("the of and a is for real number function value range find show that if then where points line circle "
         "set maximum minimum area angle equal given known sequence term sum prove solve answer").split()
PREFIXES = ["Solution:", "Proof:", "(1)", "(2)", "(3)", "Answer:", "So", "Hence", "i.e."]


@dataclass
class Formula:
    """One formula to place: its truth, look, and whether it must touch a page edge (`outside` boxes)."""

    latex: str
    kind: str = "printed"    # printed | handwritten (mathtext) | latex (typeset by TeX beforehand: `image`)
    edge: bool = False
    image: str | None = None  # the grey PNG TeX made of it (kind latex)


def _font(size: int, serif: bool = True) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(text_font_path(serif), size)


def _paper(rng: np.random.Generator, h: int, w: int, rgb: bool) -> np.ndarray:
    """Paper tone with slow shading (float32 HxWx3, 0..255)."""
    base = rng.uniform(222, 246)
    tint = np.array([1.0, rng.uniform(0.985, 1.0), rng.uniform(0.95, 0.99)]) if rgb else np.ones(3)
    small = rng.normal(0, 1, size=(6, 5)).astype(np.float32)
    shade = np.asarray(Image.fromarray(small, "F").resize((w, h), Image.BICUBIC), np.float32)
    grey = base + 4.0 * shade
    return grey[..., None] * tint[None, None, :].astype(np.float32)


def _text_layer(rng: np.random.Generator, h: int, w: int, rows: list[tuple[int, str]], rules: list[int],
                header: bool) -> np.ndarray:
    """Printed text and ruled lines as coverage (float32 HxW 0..1)."""
    layer = Image.new("L", (w, h), 0)
    d = ImageDraw.Draw(layer)
    if header:
        d.text((MARGIN, 22), "Mathematics Examination", font=_font(26), fill=255)
        d.text((MARGIN, 60), "Class ______  Name __________  No. ____   Score ____", font=_font(15, False), fill=230)
        d.line([(MARGIN, 88), (w - MARGIN, 88)], fill=255, width=2)
    f = _font(int(rng.integers(15, 19)))
    for y, text in rows:
        d.text((MARGIN + int(rng.integers(0, 12)), y), text, font=f, fill=255)
    for y in rules:
        d.line([(MARGIN - 10, y), (w - MARGIN + 10, y)], fill=int(rng.integers(90, 170)), width=1)
    d.text((w // 2 - 20, h - 34), f"- {int(rng.integers(1, 9))} -", font=_font(14, False), fill=200)
    return np.asarray(layer, np.float32) / 255.0


def _sentence(rng: np.random.Generator) -> str:
    stem = STEMS[int(rng.integers(len(STEMS)))]
    words = " ".join(WORDS[int(i)] for i in rng.integers(len(WORDS), size=int(rng.integers(3, 9))))
    return f"{int(rng.integers(1, 23))}. ({int(rng.choice([4, 5, 6, 10, 12]))} points) {stem} {words}."


def _fit(mask: np.ndarray, max_w: int, max_h: int) -> np.ndarray:
    s = min(1.0, max_w / mask.shape[1], max_h / mask.shape[0])
    if s >= 1.0:
        return mask
    size = (max(1, int(mask.shape[1] * s)), max(1, int(mask.shape[0] * s)))
    return np.asarray(Image.fromarray(mask, "F").resize(size, Image.BILINEAR), np.float32)


def _layout(rng, masks, formulas, h, w):
    """Top-left corner per formula, distractor text rows and rule heights; everything fits on the page."""
    top, bottom = 104, h - 48
    spare = (bottom - top) - sum(m.shape[0] + 14 for m in masks)
    extra = max(0, spare) / max(1, len(masks))
    y, pos, rows, rules = top, [], [], []
    for m, f in zip(masks, formulas):
        budget = extra
        if f.kind != "handwritten" and budget >= 30 and rng.random() < 0.75:
            rows.append((int(y), _sentence(rng)))
            y, budget = y + 28, budget - 28
        fh, fw = m.shape
        x_lo, x_hi = MARGIN, max(MARGIN, w - MARGIN - fw)
        if f.edge:
            x = int(rng.integers(1, 8)) if rng.random() < 0.5 else w - fw - int(rng.integers(1, 8))
        else:
            x = int(rng.integers(x_lo, x_hi + 1))
        off = rng.uniform(0.1, 0.7) * max(0.0, budget)
        pos.append((int(x), int(min(y + off, h - 12 - fh))))
        if not f.edge and x - x_lo > 120 and rng.random() < 0.5:  # a printed label left of the formula
            rows.append((int(pos[-1][1] + fh / 2 - 9), PREFIXES[int(rng.integers(len(PREFIXES)))]))
        if f.kind == "handwritten" and rng.random() < 0.5:
            rules.append(int(pos[-1][1] + fh + 4))
        y += max(0.0, budget) + fh + 14
    return pos, rows, rules


def _mask(f: Formula, rng: np.random.Generator) -> np.ndarray:
    """Ink coverage of one formula: TeX's image, or mathtext in the formula's style."""
    if f.image:
        return (255.0 - np.asarray(Image.open(f.image).convert("L"), np.float32)) / 255.0
    style = random_style(rng, f.kind)
    try:
        return render_mask(f.latex, rng, style)
    except ValueError:  # a symbol the style's font lacks: the formula in Computer Modern
        return render_mask(f.latex, rng, Style(style.kind, "cm", style.size, style.slant, style.jitter,
                                               style.warp, style.weight, style.baseline_tilt))


def _rotate_points(pts: np.ndarray, ang: float, c: np.ndarray) -> np.ndarray:
    r = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    return (pts - c) @ r.T + c


def compose_page(formulas: list[Formula], rng: np.random.Generator, rgb: bool = False
                 ) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Draw one page; returns the image (uint8, HxW or HxWx3) and each formula's ink box (x0, y0, x1, y1), 0-based."""
    w, h = PAGE_W + int(rng.integers(-20, 21)), PAGE_H + int(rng.integers(-20, 21))
    masks = [_mask(f, rng) for f in formulas]
    room = (h - 160) / max(1, len(masks)) - 14
    masks = [_fit(m, w - 2 * MARGIN, max(24, int(room * 1.6))) for m in masks]
    total = sum(m.shape[0] + 14 for m in masks)
    if total > h - 160:  # too many tall formulas: shrink them all alike
        s = (h - 160) / total
        masks = [_fit(m, int(m.shape[1] * s), int(m.shape[0] * s)) for m in masks]
    pos, rows, rules = _layout(rng, masks, formulas, h, w)
    page = _paper(rng, h, w, rgb)
    text = _text_layer(rng, h, w, rows, rules, header=rng.random() < 0.8)
    page *= (1.0 - 0.85 * text)[..., None]
    boxes = []
    for m, f, (x, y) in zip(masks, formulas, pos):
        ink = np.array(INKS[f.kind][int(rng.integers(len(INKS[f.kind])))], np.float32)
        fh, fw = m.shape
        a = (m * rng.uniform(0.85, 1.0))[..., None]
        region = page[y:y + fh, x:x + fw]
        page[y:y + fh, x:x + fw] = region * (1 - a) + ink * a[: region.shape[0], : region.shape[1]]
        ys, xs = np.nonzero(m > min(0.25, 0.5 * float(m.max())))
        boxes.append(np.stack([xs + x, ys + y], 1).astype(np.float32))
    ang = float(np.radians(rng.normal(0, 0.35)))
    c = np.array([w / 2, h / 2])
    if not rgb:  # grey scans: work on one channel from here on
        page = page @ np.array([0.299, 0.587, 0.114], np.float32)
    img = Image.fromarray(np.clip(page, 0, 255).astype(np.uint8), "RGB" if rgb else "L")
    ca, sa = np.cos(ang), np.sin(ang)
    # PIL's affine maps output pixels back to input: p = c + R^T (p' - c)
    coeffs = (ca, sa, c[0] - ca * c[0] - sa * c[1], -sa, ca, c[1] + sa * c[0] - ca * c[1])
    edge = np.clip(page[2, 2] - 40, 0, 255)  # the scanner lid shows where the page turned
    fill = tuple(int(v) for v in edge) if rgb else int(edge)
    img = img.transform((w, h), Image.AFFINE, coeffs, resample=Image.BILINEAR, fillcolor=fill)
    if rng.random() < 0.7:
        img = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 0.7))))
    out = np.asarray(img, np.float32)
    noise = rng.normal(0, rng.uniform(1.5, 4.0), size=(h, w)).astype(np.float32)
    out += noise[..., None] if rgb else noise
    dots = rng.integers(0, h * w, size=int(rng.integers(20, 200)))
    out.reshape(h * w, -1)[dots] *= 0.35
    out = np.clip(out, 0, 255).astype(np.uint8)
    ink_boxes = []
    for pts in boxes:
        q = _rotate_points(pts, ang, c)
        x0, y0 = np.floor(q.min(0)).astype(int)
        x1, y1 = np.ceil(q.max(0)).astype(int) + 1
        ink_boxes.append((int(x0), int(y0), int(x1), int(y1)))
    return out, ink_boxes
