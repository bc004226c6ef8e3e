"""Checkpoints: the `Checkpoint` record (model, vocabulary, preprocessing, progress, metrics, settings and what resuming
needs), written and read only here."""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..data import inkml
from ..data.buckets import COURSE
from ..data.vocab import Vocab
from ..run import atomic
from . import build_model
from .base import Im2SeqModel


def rng_state() -> dict:
    """Python, numpy, torch (and CUDA) random states, torch's as numpy byte arrays.

    numpy arrays are not moved by `torch.load(map_location=...)`, so a checkpoint loaded onto a GPU (or
    the meta device) still restores its RNG states: `torch.set_rng_state` takes CPU byte tensors only.
    """
    state = {"python": random.getstate(), "numpy": np.random.get_state(),
             "torch": torch.get_rng_state().numpy().copy()}
    if torch.cuda.is_available():
        state["cuda"] = [s.numpy().copy() for s in torch.cuda.get_rng_state_all()]
    return state


def _byte_tensor(state) -> torch.Tensor:
    """A CPU uint8 tensor from a saved RNG state (numpy array, or a tensor of an older checkpoint)."""
    if isinstance(state, torch.Tensor):
        if state.is_meta:
            raise ValueError("an RNG state on the meta device holds no data: load the checkpoint with "
                             "map_location='cpu'")
        return state.detach().to("cpu", torch.uint8)
    return torch.from_numpy(np.asarray(state, dtype=np.uint8).copy())


