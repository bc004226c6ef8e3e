"""The `demo` data source: synthetic scanned exam pages with formulas, annotations and OCR-style labels.

`generate(out_dir, pages, seed)` writes the raw layout of CONTRACT.md; `grammar.sample_formula(rng)` and
`render.render_formula(latex, rng, style)` make single formulas for fixtures.
"""
from __future__ import annotations

from .dataset import VERSION, generate, plan, split_sizes

__all__ = ["VERSION", "generate", "plan", "split_sizes"]
