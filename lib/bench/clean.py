"""Crop + pad speed on demo crops: `python -m lib.bench clean [--json] [--crops DIR] [--n N] [--workers W]`.

Each image is read, white-space cropped, padded to its bucket and written as PNG (what cleaning does per
image), first in one process (the baseline), then on a process pool over the cores.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from ..data import synth
from ..data.buckets import COURSE
from ..data.clean import process_image
from ..data.export import export_demo
from ..run.parallel import default_workers, parallel_map


def demo_crops(folder: Path, pages: int, seed: int = 0) -> list[Path]:
    """Generate a small demo set with lib.synth and export its crops; returns the crop files."""

    synth.generate(folder / "raw", pages, seed)
    export_demo(folder / "raw", folder / "interim", workers=None)
    return sorted((folder / "interim").rglob("*.png"))


def rate(crops: list[Path], n: int, out: Path, workers: int | None) -> float:
    """Images per second over `n` jobs (cycling through the crops)."""
    out.mkdir(parents=True, exist_ok=True)
    buckets = COURSE
    jobs = [(str(crops[i % len(crops)]), str(out / f"{i}.png"), buckets) for i in range(n)]
    t0 = time.perf_counter()
    results = parallel_map(process_image, jobs, workers, desc="crop+pad", unit="img")
    seconds = time.perf_counter() - t0
    bad = [r for r in results if not r["ok"]]
    if bad:
        raise RuntimeError(f"{len(bad)} crops failed, e.g. {bad[0]['error']}")
    return n / seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lib.bench clean", description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print a JSON object as the last line")
    ap.add_argument("--crops", type=Path, help="folder of crops (*.png, searched recursively); default: demo")
    ap.add_argument("--pages", type=int, default=8, help="demo pages to generate when --crops is not given")
    ap.add_argument("--n", type=int, default=2000, help="images to process on the pool")
    ap.add_argument("--baseline-n", type=int, default=300, help="images for the one-process baseline")
    ap.add_argument("--workers", type=int, default=None, help="pool processes (default: all cores)")
    a = ap.parse_args(argv)
    workers = a.workers or default_workers()
    with tempfile.TemporaryDirectory(prefix="bench-clean-") as tmp:
        tmp = Path(tmp)
        crops = sorted(a.crops.rglob("*.png")) if a.crops else demo_crops(tmp / "demo", a.pages)
        if not crops:
            print(f"no crops found in {a.crops}")
            return 1
        serial = rate(crops, a.baseline_n, tmp / "serial", 0)
        pooled = rate(crops, a.n, tmp / "pool", workers)
    result = {"images_per_s": round(pooled, 1), "serial_images_per_s": round(serial, 1),
              "speedup": round(pooled / serial, 2), "images": a.n, "workers": workers,
              "distinct_crops": len(crops), "crops": str(a.crops) if a.crops else f"demo ({a.pages} pages)"}
    print(f"crop+pad on {result['crops']}, {len(crops)} distinct crops: one process {serial:.0f} images/s, "
          f"{workers} processes {pooled:.0f} images/s ({result['speedup']}x)")
    if a.json:
        print(json.dumps(result))
    return 0
