"""Predict LaTeX for formula images and write a `result.txt`.

`python -m lib.predict --checkpoint CKPT --images DIR --out FILE [--beam K] [--batch-size B] [--ids FILE]`
writes one line per image (the order of --ids, else sorted by name): tokens separated by spaces, `-` for an
image that cannot be read or holds no ink (each with a warning naming the file).
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..data.buckets import COURSE
from ..data.images import IMAGE_EXTS, ImageError, dark_ink, has_ink, load_grey, preprocess
from ..data.vocab import Vocab
from ..models.base import Im2SeqModel
from ..run.progress import progress
from ..training.precision import choose
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
    from ..data.dataset import bucket_batch_size

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


def main(argv: list[str] | None = None) -> int:
    from ..evaluation.submission import write_result
    from ..training.checkpoint import load_model, preprocessing

    ap = argparse.ArgumentParser(prog="python -m lib.predict", description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True, help="best.pt or last.pt of model 1 or model 2")
    ap.add_argument("--images", required=True, help="folder of formula images")
    ap.add_argument("--out", required=True, help="result file to write")
    ap.add_argument("--beam", type=int, default=1, help="beam width (1: greedy)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--ids", help="file of image names, one a line: the output order (default: sorted names)")
    ap.add_argument("--max-len", type=int, default=150)
    ap.add_argument("--device", default=None, help="cpu | cuda (default: cuda when available)")
    args = ap.parse_args(argv)
    device = choose(args.device).device
    model, vocab, ckpt = load_model(args.checkpoint, device)
    buckets, scale = preprocessing(ckpt)
    paths = list_images(args.images, args.ids)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = lambda msg, *a, **k: print(f"warning: {msg}", file=sys.stderr)
        lines = predict_paths(model, vocab, paths, beam=args.beam, batch_size=args.batch_size, device=device,
                              max_len=args.max_len, buckets=buckets, scale=scale)
    write_result(lines, args.out)
    blank = sum(line == NO_FORMULA for line in lines)
    print(f"wrote {len(lines)} lines to {args.out} ({blank} '-')")
    return 0


if __name__ == "__main__":
    sys.exit(main())
