"""The JSON records one step hands to another: each file named, written and read here only.

| file | written by | read by |
|---|---|---|
| `export_report.json` (interim/<source>/<key>/) | step 01 (`lib.data.export`) | step 02 (symbol height), 01 again (reuse) |
| `cleaning_report.json` (processed/<source>/<key>/) | step 02 (`lib.data.clean`) | training (ink scale), benchmarks |
| `settings.json` (outputs/<run>/<model>/) | training (`lib.training.loop`) | notebook 06, `lib.train` |
| `best.json` (outputs/<run>/ablation/) | notebook 05 (`lib.training.ablation`) | notebook 06 (the best arm) |

Checkpoints are records too, with their own module: `lib.models.checkpoint`.
"""
from __future__ import annotations

import json
from pathlib import Path

from . import atomic

EXPORT_REPORT = "export_report.json"
CLEANING_REPORT = "cleaning_report.json"
SETTINGS = "settings.json"
ABLATION_BEST = "best.json"


class RecordError(ValueError):
    """A record that exists but cannot be read (not JSON, or without the fields its reader needs)."""


def _read(path: Path, needs: tuple[str, ...] = ()) -> dict | None:
    """The record at `path` (None when there is none); RecordError naming the file when it is unreadable."""
    if not path.is_file():
        return None
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RecordError(f"{path}: unreadable ({type(e).__name__}: {e})") from None
    if not isinstance(d, dict):
        raise RecordError(f"{path}: not a record (a JSON {type(d).__name__}, not an object)")
    missing = [k for k in needs if k not in d]
    if missing:
        raise RecordError(f"{path}: no {', '.join(missing)}")
    return d


def write_export_report(folder: Path, report: dict) -> Path:
    return atomic.write_json(Path(folder) / EXPORT_REPORT, report)


def read_export_report(folder: Path) -> dict | None:
    return _read(Path(folder) / EXPORT_REPORT)


def write_cleaning_report(folder: Path, report: dict) -> Path:
    return atomic.write_json(Path(folder) / CLEANING_REPORT, report)


def read_cleaning_report(folder: Path) -> dict | None:
    return _read(Path(folder) / CLEANING_REPORT)


def ink_scale(processed: Path) -> dict | None:
    """The training data's ink scale from its cleaning report (None for data cleaned without one)."""
    return (read_cleaning_report(processed) or {}).get("ink_scale") or None


def write_settings(folder: Path, settings: dict) -> Path:
    return atomic.write_json(Path(folder) / SETTINGS, settings)


def read_settings(folder: Path) -> dict | None:
    """A training run's resolved settings (None: a run written before they were recorded)."""
    return _read(Path(folder) / SETTINGS)


def write_ablation_best(folder: Path, best: dict) -> Path:
    return atomic.write_json(Path(folder) / ABLATION_BEST, best)


def read_ablation_best(folder: Path) -> dict | None:
    """The ablation's best arm: at least `arm` and `checkpoint` (relative to the run folder, or absolute)."""
    return _read(Path(folder) / ABLATION_BEST, needs=("arm", "checkpoint"))
