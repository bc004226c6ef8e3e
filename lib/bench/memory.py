"""Predicted peak training memory per bucket: `python -m lib.bench memory [--profile gpu] [--data demo] [--json]`.

For each bucket in use (the cleaning report's, when the data is processed; else every bucket of the profile)
it prints the batch size the profile's pixel budget gives and the predicted peak memory of one training step
of each model, and the largest batch that fits a 24 GB card (RTX 3090) and a 15 GB one (Colab's T4).

The prediction is measured on the CPU: the bytes autograd saves for backward (distinct storages, the
parameters left out) in one teacher-forced step of one image, under the GPU's autocast dtype, at two probe
sizes; activations grow linearly with the image area (both models: convolutions, the row encoder, attention
over every cell), so `bytes(area) = fixed + per_pixel * area`. A step's peak adds the weights, gradients and
AdamW's two moments (16 bytes a parameter) and BACKWARD_FACTOR for the gradients alive during backward.
On a GPU it also runs one real step at the largest buckets and prints `torch.cuda.max_memory_allocated`.
The last line of --json: {buckets: [{size, batch, model1_gib, model2_gib, ...}], peak_gib, ...}.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
import torch.nn.functional as F

from ..data.buckets import of_profile
from ..data.dataset import bucket_batch_size
from ..models import model_from_profile
from ..run import records
from ..run.notebook import data_key, default_home, repo_root
from ..run.precision import choose
from ..run.profiles import get_profile

MODELS = ("model1", "model2")
VOCAB = 200                        # about the size of the demo (161) and CROHME (~110) vocabularies
PROBES = ((256, 64), (512, 128))   # (width, height) of the two measured images
BACKWARD_FACTOR = 1.3              # saved activations x this: the gradients alive while backward runs
CARDS_GIB = {"24gb": 22.0, "15gb": 13.5}  # usable memory of a 24 GB / 15 GB card (CUDA context, allocator slack)
GIB = 2 ** 30
SHOWN = 12  # buckets printed: those with the highest predicted peak
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": None}


def saved_bytes(model: torch.nn.Module, width: int, height: int, tokens: int, dtype: torch.dtype | None) -> int:
    """Bytes autograd keeps for backward in one step of one image (distinct storages, parameters excluded)."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        s = t.untyped_storage()
        if s.data_ptr() not in params:
            storages[s.data_ptr()] = s.nbytes()
        return t

    g = torch.Generator().manual_seed(0)
    images = (torch.rand(1, 1, height, width, generator=g) > 0.1).float()
    tgt = torch.randint(4, VOCAB, (1, tokens + 1), generator=g)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        with torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
            logits = model(images, tgt[:, :-1])
        F.cross_entropy(logits.float().transpose(1, 2), tgt[:, 1:])
    return sum(storages.values())


def per_image_cost(model: torch.nn.Module, tokens: int, dtype: torch.dtype | None) -> tuple[float, float]:
    """(fixed bytes, bytes per pixel) of one image's saved activations, from the two probe sizes."""
    (w0, h0), (w1, h1) = PROBES
    b0, b1 = (saved_bytes(model, w, h, tokens, dtype) for w, h in PROBES)
    per_pixel = (b1 - b0) / (w1 * h1 - w0 * h0)
    return max(0.0, b0 - per_pixel * w0 * h0), per_pixel


def state_bytes(model: torch.nn.Module) -> int:
    """fp32 weights, gradients and AdamW's two moments."""
    return 16 * sum(p.numel() for p in model.parameters())


def predicted_gib(cost: tuple[float, float], state: int, area: int, batch: int) -> float:
    fixed, per_pixel = cost
    return (state + BACKWARD_FACTOR * batch * (fixed + per_pixel * area)) / GIB


