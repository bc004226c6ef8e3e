"""A processed demo set of P pages and seed S made outside the series (steps 01 and 02 as the notebooks run them):
for the learning benchmark and for a run that starts on the demo set before its own data."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from ..run import atomic
from ..run.parallel import pool_workers
from .buckets import of_profile
from .clean import clean
from .export import ensure_demo, export_demo


def prepare_demo(base: Path, profile, pages: int, seed: int) -> Path:
    """`base`/processed for (pages, seed) and the profile's buckets and token limit, made once and then reused."""
    processed, stamp = base / "processed", base / "processed" / "bench.json"
    params = {"pages": pages, "seed": seed, "buckets": profile.buckets, "max_tokens": profile.max_tokens,
              "mix": profile.demo_mix, "tex": profile.demo_tex}
    if stamp.is_file() and json.loads(stamp.read_text(encoding="utf-8")) == params:
        return processed
    t0 = time.monotonic()
    ensure_demo(base / "raw", pages, seed, profile.demo_mix, profile.demo_tex)
    shutil.rmtree(base / "interim", ignore_errors=True)
    export_demo(base / "raw", base / "interim", workers=pool_workers(profile.workers))
    clean(base / "interim", processed, profile.max_tokens, of_profile(profile), workers=pool_workers(profile.workers))
    atomic.write_json(stamp, params)
    print(f"demo set: {pages} pages, seed {seed}, ready in {time.monotonic() - t0:.0f} s -> {processed}", flush=True)
    return processed
