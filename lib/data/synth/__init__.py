"""The `demo` data source: synthetic scanned exam pages with formulas, annotations and OCR-style labels.

`generate(out_dir, pages, seed, mix=..., tex=...)` writes the raw layout (docs/data.md, *The demo data set*): formulas
of the exam grammar (`grammar.sample_formula`), random formulas and exam-label fragments (`broad`), a share typeset
by real LaTeX (lib/data/render.py); `render.render_formula(latex, rng, style)` draws one with mathtext.
"""
from __future__ import annotations

from .dataset import VERSION, generate, plan, read_truth, split_sizes
from .grammar import sample_formula
from .render import Style, random_style, render_formula

__all__ = ["VERSION", "Style", "generate", "plan", "random_style", "read_truth", "render_formula", "sample_formula",
           "split_sizes"]
