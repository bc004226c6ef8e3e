"""The interface both models share: training, decoding, prediction and plots use only this."""
from __future__ import annotations

from typing import Any

from torch import Tensor, nn


def index_rows(obj: Any, index: Tensor) -> Any:
    """Select rows (dim 0) of every tensor inside nested dicts/lists/tuples; other values pass through."""
    if isinstance(obj, Tensor):
        return obj.index_select(0, index)
    if isinstance(obj, dict):
        return {k: index_rows(v, index) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(index_rows(v, index) for v in obj)
    return obj


class Im2SeqModel(nn.Module):
    """An image -> token sequence model.

    Images are float tensors [B, 1, H, W] in 0..1 with white paper = 1; `mask` [B, H, W] is True on
    real pixels (None: all real). Token tensors hold vocabulary ids (<PAD> 0, <SOS> 1, <EOS> 2).

    - `encode(images, mask)` -> memory: a dict of tensors with batch first; it holds
      `"mask"` [B, N] (True = valid position) and `"hw"` (feature-grid height, width) for attention maps.
    - `forward(images, tgt_in, mask)` -> logits [B, T, V] with teacher forcing (`tgt_in` starts with <SOS>).
    - `init_state(memory)` -> state for incremental decoding (a dict of tensors, batch first).
    - `step(memory, state, tokens)` -> (logits [B, V], state): feed one token per row, cost O(1) in
      the prefix length. After a step, `state["attn"]` [B, N] holds the attention over memory positions.
    - `select(state, index)` reorders/expands the rows of the running state (beam search); the default
      suits dict states. The memory never changes while decoding: beam search repeats each image's memory
      once for its beams (`index_rows`) and never copies it again.
    - `has_attention_maps`: `attention(images, tgt_in, mask)` -> (logits, attention [B, T, N] over the feature
      grid, row-major) with teacher forcing (model 1: the figures and `python -m lib.bench prior`).
    - `hparams` is the dict of constructor arguments; `lib.models.build_model(name, **hparams)` rebuilds.
    """

    name: str = "base"
    has_attention_maps: bool = False  # attention(images, tgt_in, mask) -> (logits, attention [B, T, N]) (model 1)

    def __init__(self) -> None:
        super().__init__()
        self.hparams: dict = {}

    def encode(self, images: Tensor, mask: Tensor | None = None) -> dict:
        raise NotImplementedError

    def forward(self, images: Tensor, tgt_in: Tensor, mask: Tensor | None = None) -> Tensor:
        raise NotImplementedError

    def init_state(self, memory: dict) -> dict:
        raise NotImplementedError

    def step(self, memory: dict, state: dict, tokens: Tensor) -> tuple[Tensor, dict]:
        raise NotImplementedError

    def select(self, state: dict, index: Tensor) -> dict:
        return index_rows(state, index)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
