"""A pre-norm Transformer decoder that runs either over a whole prefix or one token at a time with a cache.

`nn.TransformerDecoder` re-runs every earlier position at each step; here each layer keeps the keys and
values of the tokens already seen (and of the memory), so a decoding step costs one new token's work.
Both paths use the same weights and agree within float tolerance (tests/test_model2.py).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .posenc import sinusoid


def _heads(x: Tensor, heads: int) -> Tensor:
    """[B, T, D] -> [B, heads, T, D / heads]."""
    b, t, d = x.shape
    return x.view(b, t, heads, d // heads).transpose(1, 2)


def _attend(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
    """Plain attention for a single query step (cheaper than SDPA kernels at query length 1 on CPU)."""
    scores = (q @ k.transpose(-1, -2)) * (q.shape[-1] ** -0.5)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.float().softmax(-1).to(q.dtype)
    return weights @ v, weights


def _merge(x: Tensor) -> Tensor:
    """[B, heads, T, dh] -> [B, T, heads * dh]."""
    b, h, t, dh = x.shape
    return x.transpose(1, 2).reshape(b, t, h * dh)


class DecoderLayer(nn.Module):
    """Self-attention (causal), cross-attention over the image memory, feed-forward; pre-norm residuals."""

    def __init__(self, d_model: int, heads: int, ff: int, dropout: float):
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model {d_model} is not divisible by heads {heads}")
        self.heads, self.dropout = heads, dropout
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.self_out = nn.Linear(d_model, d_model)
        self.q = nn.Linear(d_model, d_model)
        self.kv = nn.Linear(d_model, 2 * d_model)
        self.cross_out = nn.Linear(d_model, d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, ff), nn.GELU(), nn.Dropout(dropout), nn.Linear(ff, d_model))
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d_model), nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.drop = nn.Dropout(dropout)

    def memory_kv(self, memory: Tensor) -> tuple[Tensor, Tensor]:
        """Keys and values of the memory, [B, heads, N, dh] each (computed once per image)."""
        k, v = self.kv(memory).chunk(2, dim=-1)
        # contiguous: each decoding step multiplies by them without copying
        return _heads(k, self.heads).contiguous(), _heads(v, self.heads).contiguous()

    def _cross(self, x: Tensor, mk: Tensor, mv: Tensor, mem_mask: Tensor | None,
               single: bool) -> tuple[Tensor, Tensor | None]:
        """Cross-attention; `single` (one query step, inference) also returns weights [B, T, N] (head mean)."""
        q = _heads(self.q(self.norm2(x)), self.heads)
        bias = None if mem_mask is None else mem_mask[:, None, None, :]
        if not single:
            p = self.dropout if self.training else 0.0
            out = F.scaled_dot_product_attention(q, mk, mv, attn_mask=bias, dropout_p=p)
            return self.cross_out(_merge(out)), None
        out, weights = _attend(q, mk, mv, bias)
        return self.cross_out(_merge(out)), weights.mean(1)

    def forward(self, x: Tensor, mk: Tensor, mv: Tensor, mem_mask: Tensor | None) -> Tensor:
        """Whole prefix x [B, T, D] at once with a causal mask."""
        q, k, v = (_heads(t, self.heads) for t in self.qkv(self.norm1(x)).chunk(3, dim=-1))
        p = self.dropout if self.training else 0.0
        x = x + self.drop(self.self_out(_merge(F.scaled_dot_product_attention(q, k, v, dropout_p=p,
                                                                              is_causal=True))))
        x = x + self.drop(self._cross(x, mk, mv, mem_mask, single=False)[0])
        return x + self.drop(self.ff(self.norm3(x)))

    def step(self, x: Tensor, cache_k: Tensor, cache_v: Tensor, t: int, mk: Tensor, mv: Tensor,
             mem_mask: Tensor | None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """One new token x [B, 1, D] at position t; returns (output, key cache, value cache, cross weights).

        The caches [B, heads, capacity, dh] are written in place at position t and doubled when full, so a
        step copies nothing in the common case (they are only for inference, not for autograd).
        """
        q, k, v = (_heads(t_, self.heads) for t_ in self.qkv(self.norm1(x)).chunk(3, dim=-1))
        if t >= cache_k.shape[2] or cache_k.dtype != k.dtype:
            grow = max(16, 2 * cache_k.shape[2])
            cache_k = torch.cat([cache_k.to(k.dtype), k.new_zeros(*k.shape[:2], grow, k.shape[3])], dim=2)
            cache_v = torch.cat([cache_v.to(v.dtype), v.new_zeros(*v.shape[:2], grow, v.shape[3])], dim=2)
        cache_k[:, :, t] = k[:, :, 0]
        cache_v[:, :, t] = v[:, :, 0]
        att, _ = _attend(q, cache_k[:, :, :t + 1], cache_v[:, :, :t + 1], None)
        x = x + self.drop(self.self_out(_merge(att)))
        out, weights = self._cross(x, mk, mv, mem_mask, single=True)
        x = x + self.drop(out)
        return x + self.drop(self.ff(self.norm3(x))), cache_k, cache_v, weights


class CachedDecoder(nn.Module):
    """Token embedding + sinusoidal positions + a stack of `DecoderLayer` + output projection."""

    def __init__(self, vocab_size: int, d_model: int, layers: int, heads: int, ff: int, dropout: float):
        super().__init__()

        self._sinusoid = sinusoid
        self.d_model, self.heads = d_model, heads
        self.embed = nn.Embedding(vocab_size, d_model)
        self.layers = nn.ModuleList(DecoderLayer(d_model, heads, ff, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(d_model)
        self.out = nn.Linear(d_model, vocab_size)
        self.drop = nn.Dropout(dropout)
        self._pe: Tensor | None = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Xavier for projections, zero biases, unit-variance embeddings after the sqrt(d) scale."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.embed.weight, std=self.d_model ** -0.5)

    def _positions(self, start: int, n: int, device: torch.device) -> Tensor:
        """Rows start..start+n of a sinusoid table, grown on demand (no per-step trigonometry)."""
        if self._pe is None or self._pe.shape[0] < start + n or self._pe.device != device:
            size = max(256, 2 * (start + n))
            self._pe = self._sinusoid(torch.arange(size, device=device), self.d_model)
        return self._pe[start:start + n]

    def _embed(self, tokens: Tensor, start: int) -> Tensor:
        pe = self._positions(start, tokens.shape[1], tokens.device)
        return self.drop(self.embed(tokens) * math.sqrt(self.d_model) + pe.to(self.embed.weight.dtype))

    def memory_kv(self, memory: Tensor) -> list[tuple[Tensor, Tensor]]:
        """Each layer's cross-attention keys and values of the memory: part of the memory, computed once."""
        return [layer.memory_kv(memory) for layer in self.layers]

    def forward(self, tokens: Tensor, kv: list[tuple[Tensor, Tensor]], mem_mask: Tensor | None) -> Tensor:
        """Logits [B, T, V] for a whole prefix (teacher forcing, or the uncached reference)."""
        x = self._embed(tokens, 0)
        for layer, (mk, mv) in zip(self.layers, kv):
            x = layer(x, mk, mv, mem_mask)
        return self.out(self.norm(x))

    def init_state(self, like: Tensor) -> dict:
        """Empty self-attention caches (batch, device and dtype of `like`) and the position `t`."""
        empty = like.new_zeros(like.shape[0], self.heads, 0, self.d_model // self.heads)
        state: dict = {"t": 0}
        for i in range(len(self.layers)):
            state.update({f"k{i}": empty, f"v{i}": empty})
        return state

    def step(self, state: dict, tokens: Tensor, kv: list[tuple[Tensor, Tensor]],
             mem_mask: Tensor | None) -> tuple[Tensor, dict]:
        """Logits [B, V] for one new token per row; updates the caches and `attn` (last layer, head mean)."""
        t = state["t"]
        x = self._embed(tokens[:, None], t)
        new = dict(state, t=t + 1)
        for i, (layer, (mk, mv)) in enumerate(zip(self.layers, kv)):
            x, new[f"k{i}"], new[f"v{i}"], w = layer.step(x, state[f"k{i}"], state[f"v{i}"], t, mk, mv, mem_mask)
        new["attn"] = w[:, 0]  # the last layer's
        return self.out(self.norm(x))[:, 0], new
