"""New handwritten formulas composed from CROHME's segmented symbols.

Every symbol of a training file whose MathML and LaTeX agree (lib/data/inkml_parts.py) is a handwritten sample of
its LaTeX token, its strokes measured in the file's own median symbol size. A formula (the demo grammar's, and the
unseen-formula mix of lib/data/synth/broad.py) is laid out as handwriting is: symbols side by side on an axis,
scripts smaller and raised or lowered, a fraction's numerator over a stretched bar over its denominator, a radical
stretched around its radicand; each symbol drawn by a sample of some training writer. A formula with a token no
training file wrote is not drawn (counted by token). Dev and test files never give a sample.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..run import atomic
from ..run.parallel import parallel_map
from . import inkml, inkml_parts, latex
from .images import png_bytes

SCRIPT, FRACTION = 0.6, 0.85  # size of scripts and of a fraction's parts against their surroundings
GAP = 0.15                    # space between symbols, in symbol heights
BASELINE = {".", ",", "\\ldots"}  # symbols that sit low on the line
STRUCTURE = {"{", "}", "^", "_", "[", "]"}  # tokens that place symbols, drawn by none (\\frac: its bar; \\sqrt)


@dataclass
class Sample:
    strokes: list[np.ndarray]  # in units of the source file's median symbol size, bounding box at the origin
    width: float
    height: float


@dataclass
class Bank:
    """Handwritten samples per LaTeX token, and each token's usual height (the median of its samples)."""

    samples: dict[str, list[Sample]] = field(default_factory=dict)
    height: dict[str, float] = field(default_factory=dict)

    def add(self, token: str, sample: Sample, cap: int) -> None:
        have = self.samples.setdefault(token, [])
        if len(have) < cap:
            have.append(sample)

    def finish(self) -> "Bank":
        """Usual heights; samples more than twice as tall or short as their token's usual one dropped (a bar
        drawn across a whole formula, a dot read as a letter)."""
        for token, have in list(self.samples.items()):
            usual = float(np.median([s.height for s in have]))
            kept = [s for s in have if usual / 2 <= s.height <= usual * 2] or have
            self.samples[token], self.height[token] = kept, max(usual, 0.05)
        return self

    def pick(self, token: str, rng: np.random.Generator) -> Sample:
        options = self.samples[token]
        return options[int(rng.integers(len(options)))]

    def missing(self, tokens: list[str]) -> list[str]:
        return [t for t in tokens if t not in STRUCTURE and t not in self.samples]


def file_symbols(path: str | Path) -> list[tuple[str, Sample]]:
    """(token, sample) of every drawn symbol of a file `inkml_parts.decompose` accepts (fraction bars as "\\frac",
    radicals as "\\sqrt"); [] when it does not."""
    try:
        ink, _, math, strokes = inkml_parts.cut(path)
    except (inkml_parts.PartsError, inkml.InkmlError):
        return []
    unit = inkml.symbol_size(ink)
    out = []
    for e in math.iter():
        tag, sid = inkml_parts._local(e.tag), e.get(inkml_parts.XML_ID)
        if sid not in strokes:
            continue
        if tag in ("mi", "mn", "mo"):
            toks = inkml_parts.tokens(inkml_parts.leaf_tex(e.text))
            if not toks or len(toks) != 1:
                continue  # a multi-digit number or an unknown name: not one token
            token = toks[0]
        elif tag == "mfrac":
            token = "\\frac"  # its bar
        elif tag in ("msqrt", "mroot"):
            token = "\\sqrt"
        else:
            continue
        pts = [ink.traces[i] for i in strokes[sid]]
        lo = np.concatenate(pts).min(axis=0)
        span = np.ptp(np.concatenate(pts), axis=0)
        out.append((token, Sample([(p - lo) / unit for p in pts], float(span[0] / unit), float(span[1] / unit))))
    return out


def build_bank(files: list[str], per_token: int = 300, workers: int | None = 0) -> Bank:
    """Samples of every token written in `files` (at most `per_token` each, spread over the files)."""
    bank = Bank()
    order = sorted(files, key=lambda f: hashlib.sha1(f.encode()).digest())  # many writers before the cap
    for found in parallel_map(file_symbols, order, workers, desc="symbols", unit="file"):
        for token, sample in found:
            bank.add(token, sample, per_token)
    return bank.finish()


