"""The training loop shared by both models: one step, one epoch, the end of an epoch, resume, `train_model`.

A run is a `Run` (model, optimiser, loaders, config) and a `TrainState` (where it is). `last.pt` holds both,
written atomically after every epoch and every `checkpoint_minutes`, so a killed run resumes where it was.
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from ..data import LIST_NAMES
from ..data.buckets import of_profile
from ..data.dataset import FormulaDataset, fingerprint, get_transform, load_vocab, make_loader, set_epoch
from ..data.vocab import PAD_ID, Vocab
from ..models import build_model, checkpoint, model_from_profile
from ..run import records
from ..run.notebook import seed_everything
from ..run.parallel import loader_workers
from ..run.precision import Precision, choose
from ..run.distributed import World
from ..run.profiles import Profile
from ..run.progress import progress
from . import logs
from .config import TrainConfig, TrainResult, resolve_run
from .schedule import lr_factor, set_lr
from .schedule import progress as run_progress
from .validation import validate


AGREE_EVERY = 8  # data-parallel: rank 0's clock is sent to the others every this many steps (a host sync each)


class TrainingInterrupted(RuntimeError):
    """Raised by the `stop_after_steps` hook: a deterministic stand-in for a killed run."""


class ResumeRefused(ValueError):
    """`last.pt` was written with settings that would reshape the rest of the run, or has nothing left to do."""


# settings whose change mid-run reshapes it (the schedule's length and shape, the step's size): resuming with
# another value is refused unless asked for; the rest (patience, workers, checkpoint_minutes...) may change
RESHAPING = ("epochs", "max_minutes", "max_steps", "batch_size", "batch_pixels", "lr", "weight_decay", "schedule", "lr_step",
             "lr_gamma", "warmup_steps", "final_lr", "lr_hold", "label_smoothing", "grad_clip")


def changed_settings(saved: dict, now: dict) -> list[str]:
    """`name old -> new` for each reshaping setting that differs between `last.pt`'s config and this run's."""
    return [f"{k} {saved[k]!r} -> {now.get(k)!r}" for k in RESHAPING if k in saved and saved[k] != now.get(k)]


@dataclass
class TrainState:
    """Where a run is: saved in `last.pt`, so a resumed run goes on exactly from there."""

    epoch: int = 0                  # epochs finished
    batch: int = 0                  # batches done in the current epoch
    step: int = 0                   # optimiser steps
    best: float = -1.0              # best validation edit score (best.pt)
    best_loss: float = math.inf     # best validation loss
    bad_epochs: int = 0             # epochs since either improved (early stopping)
    seconds: float = 0.0            # wall time of the run so far, validation included
    ep_loss: float = 0.0            # sum of loss x images in the current epoch
    ep_images: int = 0
    ep_seconds: float = 0.0         # training time of the current epoch (validation excluded)
    history: list[dict] = field(default_factory=list)
    world: int = 1                  # processes that trained it (`batch` counts one process's batches)


@dataclass
class Run:
    """One training run's parts; `clock` is when this session's share of `state.seconds` started."""

    name: str
    model: torch.nn.Module
    opt: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    prec: Precision
    cfg: TrainConfig
    vocab: Vocab
    train_loader: torch.utils.data.DataLoader
    val_loader: torch.utils.data.DataLoader
    out: Path
    seed: int
    config: dict
    preprocess: checkpoint.Preprocess = field(default_factory=checkpoint.Preprocess)  # how prediction prepares images
    state: TrainState = field(default_factory=TrainState)
    clock: float = field(default_factory=time.monotonic)
    log_every: int = 50
    world: World = field(default_factory=World)

    @property
    def net(self) -> torch.nn.Module:
        """The model itself (`model` may be its DistributedDataParallel wrapper): validation decodes with it."""
        return checkpoint.bare_model(self.model)

    @property
    def steps_per_epoch(self) -> int:
        return len(self.train_loader.batch_sampler) + self.train_loader.batch_sampler.start

    def elapsed(self) -> float:
        return self.state.seconds + time.monotonic() - self.clock

    def out_of_time(self) -> bool:
        return self.cfg.budget_s is not None and self.elapsed() >= self.cfg.budget_s

    def tick(self) -> None:
        """Move the time since `clock` into the state."""
        now = time.monotonic()
        self.state.seconds += now - self.clock
        self.clock = now

    def save_last(self) -> None:
        """`last.pt` (rank 0 writes; every rank keeps its clock)."""
        self.tick()
        if not self.world.main:
            return
        checkpoint.save(self.out / "last.pt", self.model, self.vocab, model_name=self.name, optimizer=self.opt,
                        scaler=self.scaler, epoch=self.state.epoch, step=self.state.step,
                        best_metric=self.state.best, config=self.config, preprocess=self.preprocess,
                        train_state=dataclasses.asdict(self.state))


def train_step(model, batch: dict, prec: Precision, opt, scaler, cfg: TrainConfig) -> torch.Tensor:
    """One optimiser step with teacher forcing; the batch's mean token loss, left on the device (no sync)."""
    images = batch["images"].to(prec.device, non_blocking=True)
    mask = batch["mask"] if batch["mask"] is None else batch["mask"].to(prec.device, non_blocking=True)
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
    return loss.detach()


