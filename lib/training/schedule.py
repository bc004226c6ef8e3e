"""Learning-rate schedules as plain functions of where the run is: nothing to save, resume-exact.

- `step`: the learning rate times `lr_gamma` every `lr_step` epochs (the course's default).
- `cosine`: linear warm-up over `warmup_steps`, then a cosine from `lr` down to `final_lr * lr` over the
  run; with `lr_hold` = h the learning rate stays at `lr` for the first h of the run and the cosine takes the
  rest (warm-up, stable, decay). The run's progress is its steps of `max_steps` when the run has a step budget
  (the same schedule on any machine); else the larger of its steps (of `epochs`) and its time (of `max_minutes`),
  so a run cut by its time budget still ends at a low learning rate instead of being stopped at a high one.
- `constant`: warm-up, then `lr`.
"""
from __future__ import annotations

import math

from .config import TrainConfig

SCHEDULES = ("step", "cosine", "constant")


def progress(cfg: TrainConfig, step: int, steps_per_epoch: int, elapsed_s: float) -> float:
    """How far the run is, 0..1: its steps of `max_steps`, else the further of its steps and its time budget."""
    if cfg.max_steps:
        return min(1.0, step / cfg.max_steps)
    by_steps = step / max(1, cfg.epochs * steps_per_epoch)
    by_time = elapsed_s / cfg.budget_s if cfg.budget_s else 0.0
    return min(1.0, max(by_steps, by_time))


def lr_factor(cfg: TrainConfig, epoch: int, step: int, done: float) -> float:
    """The learning rate of this step as a fraction of `cfg.lr` (epoch and step from 0; `done` from progress)."""
    if cfg.schedule == "step":
        return cfg.lr_gamma ** (epoch // cfg.lr_step)
    warm = min(1.0, (step + 1) / max(1, cfg.warmup_steps))
    if cfg.schedule == "constant":
        return warm
    if cfg.schedule == "cosine":
        hold = cfg.lr_hold  # 0 <= hold < 1, checked when the config is made
        decayed = 0.0 if done <= hold else (done - hold) / (1.0 - hold)
        return warm * (cfg.final_lr + (1.0 - cfg.final_lr) * 0.5 * (1.0 + math.cos(math.pi * decayed)))
    raise ValueError(f"unknown schedule {cfg.schedule!r}: choose one of {', '.join(SCHEDULES)}")


def set_lr(opt, lr: float) -> None:
    for group in opt.param_groups:
        group["lr"] = lr
