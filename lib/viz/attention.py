"""Attention maps over an image, one panel per decoded token (works for any `Im2SeqModel`)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..evaluation.compare import Split
from ..evaluation.metrics import line_of
from ..inference.decode import attention_maps
from ..inference.predict import load_images
from ..models.checkpoint import load_model


def as_image(image) -> np.ndarray:
    """A [H, W] float array from a [1, H, W] / [H, W] tensor or array (0..1 or uint8)."""
    arr = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    arr = arr.squeeze()
    if arr.ndim != 2:
        raise ValueError(f"expected one grey image, got shape {arr.shape}")
    return arr.astype(np.float32) / (255.0 if arr.dtype == np.uint8 else 1.0)


def plot_attention(image, maps: np.ndarray, tokens: Sequence[str], steps: Sequence[int] | None = None,
                   ncols: int = 3, title: str = ""):
    """Overlay attention maps [steps, h, w] on the image, one panel per chosen step; returns the figure."""
    import matplotlib.pyplot as plt

    img = as_image(image)
    labels = list(tokens) + ["<EOS>"]
    steps = list(range(min(len(maps), 6))) if steps is None else [s for s in steps if s < len(maps)]
    if not steps:
        raise ValueError("no decoding step to show: the model emitted nothing")
    nrows = (len(steps) + ncols - 1) // ncols
    height, width = img.shape
    panel = 4.0  # inches per panel, its height following the image's aspect ratio
    fig, axes = plt.subplots(nrows, ncols, squeeze=False,
                             figsize=(panel * ncols, nrows * (panel * height / width + 0.5)))
    for ax in axes.flat[len(steps):]:
        ax.axis("off")
    for ax, s in zip(axes.flat, steps):
        ax.set_xticks([])
        ax.set_yticks([])
        ax.imshow(img, cmap="gray", vmin=0, vmax=1)
        # the feature grid spans the image (each cell over the pixels it summarises); opacity = weight
        weight = maps[s] / max(float(maps[s].max()), 1e-8)
        rgba = plt.get_cmap("autumn_r")(weight)
        rgba[..., 3] = 0.75 * weight
        ax.imshow(rgba, extent=(0, width, height, 0), interpolation="nearest")
        ax.set_title(f"{s + 1}: {labels[s] if s < len(labels) else '?'}", fontsize=10)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def attention_overlay(image, weights: np.ndarray, strength: float = 0.7) -> np.ndarray:
    """The image (uint8 grey) in RGB with one attention map [h, w] laid over it in red (uint8 H x W x 3)."""
    img = np.asarray(image, dtype=np.float32)
    height, width = img.shape
    w = np.asarray(weights, dtype=np.float32)
    w = w / max(float(w.max()), 1e-8)
    rows = np.minimum((np.arange(height) * w.shape[0]) // height, w.shape[0] - 1)
    cols = np.minimum((np.arange(width) * w.shape[1]) // width, w.shape[1] - 1)
    heat = w[rows][:, cols] * strength  # each cell over the pixels it summarises
    rgb = np.stack([img] * 3, axis=-1)
    red = np.array([230.0, 30.0, 30.0])
    return np.clip(rgb * (1 - heat[..., None]) + red * heat[..., None], 0, 255).astype(np.uint8)


def attention_example(name: str, path, split: Split, device: str = "cpu", max_len: int = 150):
    """The attention maps of the first readable image of `split` greedily decoded by one checkpoint."""
    model, vocab, _ = load_model(path, device)
    for img_id, img in zip(split.ids, load_images(split.paths)):
        if img is not None:
            tokens, maps, _ = attention_maps(model, img, vocab, max_len=max_len, device=device)
            steps = list(range(min(len(maps), 6)))
            return plot_attention(img, maps, tokens, steps=steps,
                                  title=f"{name}: {img_id} -> {line_of(tokens)[:80]}")
    return None
