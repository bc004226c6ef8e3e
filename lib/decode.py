"""Batched decoding over the `Im2SeqModel` interface: cached greedy, beam search, and an uncached reference.

Returned token lists hold neither <SOS> nor <EOS>. Greedy scores are summed log-probabilities of the
emitted tokens (the <EOS> included when emitted). Beam scores are the ranking score
`sum log p / ((5 + L) / 6) ** alpha` (GNMT length normalisation, L = tokens including <EOS>).
"""
from __future__ import annotations

import torch
from torch import Tensor

from .models.base import Im2SeqModel
from .vocab import EOS_ID, SOS_ID


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


@torch.no_grad()
def greedy(model: Im2SeqModel, images: Tensor, mask: Tensor | None = None, max_len: int = 150,
           return_attention: bool = False, min_len: int = 0):
    """(token lists, scores [B]) and, with `return_attention`, (attention list of [steps, N], hw) too."""
    memory = model.encode(images, mask)
    state = model.init_state(memory)
    b = images.shape[0]
    tokens = torch.full((b,), SOS_ID, dtype=torch.long, device=images.device)
    done = torch.zeros(b, dtype=torch.bool, device=images.device)
    scores = torch.zeros(b, device=images.device)
    out, attn = [], []
    for t in range(max_len):
        logits, state = model.step(memory, state, tokens)
        logp = _log_probs(logits, t, min_len)
        best, tokens = logp.max(-1)
        scores += torch.where(done, torch.zeros_like(best), best)
        out.append(tokens)
        if return_attention:
            attn.append(state["attn"].float())
        done |= tokens == EOS_ID
        if bool(done.all()):
            break
    seqs = [_cut(row) for row in torch.stack(out, 1).tolist()]
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


@torch.no_grad()
def beam_search(model: Im2SeqModel, images: Tensor, mask: Tensor | None = None, beam: int = 5,
                max_len: int = 150, alpha: float = 0.6, min_len: int = 0,
                include_greedy: bool = True) -> tuple[list[list[int]], Tensor]:
    """Batched beam search with early finish; (token lists, beam scores [B]).

    Live hypotheses are ranked by summed log-prob; finished ones by `beam_score`. An image stops once no
    live hypothesis can beat its best finished one. With `include_greedy`, the greedy hypothesis is also a
    candidate, so the result never scores below greedy by this scoring.
    """
    b, k, dev = images.shape[0], beam, images.device
    memory = model.encode(images, mask)
    rows = torch.arange(b, device=dev).repeat_interleave(k)
    memory, state = model.select(memory, model.init_state(memory), rows)
    live = torch.full((b, k), float("-inf"), device=dev)
    live[:, 0] = 0.0  # one live hypothesis per image at the start
    seqs = torch.zeros(b, k, 0, dtype=torch.long, device=dev)
    tokens = torch.full((b * k,), SOS_ID, dtype=torch.long, device=dev)
    best_score = torch.full((b,), float("-inf"), device=dev)  # best finished hypothesis per image
    best_seq: list[list[int]] = [[] for _ in range(b)]
    active = torch.ones(b, dtype=torch.bool, device=dev)
    for t in range(max_len):
        logits, state = model.step(memory, state, tokens)
        logp = _log_probs(logits, t, min_len).view(b, k, -1)
        vocab = logp.shape[-1]
        top, idx = (live[:, :, None] + logp).view(b, -1).topk(2 * k, dim=-1)
        src, tok = idx // vocab, idx % vocab
        is_eos = (tok == EOS_ID) | (t == max_len - 1)  # at the limit every hypothesis ends
        finished = beam_score(top, t + 1, alpha).masked_fill(~(is_eos & active[:, None]), float("-inf"))
        cand, j = finished.max(-1)
        better = cand > best_score
        for i in better.nonzero().flatten().tolist():  # few per step: record the new best sequences
            jj = int(j[i])
            last = int(tok[i, jj])
            best_seq[i] = seqs[i, src[i, jj]].tolist() + ([] if last == EOS_ID else [last])
        best_score = torch.where(better, cand, best_score)
        keep = top.masked_fill(is_eos, float("-inf")).topk(k, dim=-1)
        live = keep.values
        src, tok = src.gather(1, keep.indices), tok.gather(1, keep.indices)
        seqs = torch.cat([seqs.gather(1, src[:, :, None].expand(-1, -1, seqs.shape[2])), tok[:, :, None]], 2)
        bound = beam_score(live.max(-1).values, max_len, alpha)  # no live hypothesis can end above this
        active &= bound > best_score
        if not bool(active.any()):
            break
        live = live.masked_fill(~active[:, None], float("-inf"))
        memory, state = model.select(memory, state, (torch.arange(b, device=dev)[:, None] * k + src).view(-1))
        tokens = tok.view(-1)
    best_score = best_score.cpu()
    if include_greedy:
        g_seqs, g_scores = greedy(model, images, mask, max_len=max_len, min_len=min_len)
        for i, (s, sc) in enumerate(zip(g_seqs, g_scores.tolist())):
            g = beam_score(sc, min(len(s) + 1, max_len), alpha)
            if g > best_score[i]:
                best_score[i], best_seq[i] = g, s
    return best_seq, best_score
