"""The `demo` data source: synthetic scanned exam pages with formulas, annotations and OCR-style labels.

`generate(out_dir, pages, seed)` writes the raw layout (README, *The demo data set*); `grammar.sample_formula(rng)` and
`render.render_formula(latex, rng, style)` make single formulas for fixtures.
"""
from __future__ import annotations

from .dataset import VERSION, generate, plan, read_truth, split_sizes
from .grammar import sample_formula
from .render import Style, random_style, render_formula

__all__ = ["VERSION", "Style", "generate", "plan", "random_style", "read_truth", "render_formula", "sample_formula",
           "split_sizes"]
