"""Benchmarks: `python -m lib.bench {clean,infer,train,memory,learn,prior,drawn,unseen,render} [--json]`; the last line of --json is a JSON object.

Speed, memory and learning are measured here, by scripts that print their figures, never by timed tests.
"""
from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "clean": "lib.bench.clean",   # crop + pad images/s on demo crops
    "infer": "lib.bench.infer",   # naive vs batched cached greedy vs beam decoding
    "train": "lib.bench.train",   # training images/s and peak memory for model 2
    "memory": "lib.bench.memory",  # predicted peak training memory per bucket, both models
    "learn": "lib.bench.learn",    # the speedrun: dev exact match (or CROHME ExpRate) after M minutes of training
    "prior": "lib.bench.prior",    # does the model read the image yet: loss with right vs swapped images over minutes
    "drawn": "lib.bench.drawn",    # ten formulas drawn as pen strokes, read as notebook 07 reads a drawing
    "unseen": "lib.bench.unseen",  # a checkpoint on arXiv formulas typeset by LaTeX (no demo template makes them)
    "render": "lib.bench.render",  # formulas typeset per second by real LaTeX (many per pdflatex run)
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: python -m lib.bench {{{','.join(COMMANDS)}}} [--json] [options]", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[argv[0]])
    return module.main(argv[1:]) or 0
