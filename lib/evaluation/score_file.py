"""Score a prediction file against an answer key: `python -m lib.evaluate --pred FILE --ref FILE [--json]`.

Both files hold one formula per line (tokens separated by spaces, "-" for no formula), line i of the
prediction answering line i of the reference. With --json the last printed line is a JSON object.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import metrics


class InputError(ValueError):
    """A prediction or reference file that cannot be scored; the message names the file(s)."""


def read_lines(path: str | Path) -> list[str]:
    """The lines of a UTF-8 text file (BOM and CRLF tolerated; a final newline ends the last line)."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a file") from None
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text (byte {e.start}: {e.reason})") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text:
        return []
    lines = text.split("\n")
    return lines[:-1] if lines[-1] == "" else lines


def evaluate_files(pred: str | Path, ref: str | Path) -> dict:
    """Metrics of a prediction file against a reference file of the same number of lines."""
    hyp_lines, ref_lines = read_lines(pred), read_lines(ref)
    if len(hyp_lines) != len(ref_lines):
        raise InputError(f"line counts differ: {pred} has {len(hyp_lines)} lines, "
                         f"{ref} has {len(ref_lines)} lines (one line per test image in both)")
    if not ref_lines:
        raise InputError(f"nothing to score: {pred} and {ref} are both empty")
    return metrics.score_lines(ref_lines, hyp_lines)


def json_line(result: dict) -> str:
    """One-line JSON of the metrics (floats rounded to 6 decimals)."""
    return json.dumps(metrics.rounded(result))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lib.evaluate", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pred", required=True, type=Path, help="prediction file (result.txt)")
    ap.add_argument("--ref", required=True, type=Path, help="reference file (answer_key.txt)")
    ap.add_argument("--json", action="store_true", help="end with one JSON line of all metrics")
    a = ap.parse_args(argv)
    try:
        result = evaluate_files(a.pred, a.ref)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"prediction: {a.pred}\nreference:  {a.ref}")
    print(metrics.format_table(result))
    if a.json:
        print(json_line(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
