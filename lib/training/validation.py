"""Validation of a model on a loader (teacher-forced loss and token accuracy, greedy exact match and edit score),
and the course metrics of a checkpoint on the dev split (the one dev scoring of the ablation and the benchmarks)."""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from ..data.dataset import FormulaDataset, make_loader
from ..data.vocab import EOS_ID, PAD_ID
from ..evaluation.metrics import edit_score, score
from ..inference.decode import greedy
from ..models.base import Im2SeqModel
from ..models.checkpoint import load_model
from ..run.precision import Precision, choose

DECODE_SLACK = 10  # greedy stops at most this many tokens after the reference length


def strip(ids: list[int]) -> list[int]:
    """Reference ids without <SOS>, <EOS> and padding."""
    ids = ids[1:]
    return ids[:ids.index(EOS_ID)] if EOS_ID in ids else [i for i in ids if i != PAD_ID]


@torch.no_grad()
def validate(model: Im2SeqModel, loader, prec: Precision, max_len: int = 150, limit_batches: int | None = None,
             return_predictions: bool = False) -> dict:
    """val_loss, val_token_acc, val_exact_match, val_edit_score (and predictions: (name, hyp, ref) ids)."""
    was_training = model.training
    model.eval()
    loss_sum = tokens = correct = torch.zeros((), dtype=torch.float64, device=prec.device)  # summed on the device
    refs, hyps, names = [], [], []
    for n, batch in enumerate(loader):
        if limit_batches is not None and n >= limit_batches:
            break
        images = batch["images"].to(prec.device, non_blocking=True)
        mask = batch["mask"] if batch["mask"] is None else batch["mask"].to(prec.device, non_blocking=True)
        tgt = batch["tgt"].to(prec.device, non_blocking=True)
        with prec.autocast():
            logits = model(images, tgt[:, :-1], mask).float()
            gold = tgt[:, 1:]
            loss_sum = loss_sum + F.cross_entropy(logits.transpose(1, 2), gold, ignore_index=PAD_ID, reduction="sum")
            real = gold != PAD_ID
            tokens = tokens + real.sum()
            correct = correct + ((logits.argmax(-1) == gold) & real).sum()
            seqs, _ = greedy(model, images, mask, max_len=min(max_len, tgt.shape[1] + DECODE_SLACK))
        refs += [strip(r) for r in tgt.tolist()]
        hyps += seqs
        names += batch["names"]
    model.train(was_training)
    loss_sum, tokens, correct = float(loss_sum), max(float(tokens), 1.0), float(correct)
    out = {"val_loss": loss_sum / tokens, "val_token_acc": 100.0 * correct / tokens,
           "val_exact_match": 100.0 * sum(r == h for r, h in zip(refs, hyps)) / max(len(refs), 1),
           "val_edit_score": edit_score(refs, hyps)}
    if return_predictions:
        out["predictions"] = list(zip(names, hyps, refs))
    return out


def dev_scores(checkpoint: str | Path, processed_dir: str | Path, device=None, limit: int | None = None,
               batch_size: int = 32, max_len: int = 152, max_pixels: int | None = None,
               groups: dict[str, str] | None = None) -> dict:
    """Course metrics (lib.evaluation.metrics.score) of a checkpoint's greedy decoding of the dev split (first `limit`).

    Decoding is the training loop's validation (lib.training.validation.validate), which stops 10 tokens past the
    reference length: that only shortens hypotheses that are wrong already, and spares untrained arms
    from decoding to `max_len`. `groups` ({image name: group}) adds each group's exact match and count
    (`by_group`: the demo set's exam, random and fragment formulas, say).
    """
    prec = choose(device)
    model, vocab, _ = load_model(checkpoint, prec.device)
    ds = FormulaDataset(processed_dir, "dev", vocab, limit=limit)
    loader = make_loader(ds, batch_size, shuffle=False, device=prec.device, max_pixels=max_pixels)
    out = validate(model, loader, prec, max_len=max_len, return_predictions=True)
    refs = dict(ds.samples)  # the reference tokens themselves (ids would turn unknown tokens into <UNK>)
    preds = sorted(out["predictions"])
    res = {**score([refs[name] for name, _, _ in preds], [vocab.decode(hyp) for _, hyp, _ in preds]),
           "val_loss": out["val_loss"]}
    if groups:
        by: dict[str, list[bool]] = {}
        for name, hyp, _ in preds:
            by.setdefault(groups.get(name, "other"), []).append(vocab.decode(hyp) == refs[name])
        res["by_group"] = {g: {"n": len(v), "exact_match": round(100.0 * sum(v) / len(v), 2)}
                           for g, v in sorted(by.items())}
    return res