# ---------------------------------------------------------------------------------------------------------------
# layout: boxes in symbol heights, y down, the axis at y = 0


@dataclass
class Placed:
    token: str
    x0: float
    y0: float
    x1: float
    y1: float
    stretch: bool = False  # fill the box (bars, radicals) instead of keeping the sample's shape


@dataclass
class Box:
    items: list[Placed]
    width: float
    top: float
    bottom: float

    def shifted(self, dx: float, dy: float) -> "Box":
        return Box([Placed(p.token, p.x0 + dx, p.y0 + dy, p.x1 + dx, p.y1 + dy, p.stretch) for p in self.items],
                   self.width, self.top + dy, self.bottom + dy)


def _symbol(token: str, size: float, bank: Bank, rng) -> Box:
    """A symbol at its usual height (give or take 10 %) with the width of a sample's shape."""
    s = bank.pick(token, rng)
    h = bank.height[token] * size * float(rng.uniform(0.9, 1.1))
    w = h * float(np.clip(s.width / max(s.height, 1e-3), 0.15, 8.0))
    top = 0.45 * size - h if token in BASELINE else -h / 2
    return Box([Placed(token, 0.0, top, w, top + h)], w, top, top + h)


def _row(boxes: list[Box], size: float) -> Box:
    items, x, top, bottom = [], 0.0, 0.0, 0.0
    for b in boxes:
        items += b.shifted(x, 0).items
        top, bottom = min(top, b.top), max(bottom, b.bottom)
        x += b.width + GAP * size
    return Box(items, max(x - GAP * size, 0.0), top, bottom)


def _scripts(base: Box, sub: Box | None, sup: Box | None, size: float) -> Box:
    items, width = list(base.items), base.width
    top, bottom = base.top, base.bottom
    h = base.bottom - base.top
    for script, raise_ in ((sup, True), (sub, False)):
        if script is None:
            continue
        dy = (base.top + 0.35 * h - script.bottom) if raise_ else (base.bottom - 0.35 * h - script.top)
        placed = script.shifted(base.width + 0.05 * size, dy)
        items += placed.items
        width = max(width, base.width + 0.05 * size + script.width)
        top, bottom = min(top, placed.top), max(bottom, placed.bottom)
    return Box(items, width, top, bottom)


def _fraction(num: Box, den: Box, size: float) -> Box:
    width = max(num.width, den.width) + 0.3 * size
    bar = Placed("\\frac", 0.0, -0.04 * size, width, 0.04 * size, stretch=True)
    n = num.shifted((width - num.width) / 2, -0.2 * size - num.bottom)
    d = den.shifted((width - den.width) / 2, 0.2 * size - den.top)
    return Box([bar, *n.items, *d.items], width, n.top, d.bottom)


def _root(inner: Box, index: Box | None, size: float) -> Box:
    lead = 0.5 * size
    body = inner.shifted(lead + 0.1 * size, 0)
    radical = Placed("\\sqrt", 0.0, inner.top - 0.25 * size, lead + inner.width + 0.2 * size,
                     inner.bottom + 0.05 * size, stretch=True)
    items = [radical, *body.items]
    top = radical.y0
    if index is not None:
        idx = index.shifted(0.0, radical.y0 + 0.3 * (radical.y1 - radical.y0) - index.bottom)
        items += idx.items
        top = min(top, idx.top)
    return Box(items, radical.x1, top, radical.y1)


