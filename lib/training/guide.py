"""Guided attention for model 1: a loss that draws its attention along the formula's reading order early on.

An attention decoder that starts from uniform attention first learns the formulas' prior (the likeliest next
token whatever the image) and only later where to look; `python -m lib.bench prior` shows model 1 spending its
first minutes there. Guided attention (Tachibana et al. 2017, "Efficiently trainable text-to-speech... with
guided attention") adds, for the t-th of a formula's L tokens, the attention it gives to feature columns far from
the relative position (t + 1/2) / L of the image's width:

    guide = sum_n attn[t, n] * (1 - exp(-(x_n - (t + 1/2) / L)^2 / (2 g^2)))

with x_n the relative position of column n's centre in the image's real (unpadded) width. LaTeX is written
mostly left to right, so the guide is a soft hint (g = 0.2 tolerates fractions and scripts); its weight fades
to 0 as the run goes on (`m1_guide_until`), after which the model's own alignment takes over.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..data.vocab import PAD_ID
from ..models.cnn import STRIDE, feature_size

WIDTH = 0.2  # g: the tolerance, as a fraction of the image's width


def guide_weight(weight: float, until: float, done: float) -> float:
    """The guide's weight at run progress `done` (0..1): `weight` fading linearly to 0 at `until`."""
    if weight <= 0 or until <= 0:
        return 0.0
    return weight * max(0.0, 1.0 - done / until)


def guided_attention_loss(attn: Tensor, gold: Tensor, image_shape: tuple[int, int], mask: Tensor | None,
                          width: float = WIDTH) -> Tensor:
    """The mean guide penalty per real token. `attn` [B, T, N] over the feature grid (row-major, N = H' * W'),
    `gold` [B, T] the tokens predicted (PAD after the end), `mask` [B, H, W] the real pixels (None: all)."""
    b, t, n = attn.shape
    gh, gw = feature_size(*image_shape)
    if gh * gw != n:
        raise ValueError(f"attention over {n} positions, but a {image_shape} image has a {gh}x{gw} feature grid")
    dev = attn.device
    if mask is None:
        cols = torch.full((b,), float(gw), device=dev)
    else:  # the real width in feature columns (the stride rounds a partial column up, as the pooled mask does)
        cols = torch.ceil(mask.any(1).sum(1).float() / STRIDE[1]).clamp(1, gw)
    real = gold != PAD_ID
    length = real.sum(1).clamp(min=1).float()
    pos = (torch.arange(t, device=dev).float().unsqueeze(0) + 0.5) / length.unsqueeze(1)       # [B, T]
    x = (torch.arange(gw, device=dev).float().unsqueeze(0) + 0.5) / cols.unsqueeze(1)          # [B, W']
    penalty = 1.0 - torch.exp(-(x.unsqueeze(1) - pos.unsqueeze(2)) ** 2 / (2 * width ** 2))     # [B, T, W']
    per_col = attn.float().view(b, t, gh, gw).sum(2)                                           # [B, T, W']
    per_token = (per_col * penalty).sum(-1)
    return (per_token * real).sum() / real.sum().clamp(min=1)