def run_epoch(run: Run) -> bool:
    """Train the rest of the current epoch; True when the time budget ended it early."""
    st, cfg = run.state, run.cfg
    run.model.train()
    set_epoch(run.train_loader, st.epoch, st.batch, run.seed)
    per_epoch = run.steps_per_epoch
    bar = progress(total=per_epoch, desc=f"epoch {st.epoch + 1}", unit="batch")
    bar.update(st.batch)
    t_ep = t_win = last_ckpt = time.monotonic()
    win_images, ep_loss = 0, torch.zeros((), device=run.prec.device)
    stopped = False
    elapsed, _ = run.world.agree(run.elapsed(), False)  # rank 0's clock, on every rank
    for batch in run.train_loader:
        done = run_progress(cfg, st.step, per_epoch, elapsed)
        set_lr(run.opt, cfg.lr * lr_factor(cfg, st.epoch, st.step, done))
        loss = train_step(run.model, batch, run.prec, run.opt, run.scaler, cfg)
        n = batch["images"].shape[0]
        ep_loss += loss * n
        st.step, st.batch, st.ep_images, win_images = st.step + 1, st.batch + 1, st.ep_images + n, win_images + n
        bar.update()
        now = time.monotonic()
        if st.step % run.log_every == 0 and run.world.main:  # the only host sync of a training step
            value = float(loss)
            bar.set_postfix(loss=value)
            logs.append(run.out / "log_steps.csv", logs.STEP_COLUMNS, {
                "step": st.step, "epoch": st.epoch + 1, "loss": value, "lr": run.opt.param_groups[0]["lr"],
                "images_per_s": win_images / max(now - t_win, 1e-9), "elapsed_s": run.elapsed()})
            t_win, win_images = now, 0
        if now - last_ckpt >= cfg.checkpoint_minutes * 60:
            st.ep_loss, ep_loss = st.ep_loss + float(ep_loss), torch.zeros_like(ep_loss)
            st.ep_seconds, t_ep = st.ep_seconds + now - t_ep, now
            run.save_last()
            last_ckpt = time.monotonic()
        if cfg.stop_after_steps is not None and st.step >= cfg.stop_after_steps:
            raise TrainingInterrupted(f"stopped after step {st.step} (stop_after_steps)")
        if cfg.max_steps and st.step >= cfg.max_steps:  # every rank counts the same steps: no agreement needed
            stopped = True
            break
        if run.world.distributed and st.step % AGREE_EVERY:  # between agreements every rank goes on
            continue
        elapsed, over = run.world.agree(run.elapsed(), run.out_of_time())
        if over:
            stopped = True  # the time budget ends this (partial) epoch; it is still validated
            break
    bar.close()
    st.ep_loss += float(ep_loss)
    st.ep_seconds += time.monotonic() - t_ep
    return stopped


