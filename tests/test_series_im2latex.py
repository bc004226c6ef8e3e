"""Notebooks 01-06 on the `im2latex` source under the smoke profile: a small dataset in im2latex-100k's layout,
typeset here by LaTeX (mathtext without TeX) from ../shared/data/im2latex's arXiv formulas, or from the demo
generator's random formulas where that folder is absent."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from lib.data.im2latex_fetch import render_dataset
from lib.data.render import tex_available

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "im2latex" / "val.formulas.norm.txt"
RUN = "smoke-im2latex"


def test_the_series_runs_on_im2latex_lists(tmp_path):
    if SHARED.is_file():
        src = SHARED
    else:
        from lib.data.synth.broad import random_formula

        rng = np.random.default_rng(0)
        src = tmp_path / "formulas.lst"
        src.write_text("".join(random_formula(rng, 30) + "\n" for _ in range(200)), encoding="utf-8")
    data = tmp_path / "im2latex"
    report = render_dataset(data, src, limit=200, engine="latex" if tex_available() else "mathtext")
    assert report["rendered"] > 150
    env = dict(os.environ, IM2LATEX_IM2LATEX_DIR=str(data))
    r = subprocess.run([sys.executable, "-m", "lib.series", "--profile", "smoke", "--data", "im2latex", "--run", RUN],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    run = Path(os.environ["IM2LATEX_HOME"]) / "outputs" / RUN
    export = json.loads((run / "export" / "export_report.json").read_text())
    assert export["source"] == "im2latex" and export["layout"] == "im2latex lists"
    assert export["splits"]["train"]["kept"] >= 100
    cleaning = json.loads((run / "cleaning" / "cleaning_report.json").read_text())
    assert cleaning["splits"]["train"]["kept"] > 20  # arXiv formulas outside the whitelist are dropped, and counted
    metrics = json.loads((run / "submission" / "metrics.json").read_text())
    lines = (run / "submission" / "result.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == cleaning["splits"]["test"]["kept"] == metrics["result_lines"]["lines"] > 0
    test = metrics["submitted"]["test_metrics"]  # scored: the test formulas came as the answer key
    assert 0.0 <= test["exact_match"] <= 100.0 and 0 < test["n"] <= len(lines)  # those with a whitelisted answer
