"""Checkpoints: one dict with model, optimizer, scheduler, scaler, RNG states, position and config."""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

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


def save(path: str | Path, model: Im2SeqModel, vocab: Vocab, *, model_name: str, optimizer=None,
         scheduler=None, scaler=None, epoch: int = 0, step: int = 0, best_metric: float | None = None,
         config: dict | None = None, with_rng: bool = True, **extra: Any) -> Path:
    """Write a checkpoint atomically (temp file + os.replace)."""
    model = bare_model(model)
    ckpt = {
        "model": model.state_dict(), "model_name": model_name, "hparams": dict(model.hparams),
        "vocab": vocab.to_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": scaler.state_dict() if scaler is not None else None,
        "rng": rng_state() if with_rng else None,
        "epoch": epoch, "step": step, "best_metric": best_metric, "config": config or {}, **extra,
    }
    return atomic.torch_save(ckpt, path)


def load(path: str | Path, device: str | torch.device = "cpu") -> dict:
    """The checkpoint dict (our own files: full unpickling for RNG states), its tensors on `device`.

    Resuming loads onto the CPU: `load_state_dict` then copies weights and optimizer state to wherever the
    model lives, and no GPU memory is held twice.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    try:
        return torch.load(path, map_location=device, weights_only=False)
    except Exception as e:
        raise ValueError(f"{path}: not a readable checkpoint ({type(e).__name__}: {e})") from None


def preprocessing(ckpt: dict) -> tuple[tuple, dict | None]:
    """(buckets, ink scale) the checkpoint's model was trained with: prediction prepares images alike.
    Checkpoints written before these were stored get the course buckets and no rescaling."""
    pre = ckpt.get("preprocess") or {}
    buckets = tuple(tuple(b) for b in pre.get("buckets") or COURSE)
    return buckets, pre.get("ink_scale") or None


DEFAULT_DECODE_LIMIT = 152  # checkpoints that do not record their training's limit


def decode_limit(ckpt: dict) -> int:
    """The decoding length limit a checkpoint was validated with (its profile's `decode_limit`)."""
    train = (ckpt.get("config") or {}).get("train") or {}
    return int(train.get("max_len") or DEFAULT_DECODE_LIMIT)


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[Im2SeqModel, Vocab, dict]:
    """(model in eval mode on `device`, its vocabulary, the checkpoint dict)."""
    ckpt = load(path, device)
    vocab = Vocab.from_dict(ckpt["vocab"])
    model = build_model(ckpt["model_name"], len(vocab), **ckpt["hparams"])
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval(), vocab, ckpt
