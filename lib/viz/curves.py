"""Training curves and prediction galleries (matplotlib figures; notebooks show and save them)."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

CURVE_METRICS = (("val_token_acc", "token acc"), ("val_exact_match", "exact match"),
                 ("val_edit_score", "edit score"))


def _history(source) -> list[dict]:
    """Rows of a history list, a log_epochs.csv, or a folder holding one."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.is_dir():
            path = path / "log_epochs.csv"
        with open(path, newline="", encoding="utf-8") as f:
            return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(f)]
    return [dict(r) for r in source]


def _step_losses(source) -> tuple[list[float], list[float]] | None:
    """(steps, losses) from the log_steps.csv beside a log_epochs.csv, if any."""
    if not isinstance(source, (str, Path)):
        return None
    path = Path(source)
    path = (path if path.is_dir() else path.parent) / "log_steps.csv"
    if not path.exists():
        return None
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [float(r["step"]) for r in rows], [float(r["loss"]) for r in rows]


def plot_curves(history_or_csv_path, title: str = ""):
    """Three panels: train/val loss, validation metrics (0-100), learning rate; by epoch."""
    import matplotlib.pyplot as plt

    rows = _history(history_or_csv_path)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    if not rows:
        for ax in axes:
            ax.text(0.5, 0.5, "no epochs logged", ha="center", va="center", transform=ax.transAxes)
        return fig
    ep = [r["epoch"] for r in rows]
    steps = _step_losses(history_or_csv_path)
    if steps and rows[-1].get("step"):
        per_epoch = rows[-1]["step"] / rows[-1]["epoch"]  # step losses drawn on the epoch axis
        axes[0].plot(np.array(steps[0]) / per_epoch, steps[1], color="0.75", lw=0.8, label="train (steps)")
    axes[0].plot(ep, [r["train_loss"] for r in rows], "o-", label="train")
    axes[0].plot(ep, [r["val_loss"] for r in rows], "o-", label="validation")
    axes[0].set(title="loss (cross-entropy per token)", xlabel="epoch")
    for key, label in CURVE_METRICS:
        axes[1].plot(ep, [r[key] for r in rows], "o-", label=label)
    axes[1].set(title="validation metrics", xlabel="epoch", ylim=(0, 100))
    axes[2].plot(ep, [r["lr"] for r in rows], "o-")
    axes[2].set(title="learning rate (end of epoch)", xlabel="epoch")
    axes[2].ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
    for ax in axes[:2]:
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
