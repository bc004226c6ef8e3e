"""Your own labelImg pages: `python -m lib.pages check DIR [--gallery OUT] [--json]`.

`check` names every problem of the boxes in DIR (labelImg's VOC `.xml` or YOLO `.txt` + `classes.txt` beside the
page images, flat or in `train/ dev/ test/`) with its file and box, draws each page with its numbered boxes into
OUT (default DIR/../<DIR name>_check), and exits 1 when a box gives no usable crop (0 when only warnings remain).
The crops themselves: `python -m lib.series --data pages -p pages_dir=DIR` (notebook 01).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .data.annotation_check import check_folder, format_report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lib.pages", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check", help="name every problem of the boxes, draw each page with its boxes")
    c.add_argument("folder", type=Path)
    c.add_argument("--gallery", type=Path, default=None, help="where the drawn pages go")
    c.add_argument("--json", action="store_true", help="also print the report as one JSON line")
    a = ap.parse_args(argv)
    folder = a.folder.expanduser()
    if not folder.is_dir():
        print(f"{folder}: no such folder", file=sys.stderr)
        return 2
    gallery = a.gallery or folder.resolve().parent / f"{folder.resolve().name}_check"
    report = check_folder(folder, gallery)
    print(format_report(report))
    if a.json:
        print(json.dumps(report))
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