def end_epoch(run: Run) -> dict:
    """Validate, log, decide early stopping, write last.pt (and best.pt when the edit score improved)."""
    st, main = run.state, run.world.main
    row = None
    if main:  # the other ranks wait for its row (validation on one rank: a dev subset is quick)
        metrics = validate(run.net, run.val_loader, run.prec, max_len=run.cfg.max_len)
        row = {"epoch": st.epoch + 1, "step": st.step, "train_loss": st.ep_loss / max(st.ep_images, 1), **metrics,
               "lr": run.opt.param_groups[0]["lr"], "images_per_s": st.ep_images / max(st.ep_seconds, 1e-9),
               "epoch_s": st.ep_seconds, "elapsed_s": run.elapsed()}
        if run.world.distributed:  # every process trains at that rate
            row["images_per_s"] *= run.world.size
    row = run.world.share(row)
    st.history.append(row)
    improved = _end_epoch_state(run, row)
    if not main:
        run.tick()
        return row
    logs.append(run.out / "log_epochs.csv", logs.EPOCH_COLUMNS, row)
    print(f"epoch {row['epoch']}: train loss {row['train_loss']:.3f}, val loss {row['val_loss']:.3f}, "
          f"token acc {row['val_token_acc']:.1f}, exact {row['val_exact_match']:.1f}, "
          f"edit {row['val_edit_score']:.1f}, {row['images_per_s']:.1f} images/s, "
          f"{row['elapsed_s'] / 60:.1f} min", flush=True)
    run.save_last()
    if improved:
        checkpoint.save(run.out / "best.pt", run.model, run.vocab, model_name=run.name, epoch=st.epoch,
                        step=st.step, best_metric=st.best, config=run.config, with_rng=False, metrics=row,
                        preprocess=run.preprocess)
    return row


def _end_epoch_state(run: Run, row: dict) -> bool:
    """The state after an epoch's validation row (every rank computes the same from rank 0's row); True when
    the edit score improved (a new best.pt)."""
    st = run.state
    improved = row["val_edit_score"] > st.best
    st.best = max(st.best, row["val_edit_score"])
    # early stopping waits while either the edit score or the loss still improves (by 1 %): greedy edit
    # scores of a young model are noisy and lag the loss, which would stop a learning run too soon
    loss_improved = row["val_loss"] < 0.99 * st.best_loss
    st.best_loss = min(st.best_loss, row["val_loss"])
    st.bad_epochs = 0 if improved or loss_improved else st.bad_epochs + 1
    st.epoch, st.batch, st.ep_loss, st.ep_images, st.ep_seconds = st.epoch + 1, 0, 0.0, 0, 0.0
    return improved


def resume_from_last(run: Run, allow_changes: bool = False) -> bool:
    """Continue from `last.pt` when there is one (True); else start the logs afresh (False). A `last.pt` written
    with other reshaping settings (`RESHAPING`) is refused unless `allow_changes`."""
    last, st_log, ep_log = run.out / "last.pt", run.out / "log_steps.csv", run.out / "log_epochs.csv"
    main = run.world.main
    if not last.exists():
        if main:
            logs.reset(st_log, logs.STEP_COLUMNS)
            logs.reset(ep_log, logs.EPOCH_COLUMNS)
        return False
    ckpt = checkpoint.load(last, "cpu")  # RNG states must stay on the CPU; weights are copied over
    if ckpt.train_state is None or ckpt.optimizer is None or ckpt.rng is None:
        raise ValueError(f"{last}: holds no training position to resume from (a best.pt copied over last.pt?); "
                         f"delete it to start this run afresh")
    changes = changed_settings((ckpt.config or {}).get("train") or {}, run.config["train"])
    if changes and not allow_changes:
        raise ResumeRefused(f"{last} was written with other settings ({'; '.join(changes)}): resuming would "
                            f"reshape the rest of its run. Delete it to start afresh, or resume with the new "
                            f"settings on purpose (allow_changes=True; python -m lib.train ... --allow-changes)")
    if changes and main:
        print(f"resuming with changed settings: {'; '.join(changes)}")
    run.net.load_state_dict(ckpt.weights)
    run.opt.load_state_dict(ckpt.optimizer)
    checkpoint.restore_scaler(run.scaler, ckpt.scaler)
    known = {f.name for f in dataclasses.fields(TrainState)}
    run.state = TrainState(**{k: v for k, v in ckpt.train_state.items() if k in known})
    checkpoint.set_rng_state(ckpt.rng)
    st = run.state
    written_by = st.world
    if st.world != run.world.size:  # another number of processes: the same share of the epoch is done
        st.batch, st.world = st.batch * st.world // run.world.size, run.world.size
    if run.world.rank:  # each rank its own dropout stream from here
        torch.manual_seed(run.seed * 7919 + run.world.rank + st.step)
    if main:
        print(f"resuming from {last}: epoch {st.epoch + 1}, batch {st.batch}, step {st.step}"
              + (f" (written by {written_by} processes, now {run.world.size})" if written_by != run.world.size else ""))
        logs.reset(st_log, logs.STEP_COLUMNS, lambda r: int(r["step"]) <= st.step)
        logs.reset(ep_log, logs.EPOCH_COLUMNS, lambda r: int(r["epoch"]) <= st.epoch)
    return True


