"""A start that already reads: the first `pretrain_minutes` of a run on the demo set, then its own data.

The demo set's printed and font-handwritten formulas teach a model where to look far sooner than CROHME's pen
formulas do (docs/handwriting.md); one vocabulary (both sets' training tokens) serves both phases, so the second
continues the first's weights. Both phases resume from their own `last.pt`.
"""
from __future__ import annotations

import math
from pathlib import Path

from ..data.dataset import load_split
from ..data.demo_set import prepare_demo
from ..data.synth.dataset import mix_tag
from ..data.vocab import Vocab
from ..run.profiles import Profile
from .config import TrainResult, resolve_budget
from .loop import train_model

PRETRAIN_DIR = "pretrain"  # the first phase's folder inside the run's model folder


def shared_vocab(*processed: Path) -> Vocab:
    """One vocabulary over the training formulas of several processed sets."""
    return Vocab.build(tokens for d in processed for _, tokens in load_split(d, "train"))


def demo_for(home: Path, profile: Profile, seed: int) -> Path:
    """The demo set a run starts on: the profile's pages, made once under <home>/data/pretrain/."""
    tag = mix_tag(profile.demo_mix, profile.demo_tex)
    return prepare_demo(Path(home) / "data" / "pretrain" / f"demo-p{profile.demo_pages}-s{seed}{tag}", profile,
                        profile.demo_pages, seed)


def train_with_pretraining(model_name: str, processed_dir, out_dir, profile: Profile, *, home: Path, seed: int = 0,
                           epochs: int | None = None, max_minutes: float | None = None, demo: Path | None = None,
                           **kw) -> tuple[TrainResult | None, TrainResult]:
    """Train as `train_model` does, the first `profile.pretrain_minutes` of the budget on the demo set (none:
    `train_model` itself); (the pretraining's result or None, the run's result)."""
    minutes = profile.for_model(model_name).pretrain_minutes
    if not minutes:
        return None, train_model(model_name, processed_dir, out_dir, profile, seed=seed, epochs=epochs,
                                 max_minutes=max_minutes, **kw)
    epochs, total = resolve_budget(profile.for_model(model_name), epochs, max_minutes)
    if total <= minutes:
        raise ValueError(f"pretrain_minutes={minutes} leaves nothing of a {total}-minute budget for the run's data")
    demo = demo or demo_for(home, profile, seed)
    vocab = shared_vocab(Path(processed_dir), demo)
    pre = train_model(model_name, demo, Path(out_dir) / PRETRAIN_DIR, profile, seed=seed, epochs=10_000,
                      max_minutes=minutes, vocab=vocab,
                      **{**kw, "patience": 10_000, "finished_ok": True})  # the minutes decide; a phase that ends
    rest = math.inf if math.isinf(total) else total - minutes
    result = train_model(model_name, processed_dir, out_dir, profile, seed=seed, epochs=epochs, max_minutes=rest,
                         init_from=pre.last_path, vocab=vocab, **kw)
    return pre, result
