"""The training logs beside the checkpoints: `log_steps.csv` (every few steps) and `log_epochs.csv`."""
from __future__ import annotations

import csv
from pathlib import Path

from ..run import atomic

STEP_COLUMNS = ("step", "epoch", "loss", "lr", "images_per_s", "elapsed_s")
EPOCH_COLUMNS = ("epoch", "step", "train_loss", "val_loss", "val_token_acc", "val_exact_match", "val_edit_score",
                 "lr", "images_per_s", "epoch_s", "elapsed_s")


def read_rows(path: str | Path) -> list[dict]:
    """The rows of a CSV log (strings), [] when it does not exist."""
    path = Path(path)
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def reset(path: Path, columns: tuple, keep=lambda row: False) -> None:
    """Rewrite a log keeping only rows `keep` accepts (a resumed run drops rows after its checkpoint)."""
    rows = [r for r in read_rows(path) if keep(r)]
    lines = [",".join(columns)] + [",".join(str(r.get(c, "")) for c in columns) for r in rows]
    atomic.write_text(path, "\n".join(lines) + "\n")


def append(path: Path, columns: tuple, row: dict) -> None:
    """One more row (floats to 6 significant digits; a missing value stays empty)."""
    def cell(v) -> str:
        return "" if v is None else f"{v:.6g}" if isinstance(v, float) else str(v)

    with open(path, "a", encoding="utf-8") as f:
        f.write(",".join(cell(row.get(c)) for c in columns) + "\n")
