"""The real notebook series under the smoke profile: its numbers, not only its files.

`make test` executes notebooks/ once, with nbval, before these tests (pytest.ini lists `notebooks` first);
they write into the shared throw-away IM2LATEX_HOME under the run `smoke-demo`. These tests read what that
run wrote (the series is run here through `python -m lib.series` when this file runs alone), then run
notebook 06 again through the series runner, so papermill's parameter injection is exercised on a real notebook.
"""
from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0[1-6]_*.ipynb"))
RUN = "smoke-demo"


def _home() -> Path:
    return Path(os.environ["IM2LATEX_HOME"])


def _series(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lib.series", "--profile", "smoke", "--data", "demo", "--run", RUN,
                           *args], cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=1800)


@pytest.fixture(scope="module")
def run_dir() -> Path:
    run = _home() / "outputs" / RUN
    if not (run / "submission" / "metrics.json").is_file():  # this file alone: run the series here
        r = _series()
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return run


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(f)]


def test_cleaning_counts_add_up(run_dir):
    report = json.loads((_home() / "data" / "processed" / "demo" / "smoke-s0" / "cleaning_report.json").read_text())
    for split, s in report["splits"].items():
        assert s["kept"] + sum(s["dropped"].values()) == s["seen"], split
    assert report["splits"]["train"]["kept"] > 0 and report["vocab_size"] > 4


@pytest.mark.parametrize("step", ["model1", "model2"])
def test_training_logs_hold_sane_falling_losses(run_dir, step):
    steps, epochs = _rows(run_dir / step / "log_steps.csv"), _rows(run_dir / step / "log_epochs.csv")
    assert len(steps) >= 2 and epochs
    losses = [r["loss"] for r in steps]
    assert all(math.isfinite(x) and x > 0 for x in losses)
    assert losses[-1] < losses[0], f"{step}: the training loss did not fall ({losses[0]:.3f} -> {losses[-1]:.3f})"
    for row in epochs:
        assert math.isfinite(row["train_loss"]) and math.isfinite(row["val_loss"])
        for key in ("val_token_acc", "val_exact_match", "val_edit_score"):
            assert 0.0 <= row[key] <= 100.0, (key, row[key])
        assert row["lr"] > 0 and row["images_per_s"] > 0
    assert epochs[-1]["val_loss"] < math.log(200), "validation loss no better than uniform over the vocabulary"
    assert (run_dir / step / "best.pt").is_file() and (run_dir / step / "last.pt").is_file()


def test_ablation_arms_have_scores(run_dir):
    results = json.loads((run_dir / "ablation" / "results.json").read_text())
    assert results["arms"] and all("error" not in a for a in results["arms"])
    for arm in results["arms"]:
        assert math.isfinite(arm["val_loss"]) and 0.0 <= arm["course_score"] <= 100.0
    assert json.loads((run_dir / "ablation" / "best.json").read_text())["arm"] == results["best"]


def test_submission_matches_the_test_ids_and_its_metrics_are_in_range(run_dir):
    processed = _home() / "data" / "processed" / "demo" / "smoke-s0"
    ids = (processed / "test_ids.txt").read_text().split()
    result = (run_dir / "submission" / "result.txt").read_text().splitlines()
    assert len(result) == len(ids) and all(line.strip() for line in result)
    metrics = json.loads((run_dir / "submission" / "metrics.json").read_text())
    test = metrics["submitted"]["test_metrics"]
    for key in ("bleu4", "exact_match", "edit_score", "course_score", "exprate", "exprate_le1", "exprate_le2"):
        assert 0.0 <= test[key] <= 100.0, (key, test[key])
    assert test["course_score"] == pytest.approx((test["bleu4"] + test["exact_match"] + test["edit_score"]) / 3,
                                                 abs=1e-3)
    assert test["cer"] >= 0 and test["n"] == metrics["splits"]["test"]["decoded"]
    assert test["exprate"] <= test["exprate_le1"] <= test["exprate_le2"]
    assert metrics["result_lines"]["lines"] == len(ids)
    assert (run_dir / "submission.zip").is_file()


def test_the_runner_executes_a_real_notebook(run_dir):
    """`python -m lib.series --only 06` on the run above: papermill injects the parameters, the run resumes."""
    r = _series("--only", "06")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    log = json.loads((run_dir / "series.json").read_text())
    assert [e["status"] for e in log["notebooks"]] == ["ok"]
    executed = json.loads((run_dir / "notebooks" / NOTEBOOKS[-1].name).read_text())
    injected = [c for c in executed["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert injected and 'profile = "smoke"' in "".join(injected[0]["source"])
    assert not [o for c in executed["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]


def test_the_report_draft_links_only_figures_that_exist_and_quotes_the_records(run_dir):
    import re
    import zipfile

    sub = run_dir / "submission"
    text = (sub / "report.md").read_text(encoding="utf-8")
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(links) >= 8 and all((sub / link).is_file() for link in links), links
    for section in ("## Data and cleaning", "## Model 1", "## Model 2", "## Augmentation ablation", "## Evaluation",
                    "## Error analysis", "## How to reproduce"):
        assert section in text, section
    cleaning = json.loads((run_dir / "cleaning" / "cleaning_report.json").read_text())
    assert f"vocabulary {cleaning['vocab_size']} tokens" in text
    best = max(_rows(run_dir / "model2" / "log_epochs.csv"), key=lambda r: r["val_edit_score"])
    assert f"validation exact match {best['val_exact_match']:.1f} %" in text
    metrics = json.loads((sub / "metrics.json").read_text())
    assert f"`result.txt` has {metrics['result_lines']['lines']} lines" in text
    assert f"--run {RUN}" in text and (sub / "report.html").read_text().startswith("<!doctype html>")
    names = zipfile.ZipFile(run_dir / "submission.zip").namelist()
    assert {"result.txt", "metrics.json", "report.md", "report.html"} <= set(names)
    assert {f"figures/model1_curves.png", "figures/model2_curves.png", "figures/ablation_curves.png"} <= set(names)
