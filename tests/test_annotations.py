"""labelImg VOC/YOLO parsing, box checks and the demo crop export (hand-made pages)."""
import csv

import numpy as np

from lib.data import annotations as ann
from lib.data.export import export_demo
from tests.data_fixtures import make_raw_demo, voc_xml


def test_parse_voc_is_one_based_and_in_object_order(tmp_path):
    p = tmp_path / "p.xml"
    p.write_text(voc_xml("p", (100, 50), [(10, 5, 40, 25), (0, 0, 20, 10), (30, 5, 31, 9)]))
    boxes = ann.parse_voc(p)
    assert [(b.k, b.x0, b.y0, b.x1, b.y1) for b in boxes[:2]] == [(0, 10, 5, 40, 25), (1, 0, 0, 20, 10)]
    assert boxes[2].problem == ann.ZERO_AREA      # xmin == xmax in the file: no width


def test_parse_yolo_normalised_centre_boxes(tmp_path):
    p = tmp_path / "p.txt"
    p.write_text("0 0.5 0.5 0.2 0.4\nnot a box\n")
    a, bad = ann.parse_yolo(p, 200, 100, ["formula"])
    assert (a.x0, a.y0, a.x1, a.y1, a.name) == (80, 30, 120, 70, "formula")
    assert bad.problem == ann.BAD_BOX and bad.k == 1


def test_check_boxes_clamps_and_marks_degenerate():
    boxes = [ann.Box(0, -5, 10, 50, 30), ann.Box(1, 20, 20, 20, 40), ann.Box(2, 300, 10, 400, 30),
             ann.Box(3, -4, 10, 50, 31), ann.Box(4, 10, 10, 60, 11.5)]
    ann.check_boxes(boxes, 200, 100)
    assert boxes[0].problem is None and boxes[0].clamped and boxes[0].x0 == 0
    assert [b.problem for b in boxes[1:]] == [ann.ZERO_AREA, ann.OUTSIDE, ann.DUPLICATE, ann.TINY]


def test_crop_keeps_a_margin_inside_the_page():
    page = np.arange(100 * 200, dtype=np.uint32).reshape(100, 200).astype(np.uint8)
    c = ann.crop(page, ann.Box(0, 2, 10, 50, 30), margin=6)
    assert c.shape == (20 + 12, 48 + 2 + 6)   # the left margin is cut by the page edge


def test_export_demo_writes_crops_labels_manifest_and_counts(tmp_path):
    raw = make_raw_demo(tmp_path / "raw")
    out = tmp_path / "interim"
    report = export_demo(raw, out, workers=0)
    train = report["splits"]["train"]
    assert train["dropped"] == {ann.ZERO_AREA: 1, ann.OUTSIDE: 1, ann.DUPLICATE: 1}
    for s in report["splits"].values():
        assert s["kept"] + sum(s["dropped"].values()) == s["seen"]
    assert report["splits"]["test"]["kept"] == 3   # the YOLO page
    assert sorted(p.name for p in (out / "test").glob("*.png")) == [f"page_0002_0{k}.png" for k in range(3)]
    # every OCR label travels with its raw bytes, also those of skipped boxes
    assert (out / "train" / "page_0000_02.txt").read_bytes() == (raw / "ocr/train/page_0000_02.txt").read_bytes()
    assert (out / "train" / "page_0000_08.txt").exists() and not (out / "train" / "page_0000_08.png").exists()
    assert len(list((out / "answer_key").glob("*.txt"))) == 3
    rows = list(csv.DictReader((out / "manifest.csv").open()))
    assert len(rows) == report["crops"] == 8 + 3 + 3
    assert {r["format"] for r in rows} == {"voc", "yolo"} and all(r["label"] for r in rows if r["split"] != "test")
