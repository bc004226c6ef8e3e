"""Training knobs (`TrainConfig`), resolved once from a profile and a notebook's parameters."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

from ..models import hparam_names
from ..run.profiles import Profile, check_names


@dataclass
class TrainConfig:
    """Training knobs: from the profile, `profile.extra`, then keyword overrides of `train_model`."""

    epochs: int = 10
    max_minutes: float | None = None  # wall-clock budget, validation included (None or inf: epochs only)
    max_steps: int | None = None     # optimiser steps: the budget when set (the same run on any machine); the
                                     # minutes are then a safety cap that warns when it cuts the run
    batch_size: int = 16
    batch_pixels: int | None = None  # pixel budget per batch (large buckets get fewer images)
    lr: float = 1e-3
    weight_decay: float = 0.01
    schedule: str = "cosine"         # cosine | step | constant (lib/training/schedule.py)
    lr_step: int = 5                 # step: the learning rate times lr_gamma every lr_step epochs
    lr_gamma: float = 0.5
    warmup_steps: int = 100          # cosine, constant: linear warm-up
    final_lr: float = 0.02           # cosine: the last learning rate, as a fraction of lr
    lr_hold: float = 0.0             # cosine: the share of the run held at lr before the cosine begins
    label_smoothing: float = 0.0
    grad_clip: float = 1.0
    checkpoint_minutes: float = 10.0
    patience: int = 5
    val_limit: int | None = None
    workers: int = 0
    max_len: int = 152               # decoding limit in validation
    stop_after_steps: int | None = None

    def __post_init__(self):
        if not 0.0 <= self.lr_hold < 1.0:  # refused before any data is loaded, not at the first step
            raise ValueError(f"lr_hold is the share of the run held at lr before the cosine: 0 <= lr_hold < 1, "
                             f"got {self.lr_hold}")

    @classmethod
    def from_profile(cls, profile: Profile, **overrides) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        base = {k: v for k, v in profile.as_dict().items() if k in names}
        base["max_len"] = profile.decode_limit
        base.update({k: v for k, v in profile.extra.items() if k in names})
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**base)

    @property
    def budget_s(self) -> float | None:
        """The time budget in seconds, None when there is none."""
        if self.max_minutes is None or math.isinf(self.max_minutes):
            return None
        return 60.0 * self.max_minutes


def field_names() -> set[str]:
    return {f.name for f in dataclasses.fields(TrainConfig)}


def resolve_budget(profile: Profile, epochs: int | None = None, max_minutes: float | str | None = None,
                   ablation: bool = False) -> tuple[int, float]:
    """(epochs, minutes) of a training run: None takes the profile's (its ablation budget when `ablation`),
    and `inf` (or the string "inf") means no time limit. The one place notebook parameters are read."""
    if epochs is None:
        epochs = profile.ablation_epochs if ablation else profile.epochs
    if max_minutes is None:
        max_minutes = profile.ablation_minutes if ablation else profile.max_minutes
    minutes = math.inf if max_minutes is None else float(max_minutes)
    if int(epochs) < 1 or not minutes > 0:
        raise ValueError(f"a training run needs epochs >= 1 and minutes > 0, got {epochs} and {max_minutes}")
    return int(epochs), minutes


@dataclass(frozen=True)
class RunSettings:
    """Everything a training run is set by, resolved once (`resolve_run`)."""
    profile: Profile      # the profile with this model's per_model overrides and model-1 knobs applied
    train: TrainConfig    # the training loop's knobs
    model: dict           # model constructor arguments beyond the profile's sizes (tests' tiny models)


def resolve_run(profile: Profile, model_name: str, epochs: int | None = None, max_minutes: float | None = None,
                **changes) -> RunSettings:
    """The one place a training run's settings are put together: the profile (its data source's overrides already
    applied by the notebook's context), its per_model overrides for `model_name`, the notebook's epochs and
    minutes, then named changes: a profile setting (sizes, training knobs, model 1's knobs) changes the profile, a
    training-only knob (`max_len`, `workers`) goes to `train`, a model constructor argument to `model`. Any other
    name is refused, naming the nearest."""
    settable, names = profile.setting_names(), field_names()
    check_names(changes, settable | names | hparam_names(model_name))
    given = {k: v for k, v in changes.items() if v is not None or k not in settable | names}
    # a profile setting changes the profile (the model's sizes, model 1's knobs and training knobs are read from it)
    profile = profile.for_model(model_name).replace(**{k: v for k, v in given.items() if k in settable})
    epochs, max_minutes = resolve_budget(profile, epochs, max_minutes)
    train = TrainConfig.from_profile(profile, epochs=epochs, max_minutes=max_minutes,
                                     **{k: v for k, v in given.items() if k in names and k not in settable})
    return RunSettings(profile, train, {k: v for k, v in given.items() if k not in settable | names})


@dataclass
class TrainResult:
    out_dir: Path
    best_path: Path
    last_path: Path
    best_metric: float
    epochs_run: int
    wall_s: float
    history: list[dict] = dataclasses.field(default_factory=list)
    epochs_this_session: int = 0  # epochs trained by this call (`epochs_run` counts every session's)
