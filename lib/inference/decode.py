"""Batched decoding over the `Im2SeqModel` interface: cached greedy, beam search, and an uncached reference.

Returned token lists hold neither <SOS> nor <EOS>. Greedy scores are summed log-probabilities of the
emitted tokens (the <EOS> included when emitted). Beam scores are the ranking score
`sum log p / ((5 + L) / 6) ** alpha` (GNMT length normalisation, L = tokens including <EOS>).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..data.vocab import EOS_ID, SOS_ID, Vocab
from ..models.base import Im2SeqModel, index_rows


def length_penalty(length: int | Tensor, alpha: float) -> float | Tensor:
    """GNMT length penalty ((5 + L) / 6) ** alpha."""
    return ((5.0 + length) / 6.0) ** alpha


def beam_score(logp_sum: float | Tensor, length: int | Tensor, alpha: float) -> float | Tensor:
    """The score beam search ranks finished hypotheses by."""
    return logp_sum / length_penalty(length, alpha)


def _log_probs(logits: Tensor, step: int, min_len: int) -> Tensor:
    logp = logits.float().log_softmax(-1)
    if step < min_len:  # <EOS> not allowed yet (benchmarks force a fixed length this way)
        logp[:, EOS_ID] = float("-inf")
    return logp


def _cut(seq: list[int]) -> list[int]:
    return seq[:seq.index(EOS_ID)] if EOS_ID in seq else seq


def sync_every(device: torch.device) -> int:
    """Steps between checks whether every row has finished: each check waits for the GPU, and on a CPU
    it is free while an extra step is not."""
    return 8 if device.type == "cuda" else 1


def _greedy_from(model: Im2SeqModel, memory: dict, b: int, device: torch.device, max_len: int,
                 return_attention: bool, min_len: int):
    state = model.init_state(memory)
    tokens = torch.full((b,), SOS_ID, dtype=torch.long, device=device)
    done = torch.zeros(b, dtype=torch.bool, device=device)
    scores = torch.zeros(b, device=device)
    out, attn = [], []
    every = sync_every(device)
    for t in range(max_len):
        logits, state = model.step(memory, state, tokens)
        logp = _log_probs(logits, t, min_len)
        best, tokens = logp.max(-1)
        scores += torch.where(done, torch.zeros_like(best), best)
        out.append(tokens)
        if return_attention:
            attn.append(state["attn"].float())
        done |= tokens == EOS_ID
        if (t + 1) % every == 0 and bool(done.all()):
            break
    seqs = [_cut(row) for row in torch.stack(out, 1).tolist()]
    return seqs, scores, attn


@torch.no_grad()
def greedy(model: Im2SeqModel, images: Tensor, mask: Tensor | None = None, max_len: int = 150,
           return_attention: bool = False, min_len: int = 0):
    """(token lists, scores [B]) and, with `return_attention`, (attention list of [steps, N], hw) too."""
    memory = model.encode(images, mask)
    seqs, scores, attn = _greedy_from(model, memory, images.shape[0], images.device, max_len, return_attention,
                                      min_len)
    if not return_attention:
        return seqs, scores
    maps = torch.stack(attn, 1).cpu()  # [B, steps, N]
    return seqs, scores, [maps[i, :min(len(s) + 1, maps.shape[1])] for i, s in enumerate(seqs)], memory["hw"]


@torch.no_grad()
def greedy_uncached(model: Im2SeqModel, images: Tensor, mask: Tensor | None = None, max_len: int = 150,
                    min_len: int = 0) -> tuple[list[list[int]], Tensor]:
    """Reference greedy that re-runs the decoder over the whole prefix at every step (O(T^2) work).

    Uses `model.decode_prefix(memory, tokens)` where the model has it, else replays `step` from scratch.
    """
    memory = model.encode(images, mask)
    b = images.shape[0]
    prefix = torch.full((b, 1), SOS_ID, dtype=torch.long, device=images.device)
    done = torch.zeros(b, dtype=torch.bool, device=images.device)
    scores = torch.zeros(b, device=images.device)
    for t in range(max_len):
        if hasattr(model, "decode_prefix"):
            logits = model.decode_prefix(memory, prefix)[:, -1]
        else:
            state = model.init_state(memory)
            for i in range(prefix.shape[1]):
                logits, state = model.step(memory, state, prefix[:, i])
        best, tokens = _log_probs(logits, t, min_len).max(-1)
        scores += torch.where(done, torch.zeros_like(best), best)
        prefix = torch.cat([prefix, tokens[:, None]], 1)
        done |= tokens == EOS_ID
        if bool(done.all()):
            break
    return [_cut(row) for row in prefix[:, 1:].tolist()], scores


def _beam(model: Im2SeqModel, images: Tensor, mask: Tensor | None, beam: int, max_len: int, alpha: float,
          min_len: int, keep: int):
    """The one beam search: batched, with early finish; the `keep` best finished hypotheses of each image
    (encoded images, token ids [B, keep, max_len], lengths [B, keep], beam scores [B, keep], best first)."""
    b, k, dev = images.shape[0], beam, images.device
    encoded = model.encode(images, mask)
    memory = index_rows(encoded, torch.arange(b, device=dev).repeat_interleave(k))  # once: k rows per image
    state = model.init_state(memory)
    live = torch.full((b, k), float("-inf"), device=dev)
    live[:, 0] = 0.0  # one live hypothesis per image at the start
    seqs = torch.zeros(b, k, 0, dtype=torch.long, device=dev)
    tokens = torch.full((b * k,), SOS_ID, dtype=torch.long, device=dev)
    fin_score = torch.full((b, keep), float("-inf"), device=dev)  # the best finished hypotheses per image
    fin_seq = torch.zeros(b, keep, max_len, dtype=torch.long, device=dev)
    fin_len = torch.zeros(b, keep, dtype=torch.long, device=dev)
    active = torch.ones(b, dtype=torch.bool, device=dev)
    every = sync_every(dev)
    for t in range(max_len):
        logits, state = model.step(memory, state, tokens)
        logp = _log_probs(logits, t, min_len).view(b, k, -1)
        vocab = logp.shape[-1]
        top, idx = (live[:, :, None] + logp).view(b, -1).topk(2 * k, dim=-1)
        src, tok = idx // vocab, idx % vocab
        is_eos = (tok == EOS_ID) | (t == max_len - 1)  # at the limit every hypothesis ends
        finished = beam_score(top, t + 1, alpha).masked_fill(~(is_eos & active[:, None]), float("-inf"))
        # merge the hypotheses finishing now into the kept ones, without leaving the device
        ending = torch.cat([seqs.gather(1, src[:, :, None].expand(-1, -1, t)), tok[:, :, None]], 2)
        ending = torch.nn.functional.pad(ending, (0, max_len - t - 1))
        scores = torch.cat([fin_score, finished], 1)
        order = scores.topk(keep, dim=1).indices
        fin_score = scores.gather(1, order)
        fin_seq = torch.cat([fin_seq, ending], 1).gather(1, order[:, :, None].expand(-1, -1, max_len))
        fin_len = torch.cat([fin_len, t + (tok != EOS_ID).long()], 1).gather(1, order)
        kept = top.masked_fill(is_eos, float("-inf")).topk(k, dim=-1)
        live = kept.values
        src, tok = src.gather(1, kept.indices), tok.gather(1, kept.indices)
        seqs = torch.cat([seqs.gather(1, src[:, :, None].expand(-1, -1, seqs.shape[2])), tok[:, :, None]], 2)
        bound = beam_score(live.max(-1).values, max_len, alpha)  # no live hypothesis can end above this
        active &= bound > fin_score[:, -1]
        if (t + 1) % every == 0 and not bool(active.any()):
            break
        live = live.masked_fill(~active[:, None], float("-inf"))
        state = model.select(state, (torch.arange(b, device=dev)[:, None] * k + src).view(-1))
        tokens = tok.view(-1)
    return encoded, fin_seq, fin_len, fin_score


@torch.no_grad()
def beam_search(model: Im2SeqModel, images: Tensor, mask: Tensor | None = None, beam: int = 5,
                max_len: int = 150, alpha: float = 0.6, min_len: int = 0,
                include_greedy: bool = True) -> tuple[list[list[int]], Tensor]:
    """Batched beam search with early finish; (token lists, beam scores [B]).

    Live hypotheses are ranked by summed log-prob; finished ones by `beam_score`. An image stops once no
    live hypothesis can beat its best finished one. With `include_greedy`, the greedy hypothesis is also a
    candidate, so the result never scores below greedy by this scoring.
    """
    b, dev = images.shape[0], images.device
    encoded, fin_seq, fin_len, fin_score = _beam(model, images, mask, beam, max_len, alpha, min_len, keep=1)
    best_score = fin_score[:, 0].cpu()
    out = [row[:n] for row, n in zip(fin_seq[:, 0].tolist(), fin_len[:, 0].tolist())]
    if include_greedy:  # from the same encoding: the greedy hypothesis is a candidate too
        g_seqs, g_scores, _ = _greedy_from(model, encoded, b, dev, max_len, False, min_len)
        for i, (s, sc) in enumerate(zip(g_seqs, g_scores.tolist())):
            g = beam_score(sc, min(len(s) + 1, max_len), alpha)
            if g > best_score[i]:
                best_score[i], out[i] = g, s
    return out, best_score


@torch.no_grad()
def nbest(model: Im2SeqModel, image: Tensor, beam: int = 5, max_len: int = 150,
          alpha: float = 0.6) -> list[tuple[list[int], float]]:
    """The `beam` best finished hypotheses of one image [1, 1, H, W], best first: (token ids, beam score); the
    same search as `beam_search` (its by-product), for notebook 07's list of candidates."""
    _, fin_seq, fin_len, fin_score = _beam(model, image, None, beam, max_len, alpha, 0, keep=beam)
    return [(row[:n], score) for row, n, score in zip(fin_seq[0].tolist(), fin_len[0].tolist(),
                                                      fin_score[0].tolist()) if score > float("-inf")]


def attention_maps(model: Im2SeqModel, image, vocab: Vocab, max_len: int = 150,
                   device: str | torch.device = "cpu") -> tuple[list[str], np.ndarray, tuple[int, int]]:
    """Greedy-decode one image (uint8 H x W, or a float tensor in 0..1): (tokens, attention [steps, h, w]
    for each token then <EOS>, (h, w))."""
    if isinstance(image, Tensor):
        x = image.detach().float().reshape(1, 1, *image.shape[-2:])
    else:
        arr = np.asarray(image)
        x = torch.from_numpy(arr.astype(np.float32) / (255.0 if arr.dtype == np.uint8 else 1.0))[None, None]
    was_training = model.training
    model.eval()
    try:
        seqs, _, maps, hw = greedy(model, x.to(device), max_len=max_len, return_attention=True)
    finally:
        model.train(was_training)
    return vocab.decode(seqs[0]), maps[0].reshape(-1, *hw).numpy(), tuple(hw)
