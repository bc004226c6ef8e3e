"""Model 2: ResNet encoder (one-channel stem, first stages of ResNet-18/34) + Transformer decoder.

As in Singh (2021) and the public image-to-latex project: ResNet features -> 1x1 bottleneck to d_model
-> 2D sinusoidal positions -> a Transformer decoder attending over the flattened grid. Our decoder keeps
a key/value cache so greedy and beam decoding cost one new token per step.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
import torchvision
from torch import Tensor, nn

from ..run.profiles import Profile
from .base import Im2SeqModel
from .cached_decoder import CachedDecoder
from .posenc import sinusoid_2d

RESNETS = {"resnet18": (2, 2, 2, 2), "resnet34": (3, 4, 6, 3)}  # BasicBlocks per stage
WIDTH = 64  # channels of the stem and of layer1 in torchvision's ResNets (layerN: WIDTH * 2 ** (N - 1))
DEFAULTS = dict(resnet="resnet18", stages=3, d_model=128, layers=3, heads=4, ff=256, dropout=0.3, width=WIDTH)


def hparams_from_profile(profile: Profile) -> dict:
    """Constructor arguments sized by the profile."""
    return dict(resnet=profile.m2_resnet, stages=profile.m2_stages, d_model=profile.m2_d_model,
                layers=profile.m2_layers, heads=profile.m2_heads, ff=profile.m2_ff, dropout=profile.m2_dropout,
                width=profile.m2_width)


def resnet_encoder(resnet: str = "resnet18", stages: int = 3, width: int = WIDTH) -> tuple[nn.Sequential, int]:
    """The stem and layers 1..stages of a ResNet (no weights) taking one grey channel; its output channels.

    `width` 64 is torchvision's ResNet as it is; a narrower one (32) has the same layout at a quarter of the
    work, which on a CPU buys more training steps than the lost width costs (`python -m lib.bench learn`).
    """
    if resnet not in RESNETS:
        raise ValueError(f"unknown resnet {resnet!r}: choose one of {', '.join(RESNETS)}")
    if not 1 <= stages <= 4:
        raise ValueError(f"stages must be 1..4, got {stages}")
    stem = nn.Conv2d(1, width, kernel_size=7, stride=2, padding=3, bias=False)
    nn.init.kaiming_normal_(stem.weight, mode="fan_out", nonlinearity="relu")
    if width == WIDTH:  # zero_init_residual: each residual block starts as identity, which trains faster
        net = getattr(torchvision.models, resnet)(weights=None, zero_init_residual=True)
        layers = [getattr(net, f"layer{i}") for i in range(1, stages + 1)]
        return nn.Sequential(stem, net.bn1, net.relu, net.maxpool, *layers), WIDTH * 2 ** (stages - 1)
    from torchvision.models.resnet import BasicBlock, conv1x1

    mods: list[nn.Module] = [stem, nn.BatchNorm2d(width), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1)]
    inplanes = width
    for i, n in enumerate(RESNETS[resnet][:stages]):
        planes, stride = width * 2 ** i, 1 if i == 0 else 2
        down = None
        if stride != 1 or inplanes != planes:
            down = nn.Sequential(conv1x1(inplanes, planes, stride), nn.BatchNorm2d(planes))
        blocks = [BasicBlock(inplanes, planes, stride, down)] + [BasicBlock(planes, planes) for _ in range(n - 1)]
        for m in (m for b in blocks for m in b.modules()):
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        for b in blocks:
            nn.init.zeros_(b.bn2.weight)
        mods.append(nn.Sequential(*blocks))
        inplanes = planes
    return nn.Sequential(*mods), inplanes


class ResNetTransformer(Im2SeqModel):
    """ResNet features + 2D positions as memory; a cached Transformer decoder over it."""

    name = "model2"

    def __init__(self, vocab_size: int, resnet: str = "resnet18", stages: int = 3, d_model: int = 128,
                 layers: int = 3, heads: int = 4, ff: int = 256, dropout: float = 0.3, width: int = WIDTH):
        super().__init__()
        self.hparams = dict(resnet=resnet, stages=stages, d_model=d_model, layers=layers, heads=heads,
                            ff=ff, dropout=dropout, width=width)
        self.vocab_size, self.d_model = vocab_size, d_model
        self.backbone, channels = resnet_encoder(resnet, stages, width)
        self.bottleneck = nn.Conv2d(channels, d_model, kernel_size=1)
        nn.init.xavier_uniform_(self.bottleneck.weight)
        nn.init.zeros_(self.bottleneck.bias)
        self.decoder = CachedDecoder(vocab_size, d_model, layers, heads, ff, dropout)
        self._pe_cache: dict = {}

    def _pe(self, h: int, w: int, like: Tensor) -> Tensor:
        key = (h, w, like.device, like.dtype)
        if key not in self._pe_cache:
            self._pe_cache[key] = sinusoid_2d(h, w, self.d_model, like.device).to(like.dtype)
        return self._pe_cache[key]

    def encode(self, images: Tensor, mask: Tensor | None = None) -> dict:
        """memory [B, N, D] over the h x w feature grid, each layer's keys/values of it, its mask [B, N], hw."""
        feats = self.bottleneck(self.backbone(1.0 - images))  # ink and padding: ink high, white zero
        b, d, h, w = feats.shape
        feats = feats + self._pe(h, w, feats)
        memory = feats.flatten(2).transpose(1, 2)
        if mask is None:
            fmask = torch.ones(b, h * w, dtype=torch.bool, device=images.device)
        else:  # a cell is valid when its window holds any real pixel
            fmask = F.adaptive_max_pool2d(mask[:, None].float(), (h, w)).flatten(1) > 0
        return {"memory": memory, "kv": self.decoder.memory_kv(memory), "mask": fmask, "hw": (h, w),
                "full": mask is None or bool(fmask.all())}

    def _mem_mask(self, memory: dict) -> Tensor | None:
        """The memory mask, or None when every cell is valid (faster attention)."""
        if memory.get("full", False):
            return None
        return memory["mask"]

    def decode_prefix(self, memory: dict, tokens: Tensor) -> Tensor:
        """Logits [B, T, V] for whole prefixes (teacher forcing; the uncached reference)."""
        return self.decoder(tokens, memory["kv"], self._mem_mask(memory))

    def forward(self, images: Tensor, tgt_in: Tensor, mask: Tensor | None = None) -> Tensor:
        return self.decode_prefix(self.encode(images, mask), tgt_in)

    def init_state(self, memory: dict) -> dict:
        return self.decoder.init_state(memory["memory"])

    def step(self, memory: dict, state: dict, tokens: Tensor) -> tuple[Tensor, dict]:
        return self.decoder.step(state, tokens, memory["kv"], self._mem_mask(memory))
