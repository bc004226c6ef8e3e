"""The report draft: notebook 06 writes `outputs/<run>/submission/report.md` (and `report.html`) from the run's own
records, in the sections of the course report, for the student to edit.

Every number is read from a file the run wrote (export and cleaning reports, each model's `settings.json` and
`log_epochs.csv`, the ablation's `results.json`, `metrics.json`); every other step's figure is copied into
`submission/figures/` beside it (notebook 06's own are there already), so the zip holds what the report shows. The executed notebooks go to
`submission/notebooks/`.
"""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

from ..run import atomic, records
from .metrics import KEYS
from .submission import METRICS_NAME

FIGURES = {  # step folder -> figures its notebook saves, in the report's order
    "export": ("page_boxes", "crops"),
    "cleaning": ("cleaning_report", "histograms", "before_after"),
    "model1": ("curves", "validation_gallery", "attention"),
    "model2": ("curves", "validation_gallery", "attention"),
    "ablation": ("gallery", "curves"),
    "submission": ("metrics_bar", "accuracy_by_length", "error_gallery", "attention_model1", "attention_model2",
                   "decoding_speed"),
}
METRIC_KEYS = tuple(k for k in KEYS if k != "n")


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _best_epoch(folder: Path) -> dict:
    """The log_epochs.csv row with the best validation edit score (what best.pt holds), {} when none."""
    try:
        with open(folder / "log_epochs.csv", newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError:
        return {}
    return max(rows, key=lambda r: float(r["val_edit_score"])) if rows else {}


def _figures(run_dir: Path, out: Path) -> dict[str, list[str]]:
    """Copy each step's figures into out/figures/; {step: [relative paths]}."""
    found: dict[str, list[str]] = {}
    (out / "figures").mkdir(parents=True, exist_ok=True)
    for step, names in FIGURES.items():
        for name in names:
            src = run_dir / step / f"{name}.png"
            if not src.is_file():
                continue
            if src.parent.resolve() == out.resolve():  # notebook 06's own figures are in the folder already
                found.setdefault(step, []).append(src.name)
                continue
            shutil.copyfile(src, out / "figures" / f"{step}_{name}.png")
            found.setdefault(step, []).append(f"figures/{step}_{name}.png")
    return found


def _splits_table(splits: dict) -> list[str]:
    lines = ["| split | seen | kept | dropped (reason: count) |", "|---|---|---|---|"]
    for split, s in splits.items():
        dropped = ", ".join(f"{k}: {v}" for k, v in sorted(s.get("dropped", {}).items())) or "-"
        lines.append(f"| {split} | {s.get('seen', 0)} | {s.get('kept', 0)} | {dropped} |")
    return lines


def _model_section(title: str, folder: Path, figures: list[str]) -> list[str]:
    settings, best = records.read_settings(folder) or {}, _best_epoch(folder)
    lines = [f"## {title}", ""]
    if not settings:
        return lines + ["Not trained in this run.", ""]
    train = settings.get("train", {})
    model = settings.get("model", {})
    lines += [f"- Architecture: {', '.join(f'{k} {v}' for k, v in model.items())}",
              f"- Training: profile `{settings.get('profile')}`, {train.get('epochs')} epochs at most, "
              f"{train.get('max_minutes')} minutes at most, batch {train.get('batch_size')}, lr {train.get('lr')} "
              f"({train.get('schedule')}), {settings.get('precision')}, augmentation `{settings.get('augment')}`, "
              f"seed {settings.get('seed')}"]
    if best:
        lines.append(f"- Best epoch {best['epoch']} (step {best['step']}, {float(best['elapsed_s']) / 60:.1f} min): "
                     f"validation exact match {float(best['val_exact_match']):.1f} %, edit score "
                     f"{float(best['val_edit_score']):.1f}, loss {float(best['val_loss']):.3f}")
    lines.append("")
    return lines + [f"![{title}: {Path(f).stem}]({f})" for f in figures] + [""]


def build(run_dir: Path, out: Path, commands: list[str]) -> str:
    """The report's Markdown (figures copied into `out/figures/`)."""
    run_dir, out = Path(run_dir), Path(out)
    figs = _figures(run_dir, out)
    export = records.read_export_report(run_dir / "export") or {}
    cleaning = records.read_cleaning_report(run_dir / "cleaning") or {}
    metrics = _json(out / METRICS_NAME)
    lines = [f"# Report draft: run `{run_dir.name}`", "",
             "Written by notebook 06 from the run's records; edit the text, keep the numbers.", "",
             "## Data and cleaning", ""]
    if export:
        lines += [f"Source `{export.get('source')}`, exported in {export.get('seconds')} s.", "",
                  *_splits_table(export.get("splits", {})), ""]
    if cleaning:
        order = cleaning.get("test_order") or {}
        lines += [f"Cleaning kept formulas of at most {cleaning.get('max_tokens')} tokens; vocabulary "
                  f"{cleaning.get('vocab_size')} tokens; {cleaning.get('test_ids')} test images "
                  f"(order: {order.get('from', 'sorted image names')}).", "",
                  *_splits_table(cleaning.get("splits", {})), ""]
    lines += [f"![{Path(f).stem}]({f})" for f in figs.get("export", []) + figs.get("cleaning", [])] + [""]
    lines += _model_section("Model 1: CNN encoder + RNN decoder with attention", run_dir / "model1",
                            figs.get("model1", []))
    lines += _model_section("Model 2: ResNet encoder + Transformer decoder", run_dir / "model2",
                            figs.get("model2", []))
    lines += ["## Augmentation ablation", ""]
    table = run_dir / "ablation" / "table.md"
    best = records.read_ablation_best(run_dir / "ablation") or {}
    if table.is_file():
        lines += [table.read_text(encoding="utf-8").strip(), ""]
        if best:
            lines += [f"Best arm: `{best.get('arm')}`.", ""]
    else:
        lines += ["Not run in this run.", ""]
    lines += [f"![ablation {Path(f).stem}]({f})" for f in figs.get("ablation", [])] + [""]
    lines += ["## Evaluation", ""]
    if metrics:
        sub = metrics.get("submitted", {})
        lines += [f"Submitted: {sub.get('model')} with {sub.get('decoder')} decoding (chosen by "
                  f"{sub.get('chosen_by')}); `result.txt` has {metrics.get('result_lines', {}).get('lines')} lines.",
                  "", "| model | decoder | split | " + " | ".join(METRIC_KEYS) + " |",
                  "|---|---|---|" + "---|" * len(METRIC_KEYS)]
        for r in metrics.get("runs", []):
            for split, m in r.get("metrics", {}).items():
                lines.append(f"| {r['model']} | {r['decoder']} | {split} | "
                             + " | ".join(str(m.get(k, "-")) for k in METRIC_KEYS) + " |")
        lines.append("")
    lines += [f"![{Path(f).stem}]({f})" for f in figs.get("submission", []) if "error" not in f
              and "length" not in f] + [""]
    lines += ["## Error analysis", ""] + [f"![{Path(f).stem}]({f})" for f in figs.get("submission", [])
                                          if "error" in f or "length" in f] + [""]
    lines += ["## How to reproduce", "", "```bash", *commands, "```", "",
              "The executed notebooks are in `notebooks/` beside this report.", ""]
    return "\n".join(lines)


def write(run_dir: Path, out: Path, commands: list[str]) -> Path:
    """report.md and report.html into `out` (the submission folder), the executed notebooks into out/notebooks/."""
    md = build(run_dir, out, commands)
    atomic.write_text(out / "report.md", md)
    try:
        import mistune  # comes with jupyterlab (nbconvert)

        body = mistune.html(md)
    except ImportError:
        import html

        body = f"<pre>{html.escape(md)}</pre>"
    atomic.write_text(out / "report.html", "<!doctype html><meta charset='utf-8'><title>Report</title>"
                      "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}img{max-width:100%}"
                      "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}</style>"
                      + body)
    executed = Path(run_dir) / "notebooks"
    if executed.is_dir():
        (out / "notebooks").mkdir(exist_ok=True)
        for nb in sorted(executed.glob("*.ipynb")):
            shutil.copyfile(nb, out / "notebooks" / nb.name)
    return out / "report.md"


def reproduce_commands(root: Path, profile: str, data: str, run: str, seed: int) -> list[str]:
    """The commands that make this run again: the commit (when the bundle is a git clone), setup, the series."""
    import subprocess

    lines = []
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                timeout=10).stdout.strip()
        if commit:
            lines.append(f"git checkout {commit}")
    except (OSError, subprocess.SubprocessError):
        pass
    series = f"python -m lib.series --profile {profile} --data {data} --run {run}"
    return lines + ["make setup", series + (f" -p seed={seed}" if seed else "")]
