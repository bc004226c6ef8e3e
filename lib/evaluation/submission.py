"""The submission folder: result.txt in test-id order ("-" where needed), metrics.json, and its zip."""
from __future__ import annotations

import zipfile
from collections import Counter
from pathlib import Path
from typing import Mapping, Sequence

from ..data.latex import compact
from ..run import atomic
from .metrics import NO_FORMULA

RESULT_NAME = "result.txt"
COMPACT_NAME = "result_compact.txt"  # result.txt's formulas without the spaces between tokens (`x^{2}`)
METRICS_NAME = "metrics.json"


class SubmissionError(ValueError):
    """A test id list or result file that cannot make a valid submission; the message names the file."""


def read_test_ids(path: str | Path) -> list[str]:
    """Test image names, one per line, in submission order; refuses duplicates and an empty list."""
    path = Path(path)
    if not path.is_file():
        raise SubmissionError(f"{path}: no test id list (run notebook 02 first)")
    ids = [line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines() if line.strip()]
    if not ids:
        raise SubmissionError(f"{path}: the test id list is empty")
    dup = [i for i, c in Counter(ids).items() if c > 1]
    if dup:
        raise SubmissionError(f"{path}: duplicate test ids, e.g. {dup[:3]}")
    return ids


def clean_line(prediction: str | Sequence[str] | None) -> str:
    """One result line: tokens joined by single spaces; "-" for None, an empty or a blank prediction."""
    if prediction is None:
        return NO_FORMULA
    toks = prediction.split() if isinstance(prediction, str) else [t for t in prediction if t.strip()]
    return " ".join(toks) if toks else NO_FORMULA


def result_lines(test_ids: Sequence[str], predictions: Mapping[str, str | Sequence[str] | None]
                 ) -> tuple[list[str], dict]:
    """Lines in `test_ids` order and a report counting each kind of "-" line.

    `predictions` maps test id -> prediction; an id absent from it (not decoded, e.g. past the
    profile's eval_limit) and a prediction without tokens (unreadable image, or the model emitted
    nothing) both become "-"; predictions for ids not in the list are ignored and counted.
    """
    lines, missing, empty = [], [], []
    for tid in test_ids:
        if tid not in predictions:
            missing.append(tid)
            lines.append(NO_FORMULA)
            continue
        line = clean_line(predictions[tid])
        if line == NO_FORMULA:
            empty.append(tid)
        lines.append(line)
    known = set(test_ids)
    extra = sorted(k for k in predictions if k not in known)
    report = {"lines": len(lines), "predicted": len(lines) - len(missing) - len(empty),
              "dash_not_decoded": len(missing), "dash_empty_or_unreadable": len(empty),
              "ignored_unknown_ids": len(extra),
              "examples": {"dash_not_decoded": missing[:5], "dash_empty_or_unreadable": empty[:5],
                           "ignored_unknown_ids": extra[:5]}}
    return lines, report


def write_result(lines: Sequence[str], path: str | Path) -> Path:
    """Write result.txt atomically: one line per test image, final newline."""
    bad = [i for i, line in enumerate(lines) if "\n" in line or "\r" in line or not line.strip()]
    if bad:
        raise SubmissionError(f"{path}: line {bad[0] + 1} is blank or holds a line break")
    return atomic.write_text(path, "".join(f"{line}\n" for line in lines))


def check_result(path: str | Path, n_expected: int) -> list[str]:
    """Read back a result file and check it has one non-blank line per test image."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    if len(lines) != n_expected:
        raise SubmissionError(f"{path}: {len(lines)} lines, but the test split has {n_expected} images")
    blank = next((i for i, line in enumerate(lines) if not line.strip()), None)
    if blank is not None:
        raise SubmissionError(f"{path}: line {blank + 1} is blank (write '-' for no formula)")
    return lines


def write_submission(folder: str | Path, test_ids: Sequence[str],
                     predictions: Mapping[str, str | Sequence[str] | None],
                     metrics: dict | None = None) -> dict:
    """Write result.txt (and metrics.json when given) into `folder`; returns the line report."""
    folder = Path(folder)
    lines, report = result_lines(test_ids, predictions)
    write_result(lines, folder / RESULT_NAME)
    check_result(folder / RESULT_NAME, len(test_ids))
    write_result([compact(line) for line in lines], folder / COMPACT_NAME)  # the same formulas as typed
    if metrics is not None:
        atomic.write_json(folder / METRICS_NAME, metrics)
    return report


def zip_folder(folder: str | Path, zip_path: str | Path) -> Path:
    """Zip every file of `folder` (names relative to it, so result.txt sits at the top) atomically."""
    folder, zip_path = Path(folder), Path(zip_path)
    if not (folder / RESULT_NAME).is_file():
        raise SubmissionError(f"{folder}: no {RESULT_NAME} to submit")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))

    def write(f) -> None:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for p in files:
                zf.write(p, p.relative_to(folder).as_posix())

    return atomic.write_with(zip_path, write)
