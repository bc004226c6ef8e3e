"""Predict LaTeX for formula images and write a `result.txt`.

`python -m lib.predict --checkpoint CKPT --images DIR --out FILE [--beam K] [--batch-size B] [--ids FILE]`
writes one line per image (the order of --ids, else sorted by name): tokens separated by spaces, `-` for an
image that cannot be read or holds no ink (each with a warning naming the file). The decoding length limit is
the checkpoint's own (its profile's `max_tokens` + 2) unless --max-len is given.
"""
from __future__ import annotations

import argparse
import sys
import warnings

from .evaluation.submission import write_result
from .inference.predict import NO_FORMULA, list_images, predict_paths
from .models.checkpoint import load_model
from .run.precision import choose


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lib.predict", description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True, help="best.pt or last.pt of model 1 or model 2")
    ap.add_argument("--images", required=True, help="folder of formula images")
    ap.add_argument("--out", required=True, help="result file to write")
    ap.add_argument("--beam", type=int, default=1, help="beam width (1: greedy)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--ids", help="file of image names, one a line: the output order (default: sorted names)")
    ap.add_argument("--max-len", type=int, default=None,
                    help="decoding limit in tokens (default: the checkpoint's, from its profile's max_tokens)")
    ap.add_argument("--device", default=None, help="cpu | cuda (default: cuda when available)")
    args = ap.parse_args(argv)
    device = choose(args.device).device
    model, vocab, ckpt = load_model(args.checkpoint, device)
    paths = list_images(args.images, args.ids)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = lambda msg, *a, **k: print(f"warning: {msg}", file=sys.stderr)
        lines = predict_paths(model, vocab, paths, beam=args.beam, batch_size=args.batch_size, device=device,
                              max_len=args.max_len or ckpt.decode_limit, buckets=ckpt.preprocess.buckets,
                              scale=ckpt.preprocess.ink_scale)
    write_result(lines, args.out)
    blank = sum(line == NO_FORMULA for line in lines)
    print(f"wrote {len(lines)} lines to {args.out} ({blank} '-')")
    return 0


if __name__ == "__main__":
    sys.exit(main())
