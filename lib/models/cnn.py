"""The VGG-like CNN of im2markup (Deng et al. 2016): six 3x3 convolutions, batch norm, max-pooling."""
from __future__ import annotations

from typing import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

# Per convolution: (batch norm?, max-pool kernel (kH, kW) after it or None), as in the public im2markup.
LAYOUT: tuple[tuple[bool, tuple[int, int] | None], ...] = (
    (False, (2, 2)),
    (False, (2, 2)),
    (True, None),
    (False, (2, 1)),   # halve the height only
    (True, (1, 2)),    # halve the width only
    (True, None),
)
STRIDE = (8, 8)  # total (height, width) downsampling of LAYOUT


class VGGEncoder(nn.Module):
    """[B, 1, H, W] ink-positive images -> features [B, C, H/8, W/8] (and the mask on that grid)."""

    def __init__(self, widths: Sequence[int] = (64, 128, 256, 256, 512, 512), in_channels: int = 1):
        super().__init__()
        if len(widths) != len(LAYOUT):
            raise ValueError(f"cnn_widths needs {len(LAYOUT)} values, got {list(widths)}")
        self.blocks = nn.ModuleList()
        self.pools: list[tuple[int, int] | None] = []
        prev = in_channels
        for width, (bn, pool) in zip(widths, LAYOUT):
            layers: list[nn.Module] = [nn.Conv2d(prev, width, 3, padding=1, bias=not bn)]
            if bn:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.ReLU(inplace=True))
            self.blocks.append(nn.Sequential(*layers))
            self.pools.append(pool)
            prev = width
        self.out_channels = prev

    def forward(self, x: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """`mask` [B, H, W] (True = real pixel) is pooled alongside; padded features are zeroed after
        every block, so a padded image gives the same valid features as the unpadded one (in eval mode,
        for sizes that are multiples of 8)."""
        m = None if mask is None else mask.unsqueeze(1).to(x.dtype)
        if m is not None:
            x = x * m
        for block, pool in zip(self.blocks, self.pools):
            x = block(x)
            if m is not None:
                x = x * m.to(x.dtype)
            if pool is not None:
                x = F.max_pool2d(x, pool)
                if m is not None:
                    m = F.max_pool2d(m, pool)
        return x, (None if m is None else m.squeeze(1) > 0.5)


def feature_size(height: int, width: int) -> tuple[int, int]:
    """Feature-grid (height, width) for an input image size."""
    for _, pool in LAYOUT:
        if pool is not None:
            height, width = height // pool[0], width // pool[1]
    return height, width


def check_size(images: Tensor) -> None:
    """Refuse images too small for the pooling pattern (the feature grid would be empty)."""
    h, w = images.shape[-2:]
    if h < STRIDE[0] or w < STRIDE[1]:
        raise ValueError(f"images of {h}x{w} pixels are too small for model1 (needs at least "
                         f"{STRIDE[0]}x{STRIDE[1]})")
