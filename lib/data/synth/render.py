"""Formulas drawn without TeX: mathtext glyph outlines, jittered and warped per symbol, rasterised by Agg."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.font_manager import FontProperties
from matplotlib.path import Path
from matplotlib.textpath import TextToPath
from matplotlib.transforms import IdentityTransform

from ..latex import compact
from .fonts import handwriting_fontset

PRINTED_FONTSETS = ("cm", "stix", "dejavuserif", "dejavusans", "stixsans")
HAND_FONTSETS = ("dejavusans", "stixsans", "cm", "stix")
_TTP = TextToPath()


@dataclass(frozen=True)
class Style:
    """How one formula looks: clean print (exam paper) or a student's hand."""

    kind: str = "printed"          # printed | handwritten
    fontset: str = "cm"            # a mathtext fontset, or "custom" for a handwriting font
    size: float = 24.0             # em size in pixels
    slant: float = 0.0             # shear of the whole formula (x += slant * y)
    jitter: float = 0.0            # per-symbol jitter strength (0 = none)
    warp: float = 0.0              # elastic warp amplitude in pixels
    weight: float = 0.0            # pixels added round the outlines (heavier pen), or shaved off if < 0
    baseline_tilt: float = 0.0     # radians; handwriting drifts off the horizontal


def random_style(rng: np.random.Generator, kind: str = "printed", size: float | None = None) -> Style:
    """A random style of the given kind (`printed` or `handwritten`)."""
    if kind == "printed":
        return Style("printed", str(rng.choice(PRINTED_FONTSETS)), size or float(rng.uniform(18, 24)),
                     weight=float(rng.uniform(0.0, 0.35)))
    hand = handwriting_fontset()
    fontset = "custom" if hand and rng.random() < 0.6 else str(rng.choice(HAND_FONTSETS))
    return Style("handwritten", fontset, size or float(rng.uniform(22, 32)),
                 slant=float(rng.normal(0.12, 0.1)), jitter=float(rng.uniform(0.7, 1.3)),
                 warp=float(rng.uniform(0.5, 2.2)), weight=float(rng.uniform(-0.3, 1.5)),
                 baseline_tilt=float(rng.normal(0, 0.02)))


def _style_of(style: Style | str | None, rng: np.random.Generator) -> Style:
    if isinstance(style, Style):
        return style
    return random_style(rng, style or "printed")


