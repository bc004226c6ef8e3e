"""Galleries: predictions beside the truth (green when exact) and errors drawn as formulas."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .formulas import draw_formula


def prediction_gallery(images: Sequence, preds: Sequence[str], truths: Sequence[str] | None = None,
                       ncols: int = 2, max_items: int = 12):
    """Each image with its prediction (green when equal to the truth, red otherwise) and the truth."""
    import matplotlib.pyplot as plt

    n = min(len(images), max_items)
    nrows = max(1, (n + ncols - 1) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.5 * ncols, 1.9 * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i in range(n):
        ax = axes.flat[i]
        img = images[i]
        img = img.squeeze().cpu().numpy() if hasattr(img, "cpu") else np.asarray(img).squeeze()
        ax.imshow(img, cmap="gray", vmin=0, vmax=255 if img.max() > 1 else 1)
        truth = truths[i] if truths is not None else None
        color = "black" if truth is None else ("green" if preds[i] == truth else "red")
        text = f"pred:  {preds[i]}" + (f"\ntruth: {truth}" if truth is not None else "")
        ax.set_title(text, fontsize=8, loc="left", color=color, family="monospace")
    fig.tight_layout()
    return fig


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
