"""Tiny hand-made inputs in the raw demo layout (README, *The demo data set*) and InkML files, with known defects."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

# (latex truth, OCR label bytes or None for test, label defect)
FORMULAS = [
    ("x ^ { 2 } + 1", b"$x^2 + 1$", "none"),
    ("\\frac { a } { b }", b"$\\frac a b$", "none"),
    ("y \\leq 3", "$ y ≤ 3 $".encode("gbk"), "gbk"),
    ("\\sin x", b"\xef\xbb\xbf$\\sin x$", "bom"),
    ("a + b", b"error mathpix", "error"),
    ("x = 1", b"$\\begin{array}{l} x = 1 \\\\ y = 2 \\end{array}$", "multiline"),
    ("x > 0", "$\\text{解} x > 0$".encode("utf-8"), "chinese"),
    ("z", b"", "empty"),
]


def draw_formula(draw: ImageDraw.ImageDraw, x: int, y: int, text: str) -> tuple[int, int, int, int]:
    """Dark strokes standing in for a formula; returns its box (0-based, exclusive)."""
    w = 20 + 9 * len(text)
    for i in range(len(text)):
        draw.line([(x + 10 + 9 * i, y + 6), (x + 14 + 9 * i, y + 24)], fill=10, width=2)
    return x, y, x + w, y + 30


def voc_xml(name: str, size: tuple[int, int], boxes: list[tuple[float, float, float, float]]) -> str:
    objs = "".join(f"<object><name>formula</name><pose>Unspecified</pose><truncated>0</truncated>"
                   f"<difficult>0</difficult><bndbox><xmin>{b[0] + 1}</xmin><ymin>{b[1] + 1}</ymin>"
                   f"<xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>" for b in boxes)
    return (f"<annotation><folder>pages</folder><filename>{name}.png</filename><path>{name}.png</path>"
            f"<size><width>{size[0]}</width><height>{size[1]}</height><depth>1</depth></size>{objs}</annotation>")


def make_raw_demo(root: Path, yolo_test_page: bool = True) -> Path:
    """Pages train/dev/test; train page 0 has every label defect and a zero-area, outside and duplicate box."""
    truth = []
    plan = {"train": ["page_0000"], "dev": ["page_0001"], "test": ["page_0002"]}
    for split, pages in plan.items():
        folder = root / "pages" / split
        folder.mkdir(parents=True, exist_ok=True)
        for page in pages:
            img = Image.new("L", (600, 520), 235)
            draw = ImageDraw.Draw(img)
            n = len(FORMULAS) if split == "train" else 3
            boxes = [draw_formula(draw, 30, 20 + 55 * k, FORMULAS[k][0]) for k in range(n)]
            if split == "train":
                boxes += [(100, 480, 100, 500), (640, 10, 700, 40), boxes[0]]  # zero area, outside, duplicate
            img.save(folder / f"{page}.png")
            if split == "test" and yolo_test_page:
                lines = [f"0 {(b[0] + b[2]) / 1200:.6f} {(b[1] + b[3]) / 1040:.6f} {(b[2] - b[0]) / 600:.6f} "
                         f"{(b[3] - b[1]) / 520:.6f}" for b in boxes]
                (folder / f"{page}.txt").write_text("\n".join(lines) + "\n")
                (folder / "classes.txt").write_text("formula\n")
            else:
                (folder / f"{page}.xml").write_text(voc_xml(page, img.size, boxes))
            for k in range(len(boxes)):
                latex, label, defect = FORMULAS[k % len(FORMULAS)]
                cid = f"{page}_{k:02d}"
                if split == "test":
                    key = root / "answer_key" / "test" / f"{cid}.txt"
                    key.parent.mkdir(parents=True, exist_ok=True)
                    key.write_text(latex + "\n")
                else:
                    ocr = root / "ocr" / split / f"{cid}.txt"
                    ocr.parent.mkdir(parents=True, exist_ok=True)
                    ocr.write_bytes(label if split == "train" else f"${latex}$".encode())
                truth.append({"page": page, "split": split, "k": k, "latex": latex, "label_defect": defect})
    (root / "truth.jsonl").write_text("".join(json.dumps(t) + "\n" for t in truth))
    (root / "synth.json").write_text(json.dumps({"pages": 3, "seed": 0, "version": "fixture"}))
    return root


TRACE = "10 10, 12 14, 14 18, 16 22"


def inkml_text(truth: str | None = "$x^2$", traces: list[str] | None = None, groups: bool = True) -> str:
    """A small InkML document; `truth=None` leaves the truth annotation out."""
    traces = [TRACE, "20 10, 30 10", "22 4, 22 16"] if traces is None else traces
    ann = f'<annotation type="truth">{truth}</annotation>' if truth is not None else ""
    body = "".join(f'<trace id="{i}">{t}</trace>' for i, t in enumerate(traces))
    tg = ""
    if groups:
        tg = ('<traceGroup xml:id="g"><annotation type="truth">Segmentation</annotation>' +
              "".join(f'<traceGroup xml:id="g{i}"><traceView traceDataRef="{i}"/></traceGroup>'
                      for i in range(len(traces))) + "</traceGroup>")
    return f'<ink xmlns="http://www.w3.org/2003/InkML">{ann}{body}{tg}</ink>'


def make_crohme(root: Path, n_train: int = 6, n_test: int = 3) -> Path:
    """A CROHME-shaped folder: train/<device>/*.inkml and test2014/*.inkml."""
    for i in range(n_train):
        p = root / "train" / ("DevA" if i % 2 else "DevB") / f"f{i}.inkml"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(inkml_text(f"$x_{i} + {i}$", [TRACE, f"{30 + i} 10, {40 + i} 25"]))
    (root / "test2014").mkdir(parents=True, exist_ok=True)
    for i in range(n_test):
        (root / "test2014" / f"t{i}.inkml").write_text(inkml_text(f"$\\frac{{{i}}}{{2}}$"))
    return root


def noisy_image(path: Path, size: tuple[int, int] = (120, 40)) -> Path:
    """A small grey image with a dark bar (a stand-in formula crop)."""
    arr = np.full(size[::-1], 250, dtype=np.uint8)
    arr[10:30, 10:size[0] - 10] = 20
    Image.fromarray(arr).save(path)
    return path
