"""How fast formulas are typeset: `python -m lib.bench render [--n 1000] [--json]`.

Typesets N formulas (im2latex-100k's arXiv formulas from ../shared/data/im2latex, else the demo generator's random
formulas) with the renderer (`lib/data/render.py`: many formulas per pdflatex run, a page each), and, as the
baseline in the same run, the first formulas with one pdflatex run each. The --json line holds formulas_per_s,
engine, baseline_formulas_per_s, speedup and the failures by reason.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time

import numpy as np

from ..data.render import IM2LATEX_STYLE, failure_reasons, read_formulas, render, render_tex
from ..run.parallel import default_workers
from .unseen import formulas_file


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lib.bench render", description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="formulas to typeset")
    ap.add_argument("--baseline", type=int, default=40, help="formulas typeset one pdflatex run each (0: none)")
    ap.add_argument("--workers", type=int, default=None, help="pdflatex runs at a time (default: the cores)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    source = formulas_file()
    if source is not None:
        formulas, where = [f for f in read_formulas(source) if f][:a.n], source.name
    else:
        from ..data.synth.broad import random_formula  # lazy: matplotlib's fonts, only without a formula list

        rng = np.random.default_rng(0)
        formulas, where = [random_formula(rng, matrices=True) for _ in range(a.n)], "random formulas"
    workers = a.workers or default_workers()
    t0 = time.perf_counter()
    images, failed, engine = render(formulas, "auto", IM2LATEX_STYLE, workers)
    seconds = time.perf_counter() - t0
    res = {"engine": engine, "formulas": len(formulas), "source": where, "workers": workers,
           "rendered": len(formulas) - len(failed), "seconds": round(seconds, 2),
           "formulas_per_s": round(len(formulas) / seconds, 1),
           "median_height": int(np.median([im.shape[0] for im in images if im is not None] or [0]))}
    res["failed"] = reasons = failure_reasons(failed)
    if engine == "latex" and a.baseline:
        part = formulas[:a.baseline]
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory():
            for f in part:  # one document, one pdflatex and one pdftoppm per formula
                render_tex([f], IM2LATEX_STYLE, workers=1)
        base = len(part) / (time.perf_counter() - t0)
        res.update(baseline_formulas_per_s=round(base, 1), speedup=round(res["formulas_per_s"] / base, 1))
    print(f"{res['rendered']} of {res['formulas']} formulas ({where}) typeset by {engine} in {res['seconds']} s: "
          f"{res['formulas_per_s']} formulas/s with {workers} runs at a time"
          + (f"; one run per formula: {res['baseline_formulas_per_s']} formulas/s (x{res['speedup']})"
             if "speedup" in res else "")
          + (f"; failed: {reasons}" if reasons else ""))
    if engine != "latex":
        print("no TeX installation: mathtext was measured (apt-get install texlive-latex-base "
              "texlive-fonts-recommended poppler-utils)")
    if a.json:
        print(json.dumps(res))
    return 0
