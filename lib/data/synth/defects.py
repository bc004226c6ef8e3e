"""What people hand back: OCR-style label files (Mathpix habits and failures) and hurried labelImg boxes."""
from __future__ import annotations

import numpy as np

from ..latex import compact

LABEL_DEFECTS = ("error", "multiline", "chinese", "empty", "gbk", "bom")
BOX_DEFECTS = ("tight", "loose", "outside", "zero", "duplicate")
CLASS_NAME = "formula"
CHINESE = ["解：", "所以", "故", "即", "由题意得", "（舍去）", "证明：", "又因为"]
_RELS = {"=", "<", ">", "\\leq", "\\geq", "\\neq", "\\approx", "\\in", "\\Rightarrow"}
_SLANT = {"\\leq": "\\leqslant", "\\geq": "\\geqslant"}


def _paren_pairs(toks: list[str]) -> list[tuple[int, int]]:
    stack, pairs = [], []
    for i, t in enumerate(toks):
        if t == "(":
            stack.append(i)
        elif t == ")" and stack:
            pairs.append((stack.pop(), i))
    return pairs


def ocr_text(latex: str, rng: np.random.Generator) -> str:
    """The formula as the OCR writes it: its own spacing and habits (`$\\frac{1}{x^{2}}$`), no newline."""
    toks = latex.split()
    if rng.random() < 0.2:
        for a, b in _paren_pairs(toks):
            toks[a], toks[b] = "\\left(", "\\right)"
    if rng.random() < 0.3:
        toks = [_SLANT.get(t, t) for t in toks]
    drop_braces = rng.random() < 0.3
    spaced_rel = rng.random() < 0.25
    out: list[str] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        if drop_braces and t in ("^", "_") and i + 3 < len(toks) and toks[i + 1] == "{" and toks[i + 3] == "}" \
                and len(toks[i + 2]) == 1:
            out += [t, toks[i + 2]]
            i += 4
            continue
        if t == "d" and i + 1 < len(toks) and toks[i + 1] == "x" and "\\int" in toks and rng.random() < 0.5:
            out.append("\\, d")
        elif spaced_rel and t in _RELS:
            out.append(f"\\sp{t}\\sp")
        else:
            out.append(t)
        i += 1
    body = compact(" ".join(out))
    # Mathpix separates adjacent letters/digits with a space ("5 x", "A B") and spaces relations on request.
    body = _space_alnum(body).replace("\\sp", " ").replace("  ", " ")
    pad = " " if rng.random() < 0.15 else ""
    return f"${pad}{body.strip()}{pad}$"


def _space_alnum(s: str) -> str:
    out = []
    for i, ch in enumerate(s):
        prev = s[i - 1] if i else ""
        if ch.isalpha() and prev.isalnum() and not _in_command(s, i):
            out.append(" ")
        out.append(ch)
    return "".join(out)


def _in_command(s: str, i: int) -> bool:
    """True when position i continues a `\\command` name."""
    j = i
    while j > 0 and s[j - 1].isalpha():
        j -= 1
    return j > 0 and s[j - 1] == "\\"


def label_bytes(latex: str, defect: str, rng: np.random.Generator, other: str | None = None) -> bytes:
    """The bytes of one OCR label file with the given defect (`none` or one of LABEL_DEFECTS)."""
    text = ocr_text(latex, rng)
    nl = "\n" if rng.random() < 0.5 else ""
    if defect == "none":
        return (text + nl).encode("utf-8")
    if defect == "error":
        return ("error mathpix" + nl).encode("utf-8")
    if defect == "empty":
        return b""
    if defect == "multiline":
        second = ocr_text(other or latex, rng)[1:-1].strip()
        return f"$\\begin{{array}}{{l}}\n{text[1:-1].strip()} \\\\\n{second}\n\\end{{array}}$\n".encode("utf-8")
    words = CHINESE[int(rng.integers(len(CHINESE)))]
    body = text[1:-1].strip()
    zh = f"$\\text{{{words}}} {body}$" if rng.random() < 0.5 else f"${body} \\text{{{words}}}$"
    if defect == "chinese":
        return (zh + nl).encode("utf-8")
    if defect == "gbk":  # saved again by a Windows editor: GBK, so not valid UTF-8
        return (zh + nl).encode("gbk")
    if defect == "bom":
        return b"\xef\xbb\xbf" + (text + nl).encode("utf-8")
    raise ValueError(f"unknown label defect {defect!r}")


def annotate_box(ink: tuple[int, int, int, int], defect: str, w: int, h: int, rng: np.random.Generator
                 ) -> tuple[int, int, int, int]:
    """A labelImg box (xmin, ymin, xmax, ymax; 1-based, inclusive) drawn around a 0-based ink box."""
    x0, y0, x1, y1 = ink
    if defect == "tight":
        m = -rng.integers(0, 6, size=4) - np.eye(4, dtype=int)[int(rng.integers(4))] * 2
    elif defect == "loose":
        m = rng.integers(10, 30, size=4)
    else:
        m = rng.integers(1, 7, size=4)
    box = [x0 + 1 - m[0], y0 + 1 - m[1], x1 + m[2], y1 + m[3]]
    if defect != "outside":
        box = [max(1, box[0]), max(1, box[1]), min(w, box[2]), min(h, box[3])]
    elif x0 < w - x1:  # the formula touches the left edge: the box runs past it
        box[0] = min(box[0], -int(rng.integers(0, 20)))
    else:
        box[2] = max(box[2], w + 1 + int(rng.integers(0, 20)))
    if defect == "zero":  # a stray click: no width or no height
        if rng.random() < 0.5:
            box[2] = box[0]
        else:
            box[3] = box[1]
    return tuple(int(b) for b in box)


def voc_xml(filename: str, folder: str, path: str, w: int, h: int, depth: int, boxes: list) -> str:
    """A labelImg Pascal VOC annotation."""
    objs = "".join(
        f"\t<object>\n\t\t<name>{CLASS_NAME}</name>\n\t\t<pose>Unspecified</pose>\n\t\t<truncated>"
        f"{int(b[0] < 1 or b[1] < 1 or b[2] > w or b[3] > h)}</truncated>\n\t\t<difficult>0</difficult>\n"
        f"\t\t<bndbox>\n\t\t\t<xmin>{b[0]}</xmin>\n\t\t\t<ymin>{b[1]}</ymin>\n\t\t\t<xmax>{b[2]}</xmax>\n"
        f"\t\t\t<ymax>{b[3]}</ymax>\n\t\t</bndbox>\n\t</object>\n" for b in boxes)
    return (f"<annotation>\n\t<folder>{folder}</folder>\n\t<filename>{filename}</filename>\n\t<path>{path}</path>\n"
            f"\t<source>\n\t\t<database>Unknown</database>\n\t</source>\n\t<size>\n\t\t<width>{w}</width>\n"
            f"\t\t<height>{h}</height>\n\t\t<depth>{depth}</depth>\n\t</size>\n\t<segmented>0</segmented>\n"
            f"{objs}</annotation>\n")


def yolo_txt(boxes: list, w: int, h: int) -> str:
    """YOLO lines `class cx cy w h` (normalised; a box past the edge gives values outside 0..1)."""
    lines = []  # the same arithmetic as labelImg's own YOLO writer
    for xmin, ymin, xmax, ymax in boxes:
        lines.append(f"0 {(xmin + xmax) / 2 / w:.6f} {(ymin + ymax) / 2 / h:.6f} {(xmax - xmin) / w:.6f} "
                     f"{(ymax - ymin) / h:.6f}")
    return "\n".join(lines) + "\n"
