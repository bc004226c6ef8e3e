"""Grouped bar charts of metrics (models x decoders, length bins, speed)."""
from __future__ import annotations

from typing import Sequence


def bar_chart(rows: Sequence[dict], keys: Sequence[str] = ("bleu4", "exact_match", "edit_score", "course_score"),
              label_keys: Sequence[str] = ("model", "decoder"), title: str = "", ylabel: str = "%"):
    """Grouped bars: one group per metric, one bar per row (e.g. model x decoder)."""
    import matplotlib.pyplot as plt
    import numpy as np

    keys = [k for k in keys if any(k in r for r in rows)]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(keys) + 0.4 * len(rows)), 3.8))
    width = 0.8 / max(1, len(rows))
    x = np.arange(len(keys))
    for i, r in enumerate(rows):
        vals = [float(r.get(k, 0.0)) for k in keys]
        bars = ax.bar(x + (i - (len(rows) - 1) / 2) * width, vals, width,
                      label=" ".join(str(r[k]) for k in label_keys if k in r))
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xticks(x, keys)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if rows:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig
