"""Training throughput of a model at a profile's sizes: images/s and peak memory.

`python -m lib.bench train [--json] [--model model2|model1] [--profile P] [--set NAME=VALUE ...] [--steps N]
[--height H] [--width W] [--tokens T] [--batch-size B] [--threads T]`

Synthetic batches (random ink on a white page, random token ids) of the profile's batch size at one bucket
size (default 240x100 with 30 tokens, the commonest of the demo data), the loop's own precision (bf16 / fp16 +
GradScaler / fp32), optimizer and step (`lib.training.loop.train_step`: copies to the device included).
The last line with --json is {images_per_s, peak_mem_mb, ...}; peak memory is CUDA's max allocated on a GPU, the process's peak RSS on CPU.
"""
from __future__ import annotations

import argparse
import json
import resource
import time

import torch

from ..models import model_from_profile
from ..run.profiles import get_profile
from ..training.config import TrainConfig
from ..training.loop import train_step
from ..run.precision import choose
from ..run.series import parse_parameter

VOCAB = 200


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lib.bench train")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--model", choices=("model2", "model1"), default="model2")
    ap.add_argument("--profile", default="auto")
    ap.add_argument("--set", dest="changes", action="append", default=[], metavar="NAME=VALUE",
                    help="change one knob of the profile, e.g. --set m1_feed=False (a lever's cost per image)")
    ap.add_argument("--steps", type=int, default=10, help="timed steps (after 2 warm-up steps)")
    ap.add_argument("--height", type=int, default=100)
    ap.add_argument("--width", type=int, default=240)
    ap.add_argument("--tokens", type=int, default=30, help="target length per image")
    ap.add_argument("--batch-size", type=int, default=None, help="default: the profile's")
    ap.add_argument("--device", default=None)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    changes = dict(parse_parameter(c) for c in args.changes)
    profile = get_profile(args.profile, **changes)
    prec = choose(args.device)
    bs = args.batch_size or profile.batch_size
    torch.manual_seed(0)
    model = model_from_profile(args.model, VOCAB, profile).to(prec.device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=profile.lr, weight_decay=0.01)
    scaler = prec.grad_scaler()
    images = torch.where(torch.rand(bs, 1, args.height, args.width) < 0.1, 0.0, 1.0)
    tgt = torch.randint(4, VOCAB, (bs, args.tokens + 1))
    tgt[:, 0] = 1

    cfg = TrainConfig.from_profile(profile, batch_size=bs)
    batch = {"images": images, "mask": None, "tgt": tgt}  # one bucket: no mask, as the loader gives it

    def step() -> None:  # the training loop's own step
        train_step(model, batch, prec, opt, scaler, cfg)

    def sync() -> None:
        if prec.device.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(2):
        step()
    sync()
    if prec.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        step()
    sync()
    wall = time.perf_counter() - t0
    if prec.device.type == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    res = {"images_per_s": bs * args.steps / wall, "peak_mem_mb": peak, "step_s": wall / args.steps,
           "model": args.model, "changes": changes,
           "batch_size": bs, "image_hw": [args.height, args.width], "tokens": args.tokens, "profile": profile.name,
           "device": str(prec.device), "precision": prec.name, "parameters": model.num_parameters(),
           "threads": torch.get_num_threads()}
    print(f"{args.model} ({profile.name} sizes, {res['parameters']:,} parameters) on {prec}: batch {bs} of "
          f"{args.height}x{args.width}, {args.tokens} tokens")
    print(f"{res['images_per_s']:.1f} images/s ({res['step_s']:.3f} s/step), peak memory {peak:.0f} MiB "
          f"({'CUDA allocated' if prec.device.type == 'cuda' else 'process RSS'})")
    if args.json:
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in res.items()}))
    return 0
