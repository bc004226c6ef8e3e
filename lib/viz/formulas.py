"""Show token strings as formulas (matplotlib mathtext) in galleries; what mathtext cannot draw stays text."""
from __future__ import annotations

import textwrap
from functools import lru_cache
from typing import Sequence

import numpy as np

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


def draw_formula(ax, latex: str | Sequence[str], fontsize: int = 13, color: str = "black",
                 width: int = 60) -> bool:
    """Draw a formula centred on an empty axis; returns False when it was shown as plain text."""
    text = latex if isinstance(latex, str) else " ".join(latex)
    ax.set_axis_off()
    if can_render(text):
        ax.text(0.5, 0.5, f"${text}$", ha="center", va="center", fontsize=fontsize, color=color,
                transform=ax.transAxes)
        return True
    empty = not text.strip() or text.strip() == NO_FORMULA
    shown = "- (no formula)" if empty else textwrap.fill(text, width)
    ax.text(0.5, 0.5, shown, ha="center", va="center", fontsize=max(7, fontsize - 5), color=color,
            family="monospace", transform=ax.transAxes, wrap=True)
    return False


def error_gallery(images: Sequence[np.ndarray | None], truths: Sequence[str], preds: Sequence[str],
                  names: Sequence[str] | None = None, title: str = ""):
    """One row per example: the image, the truth rendered, the prediction rendered (red)."""
    import matplotlib.pyplot as plt

    n = max(1, len(truths))
    fig, axes = plt.subplots(n, 3, figsize=(13, 1.5 * n + 0.6), squeeze=False,
                             gridspec_kw={"width_ratios": [1.2, 1, 1]})
    for c, head in enumerate(("image", "truth", "prediction")):
        axes[0][c].set_title(head, fontsize=10)
    for r in range(len(truths)):
        img = images[r] if r < len(images) else None
        if img is None:
            axes[r][0].text(0.5, 0.5, "(no image)", ha="center", va="center")
        else:
            axes[r][0].imshow(img, cmap="gray", vmin=0, vmax=255)
        axes[r][0].set_xticks([])
        axes[r][0].set_yticks([])
        if names is not None:
            axes[r][0].set_ylabel(names[r], fontsize=7, rotation=0, ha="right", va="center")
        draw_formula(axes[r][1], truths[r])
        draw_formula(axes[r][2], preds[r], color="crimson")
    if not truths:
        for ax in axes[0]:
            ax.set_axis_off()
        axes[0][1].text(0.5, 0.5, "no errors to show", ha="center", va="center")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
