"""Command line: `python -m lib.data.synth --out DIR --pages N --seed S`."""
from __future__ import annotations

import argparse
import sys

from .broad import MIX_KINDS
from .dataset import SPLITS, generate


def main(argv: list[str] | None = None) -> int:
    """Generate the demo exam set and print a one-line summary."""
    ap = argparse.ArgumentParser(
        prog="python -m lib.data.synth",
        description="Generate the `demo` data source: scanned-looking exam pages with printed and handwritten "
                    "formulas, labelImg annotations (Pascal VOC, a few pages YOLO), OCR-style labels for train/dev "
                    "and an answer key for test. The same --pages and --seed give identical files.",
        epilog="Layout: DIR/pages/{train,dev,test}/<page>.png + .xml|.txt, DIR/ocr/{train,dev}/<page>_<k>.txt, "
               "DIR/answer_key/test/<page>_<k>.txt, DIR/truth.jsonl, DIR/synth.json.")
    ap.add_argument("--out", required=True, metavar="DIR",
                    help="output folder (its pages/ ocr/ answer_key/ truth.jsonl synth.json are replaced)")
    ap.add_argument("--pages", type=int, default=120, metavar="N", help="number of exam pages (default 120)")
    ap.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    ap.add_argument("--workers", type=int, default=None, metavar="W",
                    help="processes (default: all cores from 12 pages on; output does not depend on it)")
    ap.add_argument("--reuse", action="store_true", help="keep an existing complete set with the same parameters")
    ap.add_argument("--mix", default="exam=1", metavar="KIND=W,...",
                    help="weights of exam, random and fragment formulas (the profiles': exam=0.5,random=0.35,"
                         "fragment=0.15; default exam=1: the exam grammar alone)")
    ap.add_argument("--tex", type=float, default=0.0, metavar="SHARE",
                    help="share of the formulas typeset by real LaTeX (mathtext when TeX is not installed)")
    a = ap.parse_args(argv)
    mix = {k: float(v) for k, v in (part.split("=") for part in a.mix.split(","))}
    unknown = set(mix) - set(MIX_KINDS)
    if unknown:
        ap.error(f"--mix: unknown kind {sorted(unknown)[0]!r} (choose from {', '.join(MIX_KINDS)})")
    s = generate(a.out, a.pages, a.seed, workers=a.workers, reuse=a.reuse, show_progress=sys.stderr.isatty(),
                 mix=mix, tex=a.tex)
    pages = " / ".join(f"{k} {s['pages'][k]}" for k in SPLITS)
    boxes = " / ".join(f"{k} {s['boxes'][k]}" for k in SPLITS)
    note = " (reused)" if s["reused"] else f", {s['workers']} worker(s)"
    kinds = ", ".join(f"{k} {n}" for k, n in s.get("formulas", {}).items() if n)
    tex = s.get("typeset")
    tex = f", {tex['typeset']} of {tex['planned']} typeset by {tex['engine']}" if tex else ""
    print(f"demo set: {sum(s['pages'].values())} pages ({pages}), boxes {boxes} (formulas: {kinds}{tex}), "
          f"{s['yolo_pages']} YOLO page(s), {s['seconds']:.1f} s{note} -> {s['out']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