def set_rng_state(state: dict) -> None:
    """Restore what `rng_state` captured, wherever the checkpoint was loaded to (CUDA: the devices both have)."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(_byte_tensor(state["torch"]))
    if state.get("cuda") and torch.cuda.is_available():
        for i, s in enumerate(state["cuda"][:torch.cuda.device_count()]):
            torch.cuda.set_rng_state(_byte_tensor(s), i)


def restore_scaler(scaler, state: dict | None) -> bool:
    """Load a GradScaler state when there is one to load; True if loaded.

    A run written with the scaler off (bf16 on Ampere+, or fp32 on the CPU) saves an empty state; resumed
    on a GPU that needs fp16 loss scaling (a T4) the scaler starts afresh instead of failing. A disabled
    scaler (bf16/fp32) ignores the state of an fp16 run.
    """
    if not state or not scaler.is_enabled():
        return False
    scaler.load_state_dict(state)
    return True


def bare_model(model: torch.nn.Module) -> torch.nn.Module:
    """The module under DistributedDataParallel and `torch.compile` (its state dict has no `module.` or
    `_orig_mod.` prefixes)."""
    if isinstance(model, torch.nn.parallel.DistributedDataParallel):
        model = model.module
    return getattr(model, "_orig_mod", model)


@dataclass(frozen=True)
class Preprocess:
    """How images are prepared for a model: its size buckets and its training data's ink scale (stroke width and
    symbol height, which prediction and drawing copy). A checkpoint written before these were stored gets the
    course buckets and no rescaling."""
    buckets: tuple[tuple[int, int], ...] = COURSE
    ink_scale: dict | None = None

    @property
    def symbol_height(self) -> float | None:
        """The InkML symbol height the training data was drawn at (pen data), else None."""
        value = (self.ink_scale or {}).get("symbol_height")
        return float(value) if value else None

    def to_dict(self) -> dict:
        return {"buckets": [list(b) for b in self.buckets], "ink_scale": self.ink_scale}

    @classmethod
    def from_dict(cls, d: dict | None) -> "Preprocess":
        d = d or {}
        return cls(tuple(tuple(int(x) for x in b) for b in d.get("buckets") or COURSE), d.get("ink_scale") or None)


DEFAULT_DECODE_LIMIT = 152  # checkpoints that do not record their training's limit
REQUIRED = ("model", "model_name", "hparams", "vocab")


@dataclass
class Checkpoint:
    """What `best.pt` and `last.pt` hold, written and read only here (on disk: a dict with these names, the weights
    under "model"). best.pt: the model and the validation row that made it the best; last.pt adds what resuming
    needs (optimizer, scaler, RNG states, the training position). The learning-rate schedule is a function of the
    training position (lib/training/schedule.py), so no scheduler state is stored."""
    model_name: str                         # "model1" | "model2" (lib.models registry)
    hparams: dict                           # the model's constructor arguments
    vocab: dict                             # Vocab.to_dict()
    weights: dict                           # the model's state dict (no DDP / compile prefixes)
    preprocess: Preprocess = field(default_factory=Preprocess)
    epoch: int = 0                          # epochs finished
    step: int = 0                           # optimiser steps taken
    best_metric: float | None = None        # best validation edit score so far
    metrics: dict | None = None             # best.pt: the epoch row that made it the best (log_epochs.csv columns)
    config: dict = field(default_factory=dict)  # the run's resolved settings (as settings.json, without the model)
    train_state: dict | None = None         # last.pt: TrainState (epoch, batch, seconds, history, ...)
    optimizer: dict | None = None           # last.pt: AdamW state
    scaler: dict | None = None              # last.pt: GradScaler state (empty when the scaler is off)
    rng: dict | None = None                 # last.pt: python, numpy, torch (and CUDA) RNG states
    path: Path | None = field(default=None, compare=False)  # where it was read from (not stored)

    @property
    def decode_limit(self) -> int:
        """The decoding length limit the model was validated with (its profile's `decode_limit`)."""
        return int(((self.config.get("train") or {}).get("max_len")) or DEFAULT_DECODE_LIMIT)

    @property
    def data_fingerprint(self) -> str | None:
        """The fingerprint of the processed set it was trained on (None: written before runs recorded it)."""
        return self.config.get("data_fingerprint")

    @property
    def symbol_height(self) -> float:
        """The InkML symbol height of its training data (drawings are rendered alike), else the renderer's default."""
        return self.preprocess.symbol_height or inkml.SYMBOL_HEIGHT

    def vocabulary(self) -> Vocab:
        return Vocab.from_dict(self.vocab)

    def to_dict(self) -> dict:
        return {"model": self.weights, "model_name": self.model_name, "hparams": dict(self.hparams),
                "vocab": self.vocab, "preprocess": self.preprocess.to_dict(), "epoch": self.epoch,
                "step": self.step, "best_metric": self.best_metric, "metrics": self.metrics, "config": self.config,
                "train_state": self.train_state, "optimizer": self.optimizer, "scaler": self.scaler,
                "rng": self.rng}

    @classmethod
    def from_dict(cls, d: dict, path: Path | None = None) -> "Checkpoint":
        where = f"{path}: " if path is not None else ""
        if not isinstance(d, dict):
            raise ValueError(f"{where}not a checkpoint of this project (a {type(d).__name__}, not a dict)")
        missing = [k for k in REQUIRED if k not in d]
        if missing:
            raise ValueError(f"{where}not a checkpoint of this project (no {', '.join(missing)})")
        return cls(model_name=d["model_name"], hparams=dict(d["hparams"]), vocab=d["vocab"], weights=d["model"],
                   preprocess=Preprocess.from_dict(d.get("preprocess")), epoch=int(d.get("epoch") or 0),
                   step=int(d.get("step") or 0), best_metric=d.get("best_metric"), metrics=d.get("metrics"),
                   config=d.get("config") or {}, train_state=d.get("train_state"), optimizer=d.get("optimizer"),
                   scaler=d.get("scaler"), rng=d.get("rng"), path=path)


def save(path: str | Path, model: Im2SeqModel, vocab: Vocab, *, model_name: str, optimizer=None, scaler=None,
         epoch: int = 0, step: int = 0, best_metric: float | None = None, metrics: dict | None = None,
         config: dict | None = None, preprocess: Preprocess | None = None, train_state: dict | None = None,
         with_rng: bool = True) -> Path:
    """Write a checkpoint atomically (temp file + os.replace)."""
    model = bare_model(model)
    ckpt = Checkpoint(
        model_name=model_name, hparams=dict(model.hparams), vocab=vocab.to_dict(), weights=model.state_dict(),
        preprocess=preprocess or Preprocess(), epoch=epoch, step=step, best_metric=best_metric, metrics=metrics,
        config=config or {}, train_state=train_state,
        optimizer=optimizer.state_dict() if optimizer is not None else None,
        scaler=scaler.state_dict() if scaler is not None else None, rng=rng_state() if with_rng else None)
    return atomic.torch_save(ckpt.to_dict(), path)


def load(path: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """The checkpoint (our own files: full unpickling for RNG states), its tensors on `device`.

    Resuming loads onto the CPU: `load_state_dict` then copies weights and optimizer state to wherever the
    model lives, and no GPU memory is held twice.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    try:
        d = torch.load(path, map_location=device, weights_only=False)
    except Exception as e:
        raise ValueError(f"{path}: not a readable checkpoint ({type(e).__name__}: {e})") from None
    return Checkpoint.from_dict(d, path)


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[Im2SeqModel, Vocab, Checkpoint]:
    """(model in eval mode on `device`, its vocabulary, the checkpoint)."""
    ckpt = load(path, device)
    vocab = ckpt.vocabulary()
    model = build_model(ckpt.model_name, len(vocab), **ckpt.hparams)
    model.load_state_dict(ckpt.weights)
    return model.to(device).eval(), vocab, ckpt
