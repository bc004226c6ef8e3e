"""Show token strings as formulas (matplotlib mathtext) in galleries; what mathtext cannot draw stays text."""
from __future__ import annotations

import textwrap
from functools import lru_cache
from typing import Sequence

from ..data.latex import compact
from ..evaluation.metrics import NO_FORMULA


@lru_cache(maxsize=4096)
def can_render(latex: str) -> bool:
    """True when matplotlib mathtext parses `$latex$` (it draws a subset of LaTeX)."""
    if not latex.strip() or latex.strip() == NO_FORMULA or "$" in latex:
        return False
    from matplotlib.mathtext import MathTextParser

    try:
        MathTextParser("path").parse(f"${latex}$")
    except Exception:  # mathtext raises ValueError, and sometimes others, on input it cannot draw
        return False
    return True


def mathtext(latex: str | Sequence[str]) -> str:
    """The `$...$` string mathtext draws for a tokenised formula: tokens joined compactly (`x^{2}`, not
    `x ^ { 2 }`, whose space mathtext would take as the superscript)."""
    return f"${compact(latex if isinstance(latex, str) else ' '.join(latex))}$"


def draw_formula(ax, latex: str | Sequence[str], fontsize: int = 13, color: str = "black",
                 width: int = 60) -> bool:
    """Draw a formula centred on an empty axis; returns False when it was shown as plain text."""
    text = latex if isinstance(latex, str) else " ".join(latex)
    ax.set_axis_off()
    if can_render(compact(text)):
        ax.text(0.5, 0.5, mathtext(text), ha="center", va="center", fontsize=fontsize, color=color,
                transform=ax.transAxes)
        return True
    empty = not text.strip() or text.strip() == NO_FORMULA
    shown = "- (no formula)" if empty else textwrap.fill(text, width)
    ax.text(0.5, 0.5, shown, ha="center", va="center", fontsize=max(7, fontsize - 5), color=color,
            family="monospace", transform=ax.transAxes, wrap=True)
    return False


def formula_png(latex: str | Sequence[str], fontsize: int = 18, color: str = "black", dpi: int = 100) -> bytes:
    """A formula drawn by mathtext as PNG bytes on white, cropped to the ink (text where mathtext cannot draw it)."""
    import io

    import matplotlib.pyplot as plt

    text = latex if isinstance(latex, str) else " ".join(latex)
    fig = plt.figure(figsize=(1, 1), dpi=dpi)
    if can_render(compact(text)):
        fig.text(0, 0, mathtext(text), fontsize=fontsize, color=color)
    else:
        empty = not text.strip() or text.strip() == NO_FORMULA
        fig.text(0, 0, "- (no formula)" if empty else textwrap.fill(text, 70), fontsize=max(8, fontsize - 6),
                 color=color, family="monospace")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", facecolor="white", bbox_inches="tight", pad_inches=0.06)
    plt.close(fig)
    return buf.getvalue()
