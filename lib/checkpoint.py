"""Checkpoints: one dict with model, optimizer, scheduler, scaler, RNG states, position and config."""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import atomic
from .models import build_model
from .models.base import Im2SeqModel
from .vocab import Vocab


def rng_state() -> dict:
    """Python, numpy, torch (and CUDA) random states."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what `rng_state` captured (CUDA only where both sides have it)."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def bare_model(model: torch.nn.Module) -> torch.nn.Module:
    """The module under `torch.compile` (its state dict has no `_orig_mod.` prefixes)."""
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
    """The checkpoint dict (our own files: full unpickling for RNG states)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    try:
        return torch.load(path, map_location=device, weights_only=False)
    except Exception as e:
        raise ValueError(f"{path}: not a readable checkpoint ({type(e).__name__}: {e})") from None


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[Im2SeqModel, Vocab, dict]:
    """(model in eval mode on `device`, its vocabulary, the checkpoint dict)."""
    ckpt = load(path, device)
    vocab = Vocab.from_dict(ckpt["vocab"])
    model = build_model(ckpt["model_name"], len(vocab), **ckpt["hparams"])
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval(), vocab, ckpt
