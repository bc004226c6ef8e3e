"""Predict LaTeX for formula images: preprocessing as in cleaning, same-size batches, greedy or beam search,
`-` for an image that cannot be read or holds no ink (each with a warning naming the file). The command line
is `python -m lib.predict` (lib/predict.py)."""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..data.buckets import COURSE
from ..data.dataset import bucket_batch_size
from ..data.images import IMAGE_EXTS, ImageError, dark_ink, has_ink, load_grey, preprocess
from ..data.vocab import Vocab
from ..models.base import Im2SeqModel
from ..run.precision import choose
from ..run.progress import progress
from .decode import beam_search, greedy

NO_FORMULA = "-"
PREDICT_PIXELS = 32 * 800 * 100  # pixel budget of a decoding batch (beam search: divided by the beam width)


def load_images(paths: Sequence[str | Path], buckets=COURSE, scale: dict | None = None
                ) -> list[np.ndarray | None]:
    """Preprocessed images (as in cleaning, at the training data's `scale` when given); None with a warning
    for unreadable or blank ones."""
    out: list[np.ndarray | None] = []
    for path in paths:
        try:
            img = load_grey(path)
        except ImageError as e:
            warnings.warn(f"{e}: writing '{NO_FORMULA}'", stacklevel=2)
            out.append(None)
            continue
        if not has_ink(dark_ink(img)):
            warnings.warn(f"{path}: blank image (no ink): writing '{NO_FORMULA}'", stacklevel=2)
            out.append(None)
            continue
        out.append(preprocess(img, buckets, scale=scale))
    return out


@torch.no_grad()
def predict_arrays(model: Im2SeqModel, vocab: Vocab, images: Sequence[np.ndarray | None], *, beam: int = 1,
                   batch_size: int = 16, device="cpu", max_len: int = 150, alpha: float = 0.6,
                   max_pixels: int | None = PREDICT_PIXELS) -> list[str]:
    """Result lines for preprocessed uint8 images (None -> "-"); same-size images are decoded together, at
    most `max_pixels` (over the beams) per batch."""

    prec = choose(device)
    model = model.to(prec.device).eval()
    by_size: dict[tuple[int, int], list[int]] = {}
    for i, img in enumerate(images):
        if img is not None:
            by_size.setdefault(img.shape, []).append(i)
    budget = max_pixels // max(1, beam) if max_pixels else None
    batches = []
    for (h, w), idx in sorted(by_size.items()):
        n = bucket_batch_size(w, h, batch_size, budget)
        batches += [idx[j:j + n] for j in range(0, len(idx), n)]
    lines = [NO_FORMULA] * len(images)
    for idx in progress(batches, desc="predict", unit="batch"):
        x = torch.from_numpy(np.stack([images[i] for i in idx]).astype(np.float32) / 255.0)[:, None]
        x = x.to(prec.device)
        with prec.autocast():
            if beam > 1:
                seqs, _ = beam_search(model, x, beam=beam, max_len=max_len, alpha=alpha)
            else:
                seqs, _ = greedy(model, x, max_len=max_len)
        for i, seq in zip(idx, seqs):
            lines[i] = " ".join(vocab.decode(seq)) or NO_FORMULA
    return lines


def predict_paths(model: Im2SeqModel, vocab: Vocab, paths: Sequence[str | Path], *, beam: int = 1,
                  batch_size: int = 16, device="cpu", buckets=COURSE, max_len: int = 150,
                  alpha: float = 0.6, scale: dict | None = None) -> list[str]:
    """One result line per path, in order."""
    return predict_arrays(model, vocab, load_images(paths, buckets, scale), beam=beam, batch_size=batch_size,
                          device=device, max_len=max_len, alpha=alpha)


def list_images(folder: str | Path, ids: str | Path | None = None) -> list[Path]:
    """Image paths in the order of the id file (one name per line), else all images sorted by name."""
    folder = Path(folder)
    if ids is not None:
        names = [n.strip() for n in Path(ids).read_text(encoding="utf-8-sig").splitlines() if n.strip()]
        return [folder / n for n in names]
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such image folder")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS)