def prepare(model_name: str, processed_dir, out_dir, profile: Profile, *, augment: str = "none", seed: int = 0,
            epochs: int | None = None, max_minutes: float | None = None, device=None, init_from=None,
            vocab: Vocab | None = None, world: World | None = None, **overrides) -> Run:
    """A fresh run: data, model (seeded; `init_from` a checkpoint to start from), AdamW, loaders with the pixel
    budget, the precision of the device. `vocab` replaces the data's own (a vocabulary shared by two data
    sets, so that a model trained on one can continue on the other)."""
    settings = resolve_run(profile, model_name, epochs, max_minutes, **overrides)
    profile, cfg, model_kw = settings.profile, settings.train, settings.model
    out, processed_dir = Path(out_dir), Path(processed_dir)
    out.mkdir(parents=True, exist_ok=True)
    world = world or World()
    prec = choose(device if device is not None or not world.distributed else world.device())
    start = checkpoint.load(init_from, "cpu") if init_from is not None else None
    vocab_given = vocab is not None
    if not vocab_given:
        vocab = load_vocab(processed_dir)
        if start is not None and start.vocab != vocab.to_dict() and set(vocab.itos) <= set(start.vocab):
            vocab = start.vocabulary()  # continuing a model whose vocabulary holds this data's (pretrained)
    train_ds = FormulaDataset(processed_dir, "train", vocab, transform=get_transform(augment))
    val_ds = FormulaDataset(processed_dir, "dev", vocab, limit=cfg.val_limit)
    for ds, split in ((train_ds, "train"), (val_ds, "dev")):
        if not len(ds):
            raise ValueError(f"{processed_dir / LIST_NAMES[split]}: no {split} images to train on")
    seed_everything(seed)
    if start is not None:  # the checkpoint's own architecture and weights (a fine-tuning run)
        if start.vocab != vocab.to_dict():
            raise ValueError(f"{init_from}: trained on another vocabulary than this run's "
                             f"({'the one given' if vocab_given else processed_dir / 'vocab.json'})")
        model = build_model(start.model_name, len(vocab), **start.hparams)
        model.load_state_dict(start.weights)
        model = model.to(prec.device)
    else:
        model = model_from_profile(model_name, len(vocab), profile, **model_kw).to(prec.device)
    if world.distributed:  # the same start everywhere (DDP also sends rank 0's weights); dropout differs per rank
        model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[prec.device.index] if prec.device.type == "cuda" else None)
        torch.manual_seed(seed * 7919 + world.rank)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    workers = loader_workers(cfg.workers, processes=world.local_size)
    loaders = [make_loader(train_ds, cfg.batch_size, shuffle=True, seed=seed, workers=workers, device=prec.device,
                           max_pixels=cfg.batch_pixels, rank=world.rank, world=world.size),
               make_loader(val_ds, cfg.batch_size, shuffle=False, seed=seed, workers=workers if world.main else 0,
                           device=prec.device, max_pixels=cfg.batch_pixels)]
    config = {"model_name": model_name, "augment": augment, "seed": seed, "profile": profile.name,
              "processes": world.size, "images_per_step": cfg.batch_size * world.size,  # at most (pixel budget)
              "data": "/".join(processed_dir.parts[-2:]),  # source/key: crohme/cpu-s0
              "train": dataclasses.asdict(cfg), "precision": prec.name,
              "init_from": None if init_from is None else str(init_from),
              "processed_dir": str(processed_dir), "data_fingerprint": fingerprint(processed_dir)}
    preprocess = checkpoint.Preprocess(tuple(of_profile(profile)), records.ink_scale(processed_dir))
    # what this run actually uses, beside its outputs (the checkpoints hold the same under "config")
    if world.main:
        grid = preprocess.to_dict()["buckets"]  # hundreds of sizes: checkpoints hold the list, this file its range
        records.write_settings(out, {**config, "model": dict(checkpoint.bare_model(model).hparams),
                                     "preprocess": {**preprocess.to_dict(), "buckets": {
                                         "sizes": len(grid), "smallest": min(grid, default=None),
                                         "largest": max(grid, default=None)}}})
    steps = len(loaders[0].batch_sampler)
    return Run(model_name, model, opt, prec.grad_scaler(), prec, cfg, vocab, *loaders, out, seed, config,
               preprocess=preprocess, log_every=max(1, min(50, steps // 4)), world=world,
               state=TrainState(world=world.size))


def train_model(model_name: str, processed_dir, out_dir, profile: Profile, *, augment: str = "none", seed: int = 0,
                epochs: int | None = None, max_minutes: float | None = None, device=None, resume: bool = True,
                log_every: int | None = None, world: World | None = None, allow_changes: bool = False,
                finished_ok: bool = True, **overrides) -> TrainResult:
    """Train (or resume) `model_name` on a processed dataset; `last.pt`, `best.pt` and CSV logs in `out_dir`.

    `epochs` / `max_minutes` None take the profile's (`max_minutes=math.inf`: no time limit). Keyword
    overrides are resolved by `lib.training.config.resolve_run`: profile settings (lr, label_smoothing, m2_width...)
    change the profile, the model's own arguments (dropout, d_model...) go to the model, others are refused.
    Resuming a `last.pt` written with other reshaping settings is refused unless `allow_changes`; resuming one
    that has finished says so, and raises ResumeRefused unless `finished_ok`.
    """
    t0 = time.monotonic()
    run = prepare(model_name, processed_dir, out_dir, profile, augment=augment, seed=seed, epochs=epochs,
                  max_minutes=max_minutes, device=device, world=world, **overrides)
    run.log_every = log_every or run.log_every
    if resume:
        resumed = resume_from_last(run, allow_changes)
        done = resumed and finished(run)
        if done:
            message = f"{run.out / 'last.pt'}: nothing to train, the run has finished ({done})"
            if not finished_ok:
                raise ResumeRefused(message + "; raise epochs or max_minutes (with --allow-changes), or delete "
                                              "last.pt to train it again")
            if run.world.main:
                print(message)
    elif run.world.main:
        logs.reset(run.out / "log_steps.csv", logs.STEP_COLUMNS)
        logs.reset(run.out / "log_epochs.csv", logs.EPOCH_COLUMNS)
    st = run.state
    before = len(st.history)
    if run.world.main:
        shared = (f"; {run.world.size} processes x batch {run.cfg.batch_size} = {run.world.size * run.cfg.batch_size} "
                  f"images per step at lr {run.cfg.lr:g}" if run.world.distributed else "")
        print(f"{model_name}: {run.net.num_parameters():,} parameters, {run.prec}, "
              f"{len(run.train_loader.dataset)} train / {len(run.val_loader.dataset)} validation images, "
              f"{run.steps_per_epoch} steps per epoch{shared}")
    run.clock = time.monotonic()
    while st.epoch < run.cfg.epochs and st.bad_epochs < run.cfg.patience and not steps_done(run) and \
            not run.world.agree(run.elapsed(), run.out_of_time())[1]:  # rank 0's clock decides for every rank
        stopped = run_epoch(run)
        end_epoch(run)
        if stopped:
            break
    if run.cfg.max_steps and not steps_done(run) and run.out_of_time() and run.world.main:
        print(f"warning: the {run.cfg.max_minutes:g}-minute cap ended this run at step {st.step} of its "
              f"{run.cfg.max_steps}: this machine is slower than the recipe's budget assumes, so the model is not "
              f"the one the recipe makes elsewhere (raise max_minutes to train every step)", flush=True)
    return TrainResult(run.out, run.out / "best.pt", run.out / "last.pt", st.best, len(st.history),
                       time.monotonic() - t0, list(st.history), len(st.history) - before)


def steps_done(run: Run) -> bool:
    return bool(run.cfg.max_steps) and run.state.step >= run.cfg.max_steps


def finished(run: Run) -> str:
    """Why a run has nothing left to train ("" when it has): what the training loop's condition checks."""
    st, cfg = run.state, run.cfg
    if steps_done(run):
        return f"{st.step} of {cfg.max_steps} steps"
    if st.epoch >= cfg.epochs:
        return f"{st.epoch} of {cfg.epochs} epochs"
    if st.bad_epochs >= cfg.patience:
        return f"stopped early after {st.bad_epochs} epochs without improvement (patience {cfg.patience})"
    if run.out_of_time():
        return f"its {cfg.max_minutes:g} minutes are spent"
    return ""
