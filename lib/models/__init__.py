"""Model registry: `build_model("model2", vocab_size, **hparams)` or `model_from_profile(name, vocab_size, profile)`."""
from __future__ import annotations

import importlib
import inspect

from ..run.profiles import Profile
from .base import Im2SeqModel

# name -> "module:Class"; each module also defines `hparams_from_profile(profile) -> dict`.
REGISTRY = {
    "model1": "lib.models.im2markup:Im2Markup",                 # CNN + row encoder + attention LSTM
    "model2": "lib.models.resnet_transformer:ResNetTransformer",  # ResNet + Transformer decoder
}


def _resolve(name: str):
    if name not in REGISTRY:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(REGISTRY)}")
    module_name, cls_name = REGISTRY[name].split(":")
    module = importlib.import_module(module_name)
    return module, getattr(module, cls_name)


def build_model(name: str, vocab_size: int, **hparams) -> Im2SeqModel:
    """A fresh model; `hparams` are its constructor arguments (as saved in checkpoints)."""
    _, cls = _resolve(name)
    if hasattr(cls, "upgrade_hparams"):  # a checkpoint written before an option was retired
        hparams = cls.upgrade_hparams(hparams)
    return cls(vocab_size=vocab_size, **hparams)


def hparam_names(name: str) -> set[str]:
    """The constructor arguments a model takes (what a run may set beyond the profile's sizes)."""
    _, cls = _resolve(name)
    return set(inspect.signature(cls).parameters) - {"self", "vocab_size"}


def model_from_profile(name: str, vocab_size: int, profile: Profile, **overrides) -> Im2SeqModel:
    """A model sized by the profile, its `per_model` overrides for this model included (explicit overrides win)."""
    module, _ = _resolve(name)
    return build_model(name, vocab_size, **{**module.hparams_from_profile(profile.for_model(name)), **overrides})