def layout(nodes: list, size: float, bank: Bank, rng) -> Box:
    """Boxes of a parsed, normalised formula (latex._parse of its tokens)."""
    boxes: list[Box] = []
    i = 0
    while i < len(nodes):
        node = nodes[i]
        if isinstance(node, latex.Group):
            boxes.append(layout(node, size, bank, rng))
        elif node == "\\frac":
            boxes.append(_fraction(layout(nodes[i + 1], FRACTION * size, bank, rng),
                                   layout(nodes[i + 2], FRACTION * size, bank, rng), size))
            i += 2
        elif node == "\\sqrt":
            index = None
            if i + 1 < len(nodes) and nodes[i + 1] == "[":
                close = nodes.index("]", i + 2)
                index = layout(latex.Group(nodes[i + 2:close]), 0.5 * size, bank, rng)
                i = close
            boxes.append(_root(layout(nodes[i + 1], size, bank, rng), index, size))
            i += 1
        elif node in ("^", "_"):
            sub = sup = None
            while i < len(nodes) and nodes[i] in ("^", "_"):
                script = layout(nodes[i + 1], SCRIPT * size, bank, rng)
                sub, sup = (script, sup) if nodes[i] == "_" else (sub, script)
                i += 2
            base = boxes.pop() if boxes else Box([], 0.0, -0.5 * size, 0.5 * size)
            boxes.append(_scripts(base, sub, sup, size))
            continue
        else:
            boxes.append(_symbol(node, size, bank, rng))
        i += 1
    return _row(boxes, size)


def draw(box: Box, bank: Bank, rng) -> inkml.Ink:
    """Strokes of every placed symbol, each a sample of its token scaled into its box."""
    traces = []
    for p in box.items:
        s = bank.pick(p.token, rng)
        w, h = p.x1 - p.x0, p.y1 - p.y0
        sx = w / max(s.width, 1e-3) if p.stretch else min(w / max(s.width, 1e-3), h / max(s.height, 1e-3))
        sy = h / max(s.height, 1e-3) if p.stretch else sx
        for stroke in s.strokes:
            traces.append(stroke * [sx, sy] + [p.x0, p.y0])
    return inkml.Ink(traces, [], None)


@dataclass
class Composed:
    tex: str
    ink: inkml.Ink


def compose(formula: str, bank: Bank, rng: np.random.Generator) -> Composed:
    """A formula drawn in handwriting; raises KeyError naming the first token no sample has."""
    tokens = latex.normalize(formula, plain=True)
    missing = bank.missing(tokens)
    if missing:
        raise KeyError(missing[0])
    box = layout(latex._parse(tokens), 1.0, bank, rng)
    if not box.items:
        raise KeyError("(empty)")
    return Composed(latex.join(tokens), draw(box, bank, rng))


def compose_many(bank: Bank, n: int, seed: int, mix: dict, exclude: set[str], max_tokens: int = 60,
                 tries: int = 20) -> tuple[list[Composed], dict]:
    """`n` distinct formulas of the mix drawn from the bank (none in `exclude`: the dev formulas); what was not
    drawable, counted by the missing token."""
    from .synth.broad import sample_mixed  # lazy: the synth package loads matplotlib's fonts

    rng = np.random.default_rng(seed)
    made, seen = [], set(exclude)
    missing, skipped = Counter(), Counter()
    for _ in range(n * tries):
        if len(made) >= n:
            break
        formula, _kind = sample_mixed(rng, mix)
        try:
            c = compose(formula, bank, rng)
        except KeyError as e:
            missing[str(e.args[0])] += 1
            continue
        except (latex.LatexError, ValueError, IndexError):
            skipped["not_laid_out"] += 1
            continue
        n_tokens = len(c.tex.split())
        if c.tex in seen or not 3 <= n_tokens <= max_tokens:
            skipped["dev_formula_or_repeat" if c.tex in seen else "too_short_or_long"] += 1
            continue
        seen.add(c.tex)
        made.append(c)
    return made, {"made": len(made), "asked": n, "skipped": dict(skipped),
                  "missing_tokens": dict(missing.most_common(15)), "bank_tokens": len(bank.samples)}


def render_composed(job: tuple) -> dict:
    """Worker: (Composed, png path, label path, symbol height) -> result dict, drawn as the InkML files are."""
    composed, png, label, symbol_height = job
    img = inkml.render_at(composed.ink, symbol_height)
    atomic.write_bytes(png, png_bytes(img))
    atomic.write_text(label, composed.tex + "\n")
    return {"ok": True, "height": img.shape[0], "width": img.shape[1]}
