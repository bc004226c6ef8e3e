"""Ten formulas drawn as pen strokes, read by a checkpoint as notebook 07 reads a drawing:
`python -m lib.bench drawn --checkpoint CKPT [--beam 5] [--json]`.

The strokes come from a small pen alphabet (digits, a, b, x, y, + - = and brackets, exponents raised and
smaller), with a seeded wobble so that no two strokes are ruler-straight; they go through
`lib.inference.reader` exactly like strokes drawn on notebook 07's canvas (rendered at the checkpoint's symbol
height, preprocessed at its ink scale). It prints each formula with its reading and how many were read exactly
(the last --json line: {exact, formulas, readings}).
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from ..data.latex import normalize
from ..inference import reader
from ..models.checkpoint import load_model

W, ADVANCE = 10.0, 14.0  # glyph box width and advance, in pen units (the x-height is 10, digits 20 high)


def _ellipse(cx: float, cy: float, rx: float, ry: float, start: float = -90.0, end: float = 270.0, n: int = 16):
    a = np.radians(np.linspace(start, end, n))
    return list(zip(cx + rx * np.cos(a), cy + ry * np.sin(a)))


# y grows downwards: the baseline is at 20, the top of the digits at 0, the x-height at 10
GLYPHS: dict[str, list[list[tuple[float, float]]]] = {
    "0": [_ellipse(5, 10, 4.5, 10)],
    "1": [[(2, 4), (6, 0), (6, 20)]],
    "2": [[(1, 4), (3, 1), (7, 1), (9, 4), (8, 8), (1, 20), (10, 20)]],
    "3": [[(1, 2), (8, 1), (4, 9), (8, 12), (9, 16), (6, 20), (1, 18)]],
    "4": [[(7, 20), (7, 0), (0, 14), (10, 14)]],
    "5": [[(9, 0), (2, 0), (1, 9), (6, 8), (9, 12), (8, 18), (4, 20), (0, 18)]],
    "a": [_ellipse(4.5, 15, 4, 5, -30, 330), [(8.5, 10), (8.5, 20)]],
    "b": [[(1, 0), (1, 20)], _ellipse(5, 15, 4, 5, 180, 540)],
    "x": [[(0, 10), (9, 20)], [(9, 10), (0, 20)]],
    "y": [[(0, 10), (5, 20)], [(9, 10), (3, 28)]],
    "+": [[(0, 15), (10, 15)], [(5, 10), (5, 20)]],
    "-": [[(0, 15), (10, 15)]],
    "=": [[(0, 12.5), (10, 12.5)], [(0, 17.5), (10, 17.5)]],
    "(": [_ellipse(9, 10, 6, 12, 120, 240, 12)],
    ")": [_ellipse(1, 10, 6, 12, -60, 60, 12)],
}
# the formulas, as written: "^" raises the next character
FORMULAS = ("x+1", "a+b", "2x=4", "x^2", "x-3=1", "(a+b)", "y=2x+1", "x^2+y^2", "1+2=3", "a-b=5")


def latex_of(text: str) -> str:
    """The LaTeX of a formula written in the pen alphabet (`x^2+1` -> `x^{2}+1`)."""
    return "".join(f"^{{{text[i + 1]}}}" if c == "^" else ("" if i and text[i - 1] == "^" else c)
                   for i, c in enumerate(text))


def strokes(text: str, seed: int = 0, scale: float = 4.0) -> list[list[tuple[float, float]]]:
    """The pen strokes (canvas pixels) of a formula in the pen alphabet, each point wobbled a little."""
    rng = np.random.default_rng(seed)
    out, x, raise_next = [], 10.0, False
    for c in text:
        if c == "^":
            raise_next = True
            continue
        size, dy = (0.6, -1.0) if raise_next else (1.0, 0.0)  # an exponent sits on the top of the x-height
        for stroke in GLYPHS[c]:
            pts = np.asarray(stroke, dtype=float) * size + [x, 10.0 + dy]
            pts += rng.normal(0.0, 0.25, pts.shape)
            out.append([(float(px) * scale, float(py) * scale) for px, py in pts])
        x += ADVANCE * size
        raise_next = False
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lib.bench drawn", description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True, help="best.pt of a model trained on handwriting (CROHME)")
    ap.add_argument("--beam", type=int, default=1, help="1: the greedy reading notebook 07 shows first")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    model, vocab, ckpt = load_model(a.checkpoint)
    height = reader.symbol_height(ckpt)
    readings = []
    for i, text in enumerate(FORMULAS):
        truth = " ".join(normalize(latex_of(text), plain=True))
        image = reader.strokes_to_image(strokes(text, seed=i), height)
        r = reader.read(model, vocab, ckpt, image, beam=a.beam, max_len=60)
        got = " ".join(r.tokens) if a.beam == 1 or not r.candidates else " ".join(
            normalize(r.candidates[0][0], plain=True))
        readings.append({"drawn": text, "truth": truth, "read": got, "exact": got == truth})
        print(f"{'ok ' if got == truth else '   '} {truth:<24} -> {got}")
    exact = sum(r["exact"] for r in readings)
    print(f"{exact} of {len(readings)} drawn formulas read exactly ({a.checkpoint}, symbol height {height:g})")
    if a.json:
        print(json.dumps({"exact": exact, "formulas": len(readings), "readings": readings}))
    return 0
