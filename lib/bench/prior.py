"""Does the model read the image yet? `python -m lib.bench prior [--model model1] [--minutes 8] [--every 0.5]`.

A model that has learnt only the formulas' prior predicts the same tokens whatever the image. This benchmark
trains a model from scratch on the demo set (the `learn` benchmark's data and recipe, its learning-rate schedule
laid over `--schedule-minutes`, as in a run of that length) and every `--every` minutes of training probes a
fixed set of dev images:

- `loss`: the teacher-forced loss per token with the right images;
- `shuffled`: the same formulas with each image swapped for another one of its batch;
- `gain`: shuffled - loss, in nats per token: what the image is worth to the decoder (0: the prior alone);
- `entropy`: model 1's attention entropy as a fraction of a uniform attention's (1.0: it looks everywhere);
- `exact`: greedy exact match on the probe images.

Probing time is not counted in the minutes. With --json the last line holds the rows and the minutes at which
`gain` first reached 0.5 nats and `exact` 10 %. Measure on idle cores, one run at a time.
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
import time

import torch
import torch.nn.functional as F

from ..data.dataset import FormulaDataset, make_loader, set_epoch
from ..data.vocab import PAD_ID
from ..run.notebook import default_home, repo_root
from ..run.profiles import get_profile
from ..run.series import parse_parameter
from ..training.loop import prepare, train_step
from ..training.schedule import lr_factor, progress, set_lr
from ..training.validation import validate
from .learn import prepare_data

GAIN_MARK, EXACT_MARK = 0.5, 10.0


@torch.no_grad()
def probe(model, loader, prec, max_len: int) -> dict:
    """Loss with the right and with swapped images, attention entropy (model 1) and greedy exact match."""
    was_training = model.training
    model.eval()
    with_attn = model.has_attention_maps
    loss = swapped = tokens = ent = ent_tokens = 0.0
    for batch in loader:
        images, tgt = batch["images"].to(prec.device), batch["tgt"].to(prec.device)
        mask = None if batch["mask"] is None else batch["mask"].to(prec.device)
        if images.shape[0] < 2:
            continue
        gold, real = tgt[:, 1:], tgt[:, 1:] != PAD_ID
        with prec.autocast():
            if with_attn:
                logits, attn = model.attention(images, tgt[:, :-1], mask)
                attn = attn.float().clamp_min(1e-12)
                valid = (attn > 1e-11).sum(-1).clamp_min(2).float()  # masked positions have weight 0
                h = -(attn * attn.log()).sum(-1) / valid.log()
                ent += float(h[real].sum())
                ent_tokens += float(real.sum())
            else:
                logits = model(images, tgt[:, :-1], mask)
            other = model(images.roll(1, 0), tgt[:, :-1], None if mask is None else mask.roll(1, 0))
        loss += float(F.cross_entropy(logits.float().transpose(1, 2), gold, ignore_index=PAD_ID, reduction="sum"))
        swapped += float(F.cross_entropy(other.float().transpose(1, 2), gold, ignore_index=PAD_ID,
                                         reduction="sum"))
        tokens += float(real.sum())
    exact = validate(model, loader, prec, max_len=max_len)["val_exact_match"]
    model.train(was_training)
    tokens = max(tokens, 1.0)
    return {"loss": loss / tokens, "shuffled": swapped / tokens, "gain": (swapped - loss) / tokens,
            "entropy": ent / ent_tokens if ent_tokens else None, "exact": exact}


def first(rows: list[dict], key: str, mark: float) -> float | None:
    hit = next((r for r in rows if r[key] is not None and r[key] >= mark), None)
    return None if hit is None else hit["minutes"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lib.bench prior", description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="model1", choices=("model1", "model2"))
    ap.add_argument("--minutes", type=float, default=8.0, help="training minutes (probes not counted)")
    ap.add_argument("--every", type=float, default=0.5, help="minutes of training between probes")
    ap.add_argument("--schedule-minutes", type=float, default=30.0,
                    help="the run whose start this is: the cosine is laid over this many minutes")
    ap.add_argument("--probe", type=int, default=96, help="dev images probed")
    ap.add_argument("--seed", type=int, default=0, help="training seed")
    ap.add_argument("--data-seed", type=int, default=0, help="seed of the demo set")
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--set", dest="changes", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    changes = dict(parse_parameter(c) for c in a.changes)
    profile = get_profile(a.profile).for_data("demo").for_model(a.model).replace(per_model={}, per_data={}, max_steps=None,
                                                                                 **changes)
    home = default_home(repo_root())
    processed = prepare_data(home, profile, profile.demo_pages, a.data_seed)
    tag = "".join(f"-{k}={v}" for k, v in sorted(changes.items())).replace("/", "_")
    out = home / "outputs" / "bench-prior" / f"{a.model}-{profile.name}-s{a.seed}-d{a.data_seed}{tag}"
    shutil.rmtree(out, ignore_errors=True)
    run = prepare(a.model, processed, out, profile, seed=a.seed, epochs=10_000, max_minutes=a.schedule_minutes)
    probe_ds = FormulaDataset(processed, "dev", run.vocab, limit=a.probe)
    probe_loader = make_loader(probe_ds, profile.batch_size, shuffle=False, max_pixels=profile.batch_pixels)
    cfg, st = run.cfg, run.state
    per_epoch = run.steps_per_epoch
    print(f"{a.model}, {profile.name} recipe {changes or ''}, seed {a.seed}: {run.model.num_parameters():,} "
          f"parameters, {len(run.train_loader.dataset)} train formulas, {per_epoch} steps per epoch, "
          f"{a.probe} probe images, {torch.get_num_threads()} threads")
    print(f"{'min':>5} {'step':>5} {'lr':>8} {'train':>6} {'loss':>6} {'shuffled':>8} {'gain':>6} "
          f"{'entropy':>7} {'exact':>5}")
    rows: list[dict] = []
    trained, window, window_n = 0.0, 0.0, 0

    def record():
        r = probe(run.model, probe_loader, run.prec, profile.decode_limit)
        r.update(minutes=round(trained / 60, 2), step=st.step, lr=run.opt.param_groups[0]["lr"],
                 train=window / max(window_n, 1) if window_n else None)
        rows.append(r)
        ent = "-" if r["entropy"] is None else f"{r['entropy']:.3f}"
        tr = "-" if r["train"] is None else f"{r['train']:.3f}"
        print(f"{r['minutes']:5.2f} {r['step']:5d} {r['lr']:8.2e} {tr:>6} {r['loss']:6.3f} {r['shuffled']:8.3f} "
              f"{r['gain']:6.3f} {ent:>7} {r['exact']:5.1f}", flush=True)

    record()
    next_probe = a.every * 60
    run.model.train()
    clock = time.monotonic()
    while trained < a.minutes * 60:
        set_epoch(run.train_loader, st.epoch, 0, run.seed)
        for batch in run.train_loader:
            done = progress(cfg, st.step, per_epoch, trained)
            set_lr(run.opt, cfg.lr * lr_factor(cfg, st.epoch, st.step, done))
            loss = float(train_step(run.model, batch, run.prec, run.opt, run.scaler, cfg))
            st.step += 1
            now = time.monotonic()
            trained, clock = trained + now - clock, now  # loading included, probing not
            window, window_n = window + loss, window_n + 1
            if trained >= next_probe or trained >= a.minutes * 60:
                record()
                window, window_n = 0.0, 0
                next_probe += a.every * 60
                run.model.train()
                clock = time.monotonic()
            if trained >= a.minutes * 60:
                break
        st.epoch += 1
    res = {"model": a.model, "seed": a.seed, "data_seed": a.data_seed,
           "changes": {k: repr(v) for k, v in changes.items()}, "rows": rows,
           "minutes_to_gain": first(rows, "gain", GAIN_MARK), "minutes_to_exact": first(rows, "exact", EXACT_MARK)}
    print(f"minutes to an image gain of {GAIN_MARK} nats: {res['minutes_to_gain'] or 'not reached'}; "
          f"to {EXACT_MARK:.0f} % exact: {res['minutes_to_exact'] or 'not reached'}")
    if a.json:
        print(json.dumps(res, default=lambda x: None if isinstance(x, float) and math.isnan(x) else x))
    return 0
