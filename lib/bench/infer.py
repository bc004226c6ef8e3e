"""Decoding speed of model 2, same model and images: naive one-at-a-time full-prefix decoding (as the public
image-to-latex project predicts), batched cached greedy, batched beam search.

`python -m lib.bench infer [--json] [--profile P] [--images N] [--length L] [--batch-size B] [--beam K]
[--threads T]`

Images: a fixed workload, the same on every machine and run: `--images` formulas rendered with mathtext
into one bucket (the commonest of the demo data); `--processed DIR` decodes that data set's first test
images instead. The model is untrained, so every method is
forced to decode exactly L tokens (<EOS> banned before L): all three do the same number of steps on the same
images. The last line with --json is {naive_fps, greedy_fps, beam_fps, greedy_speedup, ...}; fps = images per
second, end to end (encoder included). `decode_speedup` leaves out the encoder time (the same work in both).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from ..data.dataset import load_split
from ..data.images import load_grey
from ..data.images import preprocess
from ..inference.decode import beam_search, greedy, greedy_uncached
from ..models import model_from_profile
from ..run.precision import choose
from ..run.profiles import get_profile

FORMULAS = [r"x^{2}+y^{2}=z^{2}", r"\frac{a+b}{c}", r"\sqrt{x+1}-\alpha", r"\sum_{i=1}^{n}i", r"e^{i\pi}+1=0",
            r"\int_{0}^{1}f(x)dx", r"a_{n+1}=2a_{n}", r"\beta\gamma=\delta"]


BUCKET = ((240, 100),)  # the commonest bucket of the demo data


def demo_images(n: int) -> list[np.ndarray]:
    """n formula images rendered by mathtext, cropped and padded to one bucket."""
    import io

    from matplotlib import mathtext
    from PIL import Image

    out = []
    for i in range(n):
        buf = io.BytesIO()
        mathtext.math_to_image(f"${FORMULAS[i % len(FORMULAS)]}$", buf, dpi=180 + 20 * (i % 3), format="png")
        buf.seek(0)
        out.append(preprocess(np.asarray(Image.open(buf).convert("L"), dtype=np.uint8), BUCKET))
    return out


def processed_images(folder: Path, n: int) -> list[np.ndarray]:
    """The first n test images (sorted by name) of a processed data set."""

    return [load_grey(folder / "images" / name) for name, _ in load_split(folder, "test")[:n]]


def batches(images: list[np.ndarray], size: int) -> list[torch.Tensor]:
    """Same-size images stacked into batches of at most `size` (as prediction does)."""
    groups: dict[tuple, list[np.ndarray]] = {}
    for img in images:
        groups.setdefault(img.shape, []).append(img)
    out = []
    for imgs in groups.values():
        for j in range(0, len(imgs), size):
            out.append(torch.from_numpy(np.stack(imgs[j:j + size]).astype(np.float32) / 255.0)[:, None])
    return out


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _ratio(a: float, b: float) -> float | None:
    """a / b, or None when timing noise makes either side non-positive (tiny runs on a busy machine)."""
    return a / b if a > 0 and b > 0 else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lib.bench infer")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--profile", default="gpu", help="model sizes from this profile (default gpu: the full model)")
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--length", type=int, default=50, help="tokens decoded per image")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--beam", type=int, default=5)
    ap.add_argument("--device", default=None)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--processed", default=None,
                    help="decode this processed data set's test images (default: the fixed rendered workload)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    prec = choose(args.device)
    torch.manual_seed(0)
    profile = get_profile(args.profile)
    model = model_from_profile("model2", 200, profile).to(prec.device).eval()
    if args.processed:
        processed = Path(args.processed)
        if not (processed / "test_filter.lst").is_file():
            raise SystemExit(f"--processed {processed}: no test_filter.lst (run notebook 02 first)")
        source, images = f"test images of {processed}", processed_images(processed, args.images)
    else:
        source, images = f"rendered formulas in one {BUCKET[0][0]}x{BUCKET[0][1]} bucket", demo_images(args.images)
    L = args.length
    loader = [b.to(prec.device) for b in batches(images, args.batch_size)]
    singles = [torch.from_numpy(img.astype(np.float32) / 255.0)[None, None].to(prec.device) for img in images]

    def run(decode, inputs) -> None:
        with torch.no_grad(), prec.autocast():
            for x in inputs:
                decode(x)
        if prec.device.type == "cuda":
            torch.cuda.synchronize()

    run(lambda x: greedy(model, x, max_len=4), loader[:1])  # warm-up
    t_enc1 = timed(lambda: run(model.encode, singles))
    t_enc = timed(lambda: run(model.encode, loader))
    t_naive = timed(lambda: run(lambda x: greedy_uncached(model, x, max_len=L, min_len=L), singles))
    t_greedy = timed(lambda: run(lambda x: greedy(model, x, max_len=L, min_len=L), loader))
    t_beam = timed(lambda: run(lambda x: beam_search(model, x, beam=args.beam, max_len=L, min_len=L), loader))
    n = len(images)
    res = {"naive_fps": n / t_naive, "greedy_fps": n / t_greedy, "beam_fps": n / t_beam,
           "greedy_speedup": t_naive / t_greedy,
           "decode_speedup": _ratio(t_naive - t_enc1, t_greedy - t_enc), "encoder_share_greedy": t_enc / t_greedy,
           "images": n, "source": source, "tokens_per_image": L, "beam": args.beam, "batch_size": args.batch_size, "profile": profile.name, "device": str(prec.device),
           "precision": prec.name, "threads": torch.get_num_threads(), "parameters": model.num_parameters()}
    print(f"model 2 ({profile.name} sizes, {res['parameters']:,} parameters) on {prec}, {n} images, "
          f"{L} tokens each, {torch.get_num_threads()} threads; {source}")
    print(f"naive (one image, full prefix each step): {res['naive_fps']:.2f} images/s")
    alone = f"{res['decode_speedup']:.1f}x" if res["decode_speedup"] else "not measurable"
    print(f"batched cached greedy (batch {args.batch_size}): {res['greedy_fps']:.2f} images/s "
          f"({res['greedy_speedup']:.1f}x naive; decoding alone {alone}, the encoder is "
          f"{100 * res['encoder_share_greedy']:.0f}% of its time)")
    print(f"batched beam {args.beam}: {res['beam_fps']:.2f} images/s")
    if args.json:
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in res.items()}))
    return 0
