"""A grammar of secondary-school exam mathematics: space-tokenised LaTeX that matplotlib mathtext renders."""
from __future__ import annotations

import numpy as np

from .expressions import JOINERS, pick
from .topics import TEMPLATES, WEIGHTS

MIN_TOKENS, MAX_TOKENS = 3, 80


def sample_formula(rng: np.random.Generator, min_tokens: int = MIN_TOKENS, max_tokens: int = MAX_TOKENS) -> str:
    """One formula as clean LaTeX, tokens separated by single spaces (`\\frac { 1 } { x ^ { 2 } }`)."""
    while True:
        make = TEMPLATES[int(rng.choice(len(TEMPLATES), p=WEIGHTS))][0]
        s = make(rng)
        if rng.random() < 0.15 and "=" in s and "\\Rightarrow" not in s:
            s = f"{s} {pick(rng, JOINERS)} {make(rng)}"
        s = " ".join(s.split())
        if min_tokens <= len(s.split()) <= max_tokens:
            return s
