"""The training loop shared by both models: AdamW, LR schedule, mixed precision, checkpoints, resume, logs."""
from __future__ import annotations

import csv
import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from ..run import atomic
from . import checkpoint
from ..run.profiles import Profile
from ..data.dataset import FormulaDataset, get_transform, load_vocab, make_loader, set_epoch
from ..models import model_from_profile
from ..run.parallel import loader_workers
from .precision import Precision, choose
from ..run.progress import progress
from ..run.notebook import seed_everything
from .validation import validate
from ..data.vocab import PAD_ID

STEP_COLUMNS = ("step", "epoch", "loss", "lr", "images_per_s", "elapsed_s")
EPOCH_COLUMNS = ("epoch", "step", "train_loss", "val_loss", "val_token_acc", "val_exact_match", "val_edit_score",
                 "lr", "images_per_s", "epoch_s")


class TrainingInterrupted(RuntimeError):
    """Raised by the `stop_after_steps` hook: a deterministic stand-in for a killed run."""


@dataclass
class TrainConfig:
    """Training knobs: from the profile, `profile.extra`, then keyword overrides of `train_model`."""

    epochs: int = 10
    max_minutes: float | None = None
    batch_size: int = 16
    batch_pixels: int | None = None  # pixel budget per batch (large buckets get fewer images)
    lr: float = 1e-3
    weight_decay: float = 0.01
    schedule: str = "step"          # step (MultiStepLR, x gamma every lr_step epochs) | cosine | constant
    lr_step: int = 5
    lr_gamma: float = 0.5
    warmup_steps: int = 100         # cosine only
    label_smoothing: float = 0.0
    grad_clip: float = 1.0
    checkpoint_minutes: float = 10.0
    patience: int = 5
    val_limit: int | None = None
    workers: int = 0
    max_len: int = 152              # decoding limit in validation
    stop_after_steps: int | None = None

    @classmethod
    def from_profile(cls, profile: Profile, **overrides) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        base = {k: v for k, v in profile.as_dict().items() if k in names}
        base["max_len"] = profile.max_tokens + 2
        base.update({k: v for k, v in profile.extra.items() if k in names})
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**base)


@dataclass
class TrainResult:
    out_dir: Path
    best_path: Path
    last_path: Path
    best_metric: float
    epochs_run: int
    wall_s: float
    history: list[dict] = field(default_factory=list)


def make_scheduler(opt, cfg: TrainConfig, steps_per_epoch: int):
    """(scheduler, per_step): MultiStepLR per epoch, or warm-up + cosine / constant per step."""
    if cfg.schedule == "step":
        milestones = list(range(cfg.lr_step, 10000, cfg.lr_step))
        return torch.optim.lr_scheduler.MultiStepLR(opt, milestones, gamma=cfg.lr_gamma), False
    total = max(1, cfg.epochs * steps_per_epoch)
    if cfg.schedule == "cosine":
        def factor(s: int) -> float:
            if s < cfg.warmup_steps:
                return (s + 1) / cfg.warmup_steps
            return 0.5 * (1 + math.cos(math.pi * min(1.0, (s - cfg.warmup_steps) / max(1, total - cfg.warmup_steps))))
    elif cfg.schedule == "constant":
        def factor(s: int) -> float:
            return 1.0
    else:
        raise ValueError(f"unknown schedule {cfg.schedule!r}: choose step, cosine or constant")
    return torch.optim.lr_scheduler.LambdaLR(opt, factor), True


def _csv_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _reset_csv(path: Path, columns: tuple, keep=lambda row: False) -> None:
    """Rewrite a log keeping only rows `keep` accepts (a resumed run drops rows after its checkpoint)."""
    rows = [r for r in _csv_rows(path) if keep(r)]
    lines = [",".join(columns)] + [",".join(str(r.get(c, "")) for c in columns) for r in rows]
    atomic.write_text(path, "\n".join(lines) + "\n")


def _append(path: Path, columns: tuple, row: dict) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(",".join(f"{row[c]:.6g}" if isinstance(row[c], float) else str(row[c]) for c in columns) + "\n")