@lru_cache(maxsize=4096)
def _glyphs(latex: str, fontset: str) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Outlines of each glyph and rule at em size 1 (y up, baseline 0), in drawing order."""
    prop = FontProperties(size=1, math_fontfamily=fontset)
    log = logging.getLogger("matplotlib.mathtext")
    level = log.level
    log.setLevel(logging.ERROR)  # "Underful Vlist" layout notes are harmless and would flood the output
    try:
        info, gmap, rects = _TTP.get_glyphs_mathtext(prop, f"${compact(latex)}$")
    finally:
        log.setLevel(level)
    out = []
    for gid, x, y, scale in info:
        verts, codes = gmap[gid]
        out.append((np.asarray(verts, float) * scale + [x, y], np.asarray(codes, np.uint8)))
    for verts, codes in rects:
        out.append((np.asarray(verts, float), np.asarray(codes, np.uint8)))
    k = 1.0 / _TTP.FONT_SCALE
    return tuple((v * k, c) for v, c in out)


def glyph_outlines(latex: str, fontset: str = "cm") -> list[tuple[np.ndarray, np.ndarray]]:
    """Per-glyph outline (vertices at em size 1, codes); raises ValueError if mathtext cannot parse it."""
    try:
        return [(v.copy(), c) for v, c in _glyphs(latex, fontset)]
    except Exception as e:  # mathtext raises pyparsing errors
        if fontset == "custom":
            return glyph_outlines(latex, "dejavusans")
        raise ValueError(f"mathtext cannot render {latex!r}: {str(e).splitlines()[0]}") from e


def _rot(a: float) -> np.ndarray:
    return np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])


def _warp_field(rng: np.random.Generator, amp: float, scale: float):
    """A smooth random displacement (sum of low-frequency sines) as a function of points."""
    k = rng.uniform(0.4, 1.4, size=(2, 3, 2)) / scale * rng.choice([-1, 1], size=(2, 3, 2))
    ph = rng.uniform(0, 2 * np.pi, size=(2, 3))

    def f(p: np.ndarray) -> np.ndarray:
        d = np.stack([np.sin(p @ k[a].T + ph[a]).sum(1) for a in range(2)], 1)
        return p + d * (amp / 3 ** 0.5)
    return f


def _deform(glyphs: list, rng: np.random.Generator, st: Style) -> list:
    """Scale to pixels and apply the hand: per-glyph jitter, slant, baseline tilt, elastic warp."""
    out = []
    em = st.size
    shear = np.array([[1.0, st.slant], [0.0, 1.0]])
    tilt = _rot(st.baseline_tilt)
    for v, c in glyphs:
        p = v * em
        if st.jitter > 0 and len(p):
            j = st.jitter
            real = p[c != Path.CLOSEPOLY]  # a CLOSEPOLY vertex is a placeholder, often (0, 0)
            ctr = (real.min(0) + real.max(0)) / 2
            is_rule = len(c) == 6 and c[-1] == Path.CLOSEPOLY and np.ptp(real[:, 1]) < 0.12 * em
            ang = rng.normal(0, 0.08 * j) * (0.3 if is_rule else 1.0)
            m = _rot(ang) @ np.diag([1 + rng.normal(0, 0.08 * j), 1 + rng.normal(0, 0.08 * j)])
            m = np.array([[1.0, rng.normal(0, 0.08 * j)], [0.0, 1.0]]) @ m
            off = rng.normal(0, [0.06 * j * em, 0.075 * j * em]) * (0.4 if is_rule else 1.0)
            p = (p - ctr) @ m.T + ctr + off
        out.append((p @ shear.T @ tilt.T, c))
    if st.warp > 0:
        f = _warp_field(rng, st.warp, 2.5 * em)
        out = [(f(p), c) for p, c in out]
    return out


def _agg(paths: list, lo: np.ndarray, w: int, h: int, linewidth: float, fill: bool) -> np.ndarray:
    r = RendererAgg(w, h, 72)
    gc = r.new_gc()
    gc.set_antialiased(True)
    gc.set_linewidth(linewidth)  # 0: no outline stroke at all
    gc.set_foreground((0, 0, 0, 1))
    ident, face = IdentityTransform(), ((0, 0, 0, 1) if fill else None)
    for p, c in paths:
        if len(p):
            r.draw_path(gc, Path(p - lo, c), ident, face)
    return np.asarray(r.buffer_rgba())[..., 3].astype(np.float32) / 255.0


def rasterise(paths: list, weight: float = 0.0, pad: int = 4) -> np.ndarray:
    """Anti-aliased coverage (float32 0..1, HxW) of filled outlines, cropped to them plus `pad` pixels.

    `weight` > 0 strokes the outlines that wide (a heavier pen); < 0 shaves that much off (a fine pen).
    """
    pts = np.concatenate([p[c != Path.CLOSEPOLY] for p, c in paths if len(p)])
    lo, hi = pts.min(0) - pad - max(weight, 0.0), pts.max(0) + pad + max(weight, 0.0)
    w, h = int(np.ceil(hi[0] - lo[0])) + 1, int(np.ceil(hi[1] - lo[1])) + 1
    cov = _agg(paths, lo, w, h, max(weight, 0.0), True)
    if weight < 0:  # the stroke straddles the outline, so 2|w| wide takes |w| off each side
        cov *= 1.0 - _agg(paths, lo, w, h, -2.0 * weight, False)
    return cov


def render_mask(latex: str, rng: np.random.Generator, style: Style | str | None = None) -> np.ndarray:
    """Ink coverage of one formula (float32 0..1, HxW, a few pixels of margin)."""
    st = _style_of(style, rng)
    paths = _deform(glyph_outlines(latex, st.fontset), rng, st)
    cov = rasterise(paths, st.weight if abs(st.weight) > 0.05 else 0.0, pad=int(4 + 2 * st.warp))
    if st.kind == "handwritten":  # uneven pen pressure along the line
        h, w = cov.shape
        x = np.linspace(0, rng.uniform(1, 4) * np.pi, w) + rng.uniform(0, 6)
        cov *= (0.82 + 0.18 * np.sin(x))[None, :].astype(np.float32)
    return cov


def render_formula(latex: str, rng: np.random.Generator, style: Style | str | None = None) -> np.ndarray:
    """One formula as a grey uint8 image (white background, dark ink): handy for fixtures and previews."""
    cov = render_mask(latex, rng, style)
    return np.round(255.0 * (1.0 - 0.92 * cov)).astype(np.uint8)
