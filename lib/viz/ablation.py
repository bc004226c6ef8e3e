"""Augmentation ablation figures: the pipelines on the same images, and one curve per arm."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..data.augment import PIPELINES, get_transform
from ..data.dataset import load_split
from ..data.images import load_grey
from ..training.ablation import parse_arms


def plot_curves(rows: Sequence[dict], keys: Sequence[str] = ("train_loss", "val_loss", "val_exact_match",
                                                             "val_edit_score")):
    """One panel per metric, one line per arm (mixup, the negative control, dashed)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.4), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for r in rows:
            hist = r.get("history") or []
            if hist:
                ax.plot([h["epoch"] for h in hist], [h[key] for h in hist], marker="o", label=r["arm"],
                        linestyle="--" if r["arm"] == "mixup" else "-")
        ax.set(title=key, xlabel="epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def sample_images(processed_dir: str | Path, n: int = 3, split: str = "train", scan: int = 200) -> list[np.ndarray]:
    """`n` images of a split, of different sizes where the first `scan` offer them (the gallery shows buckets)."""
    from PIL import Image


    folder = Path(processed_dir) / "images"
    names = [name for name, _ in load_split(processed_dir, split)][:scan]
    by_size: dict[tuple[int, int], str] = {}
    for name in names:
        with Image.open(folder / name) as im:
            by_size.setdefault(im.size, name)
    picked = list(by_size.values())[:n]
    picked += [name for name in names if name not in picked][:n - len(picked)]
    return [load_grey(folder / name) for name in picked]


def gallery(images: Sequence[np.ndarray], arms: Sequence[str] = PIPELINES, seed: int = 0):
    """A grid: one row per pipeline (applied with p=1), one column per image; mixup blends the next image."""
    import matplotlib.pyplot as plt

    arms = parse_arms(arms)
    fig, axes = plt.subplots(len(arms), len(images), figsize=(3.6 * len(images), 1.1 * len(arms) + 0.5),
                             squeeze=False)
    for row, arm in zip(axes, arms):
        t = get_transform(arm, p=1.0, seed=seed)
        for j, (ax, img) in enumerate(zip(row, images)):
            kw = {"other": images[(j + 1) % len(images)]} if arm == "mixup" else {}
            ax.imshow(t(image=img, **kw)["image"], cmap="gray", vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(arm, rotation=0, ha="right", va="center")
    fig.tight_layout()
    return fig