def train_step(model, batch: dict, prec: Precision, opt, scaler, cfg: TrainConfig) -> float:
    """One optimiser step with teacher forcing; returns the batch's mean token loss."""
    images = batch["images"].to(prec.device, non_blocking=True)
    mask = batch["mask"].to(prec.device, non_blocking=True)
    tgt = batch["tgt"].to(prec.device, non_blocking=True)
    with prec.autocast():
        logits = model(images, tgt[:, :-1], mask)
    loss = F.cross_entropy(logits.float().transpose(1, 2), tgt[:, 1:], ignore_index=PAD_ID,
                           label_smoothing=cfg.label_smoothing)
    opt.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.unscale_(opt)  # clip the true gradients (a no-op without fp16)
    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    scaler.step(opt)
    scaler.update()
    return loss.item()


def train_model(model_name: str, processed_dir, out_dir, profile: Profile, *, augment: str = "none", seed: int = 0,
                epochs: int | None = None, max_minutes: float | None = None, device=None, resume: bool = True,
                log_every: int | None = None, **overrides) -> TrainResult:
    """Train (or resume) `model_name` on a processed dataset; `last.pt`, `best.pt` and CSV logs in `out_dir`.

    Keyword overrides that name a `TrainConfig` field (lr, label_smoothing, schedule...) tune training; the
    rest are model hyper-parameters (dropout, d_model...).
    """
    t0 = time.monotonic()
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    cfg = TrainConfig.from_profile(profile, epochs=epochs, max_minutes=max_minutes,
                                   **{k: v for k, v in overrides.items() if k in names})
    model_kw = {k: v for k, v in overrides.items() if k not in names}
    out, processed_dir = Path(out_dir), Path(processed_dir)
    out.mkdir(parents=True, exist_ok=True)
    last_path, best_path = out / "last.pt", out / "best.pt"
    step_log, epoch_log = out / "log_steps.csv", out / "log_epochs.csv"
    prec = choose(device)
    vocab = load_vocab(processed_dir)
    train_ds = FormulaDataset(processed_dir, "train", vocab, transform=get_transform(augment))
    val_ds = FormulaDataset(processed_dir, "validate", vocab, limit=cfg.val_limit)
    for ds, split in ((train_ds, "train"), (val_ds, "validate")):
        if not len(ds):
            raise ValueError(f"{processed_dir / (split + '_filter.lst')}: no images to {split} on")
    seed_everything(seed)
    model = model_from_profile(model_name, len(vocab), profile, **model_kw).to(prec.device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    workers = loader_workers(cfg.workers)
    train_loader = make_loader(train_ds, cfg.batch_size, shuffle=True, seed=seed, workers=workers,
                               device=prec.device, max_pixels=cfg.batch_pixels)
    val_loader = make_loader(val_ds, cfg.batch_size, shuffle=False, seed=seed, workers=workers,
                             device=prec.device, max_pixels=cfg.batch_pixels)
    steps_per_epoch = len(train_loader.batch_sampler)
    sched, per_step = make_scheduler(opt, cfg, steps_per_epoch)
    scaler = prec.grad_scaler()
    log_every = log_every or max(1, min(50, steps_per_epoch // 4))
    st = {"epoch": 0, "batch": 0, "step": 0, "best": -1.0, "best_loss": float("inf"), "bad_epochs": 0,
          "history": [], "seconds": 0.0,
          "ep_loss": 0.0, "ep_images": 0, "ep_seconds": 0.0}
    config = {"model_name": model_name, "augment": augment, "seed": seed, "profile": profile.name,
              "train": dataclasses.asdict(cfg), "precision": prec.name}
    if resume and last_path.exists():
        ckpt = checkpoint.load(last_path, "cpu")  # RNG states must stay on the CPU; weights are copied over
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        checkpoint.restore_scaler(scaler, ckpt["scaler"])
        st.update(ckpt["train_state"])
        checkpoint.set_rng_state(ckpt["rng"])
        print(f"resuming from {last_path}: epoch {st['epoch'] + 1}, batch {st['batch']}, step {st['step']}")
        _reset_csv(step_log, STEP_COLUMNS, lambda r: int(r["step"]) <= st["step"])
        _reset_csv(epoch_log, EPOCH_COLUMNS, lambda r: int(r["epoch"]) <= st["epoch"])
    else:
        _reset_csv(step_log, STEP_COLUMNS)
        _reset_csv(epoch_log, EPOCH_COLUMNS)
    print(f"{model_name}: {model.num_parameters():,} parameters, {prec}, {len(train_ds)} train / "
          f"{len(val_ds)} validation images, {steps_per_epoch} steps per epoch")

    def save_last() -> None:
        st["seconds"] += time.monotonic() - st.pop("_t", time.monotonic())
        checkpoint.save(last_path, model, vocab, model_name=model_name, optimizer=opt, scheduler=sched,
                        scaler=scaler, epoch=st["epoch"], step=st["step"], best_metric=st["best"], config=config,
                        train_state={k: v for k, v in st.items() if not k.startswith("_")})
        st["_t"] = time.monotonic()

    def out_of_time() -> bool:
        spent = st["seconds"] + time.monotonic() - st["_t"]
        return cfg.max_minutes is not None and spent >= cfg.max_minutes * 60

    st["_t"] = time.monotonic()
    last_ckpt, stop = time.monotonic(), False
    while st["epoch"] < cfg.epochs and st["bad_epochs"] < cfg.patience and not out_of_time():
        model.train()
        set_epoch(train_loader, st["epoch"], st["batch"], seed)
        t_ep, t_win, win_images = time.monotonic(), time.monotonic(), 0
        bar = progress(total=steps_per_epoch, desc=f"epoch {st['epoch'] + 1}", unit="batch")
        bar.update(st["batch"])
        for batch in train_loader:
            loss = train_step(model, batch, prec, opt, scaler, cfg)
            if per_step:
                sched.step()
            n = batch["images"].shape[0]
            st["step"] += 1
            st["batch"] += 1
            st["ep_loss"] += loss * n
            st["ep_images"] += n
            win_images += n
            bar.update()
            bar.set_postfix(loss=loss)
            if st["step"] % log_every == 0:
                now = time.monotonic()
                _append(step_log, STEP_COLUMNS, {"step": st["step"], "epoch": st["epoch"] + 1, "loss": loss,
                                                 "lr": opt.param_groups[0]["lr"],
                                                 "images_per_s": win_images / max(now - t_win, 1e-9),
                                                 "elapsed_s": st["seconds"] + now - st["_t"]})
                t_win, win_images = now, 0
            if time.monotonic() - last_ckpt >= cfg.checkpoint_minutes * 60:
                st["ep_seconds"] += time.monotonic() - t_ep
                save_last()
                t_ep = last_ckpt = time.monotonic()
            if cfg.stop_after_steps is not None and st["step"] >= cfg.stop_after_steps:
                raise TrainingInterrupted(f"stopped after step {st['step']} (stop_after_steps)")
            if out_of_time():
                stop = True  # the time budget ends this (partial) epoch; it is still validated
                break
        bar.close()
        st["ep_seconds"] += time.monotonic() - t_ep
        metrics = validate(model, val_loader, prec, max_len=cfg.max_len)
        row = {"epoch": st["epoch"] + 1, "step": st["step"], "train_loss": st["ep_loss"] / max(st["ep_images"], 1),
               **metrics, "lr": opt.param_groups[0]["lr"],
               "images_per_s": st["ep_images"] / max(st["ep_seconds"], 1e-9), "epoch_s": st["ep_seconds"]}
        st["history"].append(row)
        _append(epoch_log, EPOCH_COLUMNS, row)
        print(f"epoch {row['epoch']}: train loss {row['train_loss']:.3f}, val loss {row['val_loss']:.3f}, "
              f"token acc {row['val_token_acc']:.1f}, exact {row['val_exact_match']:.1f}, "
              f"edit {row['val_edit_score']:.1f}, {row['images_per_s']:.1f} images/s", flush=True)
        if not per_step:
            sched.step()
        improved = row["val_edit_score"] > st["best"]
        st["best"] = max(st["best"], row["val_edit_score"])
        # early stopping waits while either the edit score or the loss still improves (by 1 %): greedy edit
        # scores of a young model are noisy and lag the loss, which would stop a learning run too soon
        loss_improved = row["val_loss"] < 0.99 * st["best_loss"]
        st["best_loss"] = min(st["best_loss"], row["val_loss"])
        st["bad_epochs"] = 0 if improved or loss_improved else st["bad_epochs"] + 1
        st.update(epoch=st["epoch"] + 1, batch=0, ep_loss=0.0, ep_images=0, ep_seconds=0.0)
        save_last()
        last_ckpt = time.monotonic()
        if improved:
            checkpoint.save(best_path, model, vocab, model_name=model_name, epoch=st["epoch"], step=st["step"],
                            best_metric=st["best"], config=config, with_rng=False, metrics=row)
        if stop:
            break
    wall = time.monotonic() - t0
    return TrainResult(out, best_path, last_path, st["best"], len(st["history"]), wall, list(st["history"]))
