"""Sinusoidal positional encodings: 1D for token positions, 2D for feature-map cells."""
from __future__ import annotations

import math

import torch
from torch import Tensor


def sinusoid(positions: Tensor, dim: int) -> Tensor:
    """[..., dim] encoding of (float) positions, sin on even and cos on odd channels (Vaswani et al.)."""
    if dim % 2:
        raise ValueError(f"sinusoidal encoding needs an even dimension, got {dim}")
    freq = torch.exp(torch.arange(0, dim, 2, device=positions.device, dtype=torch.float32)
                     * (-math.log(10000.0) / dim))
    angles = positions.float().unsqueeze(-1) * freq
    out = torch.zeros(*positions.shape, dim, device=positions.device)
    out[..., 0::2] = torch.sin(angles)
    out[..., 1::2] = torch.cos(angles)
    return out


def sinusoid_2d(height: int, width: int, dim: int, device: torch.device | str = "cpu") -> Tensor:
    """[dim, H, W] encoding: the first half of the channels encodes the row, the second the column."""
    if dim % 4:
        raise ValueError(f"2D sinusoidal encoding needs a dimension divisible by 4, got {dim}")
    half = dim // 2
    rows = sinusoid(torch.arange(height, device=device), half)          # [H, half]
    cols = sinusoid(torch.arange(width, device=device), half)           # [W, half]
    pe = torch.cat([rows[:, None, :].expand(height, width, half),
                    cols[None, :, :].expand(height, width, half)], dim=-1)
    return pe.permute(2, 0, 1).contiguous()