def largest_batch(cost: tuple[float, float], state: int, area: int, limit_gib: float) -> int:
    """The most images of this area one step can take within `limit_gib` (0: not even one)."""
    fixed, per_pixel = cost
    room = limit_gib * GIB - state
    return max(0, int(room // (BACKWARD_FACTOR * (fixed + per_pixel * area))))


def buckets_in_use(profile, data: str, home: Path) -> tuple[list[tuple[int, int]], dict, str]:
    """(width, height) buckets, image counts per bucket, and where they came from."""
    folder = home / "data" / "processed" / data / data_key(profile, data, 0)  # seed 0's
    report = folder / records.CLEANING_REPORT
    if report.is_file():
        counts = records.read_cleaning_report(folder).get("buckets") or {}
        if counts:
            sizes = sorted((tuple(int(v) for v in k.split("x")) for k in counts), key=lambda s: (s[0] * s[1], s))
            return sizes, {f"{w}x{h}": counts[f"{w}x{h}"] for w, h in sizes}, str(report)
    sizes = sorted(set(of_profile(profile)), key=lambda s: (s[0] * s[1], s))
    return sizes, {}, f"every bucket of the {profile.name} profile (no processed {data} data)"


def measured_gib(name: str, profile, width: int, height: int, batch: int, tokens: int) -> float:
    """One real training step on the GPU: torch.cuda.max_memory_allocated in GiB."""

    prec = choose("cuda")
    model = model_from_profile(name, VOCAB, profile).to(prec.device).train()
    opt = torch.optim.AdamW(model.parameters())
    scaler = prec.grad_scaler()
    images = torch.ones(batch, 1, height, width, device=prec.device)
    tgt = torch.randint(4, VOCAB, (batch, tokens + 1), device=prec.device)
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    for _ in range(2):  # the optimizer's moments exist from the first step on
        with prec.autocast():
            logits = model(images, tgt[:, :-1])
        loss = F.cross_entropy(logits.float().transpose(1, 2), tgt[:, 1:])
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() / GIB


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lib.bench memory", description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="gpu")
    ap.add_argument("--data", default="demo", choices=("demo", "crohme", "course"))
    ap.add_argument("--dtype", choices=tuple(DTYPES), default=None,
                    help="autocast dtype of the prediction (default: bf16 for gpu, fp32 otherwise)")
    ap.add_argument("--tokens", type=int, default=None, help="formula length (default: the profile's max_tokens)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    profile = get_profile(a.profile).for_data(a.data)
    dtype_name = a.dtype or ("bf16" if profile.name == "gpu" else "fp32")
    tokens = a.tokens or profile.max_tokens + 1
    sizes, counts, source = buckets_in_use(profile, a.data, default_home(repo_root()))
    torch.manual_seed(0)
    costs, states = {}, {}
    for name in MODELS:
        model = model_from_profile(name, VOCAB, profile).train()
        costs[name] = per_image_cost(model, tokens, DTYPES[dtype_name])
        states[name] = state_bytes(model)
    rows = []
    for w, h in sizes:
        batch = bucket_batch_size(w, h, profile.batch_size, profile.batch_pixels)
        row = {"size": f"{w}x{h}", "images": counts.get(f"{w}x{h}"), "batch": batch}
        for name in MODELS:
            row[f"{name}_gib"] = round(predicted_gib(costs[name], states[name], w * h, batch), 3)
        for card, limit in CARDS_GIB.items():
            row[f"max_batch_{card}"] = {name: largest_batch(costs[name], states[name], w * h, limit) for name in MODELS}
        rows.append(row)
    peak = max(max(r["model1_gib"], r["model2_gib"]) for r in rows)
    print(f"{profile.name} profile, {a.data} data ({source}); {dtype_name} activations, {tokens} tokens, pixel "
          f"budget {profile.batch_pixels} per batch (batch size at most {profile.batch_size})")
    print(f"{'bucket':>10} {'images':>7} {'batch':>5} {'model1 GiB':>10} {'model2 GiB':>10}   largest batch "
          f"in 24 GB / 15 GB (model1, model2)")
    shown = sorted(rows, key=lambda r: -max(r["model1_gib"], r["model2_gib"]))[:SHOWN]
    for r in sorted(shown, key=lambda r: [int(v) for v in r["size"].split("x")][::-1]):
        print(f"{r['size']:>10} {r['images'] if r['images'] is not None else '':>7} {r['batch']:>5} "
              f"{r['model1_gib']:>10.2f} {r['model2_gib']:>10.2f}   "
              f"{r['max_batch_24gb']['model1']}, {r['max_batch_24gb']['model2']} / "
              f"{r['max_batch_15gb']['model1']}, {r['max_batch_15gb']['model2']}")
    if len(rows) > len(shown):
        print(f"({len(rows) - len(shown)} more buckets, each predicted lower; all of them in the --json line)")
    result = {"profile": profile.name, "data": a.data, "dtype": dtype_name, "tokens": tokens,
              "batch_pixels": profile.batch_pixels, "backward_factor": BACKWARD_FACTOR, "source": source,
              "per_pixel_bytes": {n: round(costs[n][1], 1) for n in MODELS},
              "buckets": rows, "peak_gib": round(peak, 3)}
    if torch.cuda.is_available():
        largest = sorted(sizes, key=lambda s: s[0] * s[1])[-3:]
        measured = {}
        for w, h in largest:
            batch = bucket_batch_size(w, h, profile.batch_size, profile.batch_pixels)
            measured[f"{w}x{h}"] = {n: round(measured_gib(n, profile, w, h, batch, tokens), 3) for n in MODELS}
            print(f"measured on {torch.cuda.get_device_name()}: {w}x{h} batch {batch}: {measured[f'{w}x{h}']} GiB")
        result["measured_gib"] = measured
    print(f"predicted peak over buckets and models: {peak:.2f} GiB "
          f"({'fits' if peak <= CARDS_GIB['24gb'] else 'does NOT fit'} a 24 GB card with "
          f"{CARDS_GIB['24gb']} GiB usable)")
    if a.json:
        print(json.dumps(result))
    return 0
