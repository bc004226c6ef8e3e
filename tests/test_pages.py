"""A student's own labelImg pages: the annotation check names every problem with its file and box (VOC and YOLO
files the test writes), draws the pages, and the `pages` source crops them through notebook 01."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lib.data import annotation_check as check
from lib.data import annotations as ann

ROOT = Path(__file__).resolve().parent.parent
W, H = 400, 300
# three "formulas" of ink on the page (x0, y0, x1, y1)
INK = [(20, 20, 120, 50), (200, 20, 300, 50), (20, 150, 150, 190)]


def page(path: Path) -> Path:
    arr = np.full((H, W), 245, dtype=np.uint8)
    for x0, y0, x1, y1 in INK:
        arr[y0 + 5:y1 - 5, x0 + 5:x1 - 5:7] = 15            # strokes, not a solid block
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def voc(path: Path, boxes: list[tuple]) -> Path:
    objects = "".join(f"<object><name>formula</name><bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin><xmax>{x1}</xmax>"
                      f"<ymax>{y1}</ymax></bndbox></object>" for x0, y0, x1, y1 in boxes)
    path.write_text(f"<annotation><filename>{path.stem}.png</filename><size><width>{W}</width><height>{H}</height>"
                    f"</size>{objects}</annotation>")
    return path


def yolo(path: Path, boxes: list[tuple]) -> Path:
    lines = [f"0 {(x0 + x1) / 2 / W:.5f} {(y0 + y1) / 2 / H:.5f} {(x1 - x0) / W:.5f} {(y1 - y0) / H:.5f}"
             for x0, y0, x1, y1 in boxes]
    path.write_text("\n".join(lines) + "\n")
    (path.parent / "classes.txt").write_text("formula\n")
    return path


def student_folder(root: Path) -> Path:
    """Pages with one problem each (and two good ones), in both labelImg formats."""
    page(root / "good.png")
    voc(root / "good.xml", [INK[0], INK[1]])
    page(root / "messy.png")
    voc(root / "messy.xml", [
        INK[0],                              # 0 fine
        (60, 10, 60, 40),                    # 1 zero width
        (500, 10, 600, 40),                  # 2 outside the page
        (200, 20, 201, 21),                  # 3 tiny
        (21, 21, 120, 50),                   # 4 INK[0] boxed twice
        (300, 220, 380, 280),                # 5 blank paper
        (100, 150, 160, 190),                # 6 overlaps box 7 (a warning: both are cropped)
        (20, 150, 110, 190),                 # 7
        (280, 20, 420, 50),                  # 8 partly outside (a warning: cut to the page)
    ])
    page(root / "yolo_page.png")
    yolo(root / "yolo_page.txt", [INK[2]])
    page(root / "forgotten.png")                                     # no annotation
    voc(root / "orphan.xml", [INK[0]])                               # no page
    page(root / "nothing.png")
    voc(root / "nothing.xml", [])                                    # a page with no box
    page(root / "broken.png")
    (root / "broken.xml").write_text("<annotation><object>")         # not XML
    return root


def test_the_check_names_every_problem_with_its_file_and_box(tmp_path):
    folder = student_folder(tmp_path / "pages")
    report = check.check_folder(folder, tmp_path / "gallery")
    by = {(Path(q["where"].split(" box")[0]).name, q["problem"]): q for q in report["problems"]}
    expected_errors = {("messy.xml", ann.ZERO_AREA), ("messy.xml", ann.OUTSIDE), ("messy.xml", ann.TINY),
                       ("messy.xml", ann.DUPLICATE), ("messy.xml", ann.EMPTY), ("forgotten.png", check.NO_ANNOTATION),
                       ("orphan.xml", check.NO_PAGE), ("nothing.xml", check.NO_BOXES),
                       ("broken.xml", ann.BAD_ANNOTATION)}
    assert expected_errors <= set(by), sorted(set(by))
    assert by[("messy.xml", ann.ZERO_AREA)]["boxes"] == [1] and "box 1" in by[("messy.xml", ann.ZERO_AREA)]["where"]
    assert by[("messy.xml", ann.EMPTY)]["boxes"] == [5] and "300, 220, 380, 280" in by[("messy.xml", ann.EMPTY)]["detail"]
    overlap = by[("messy.xml", check.OVERLAP)]
    assert overlap["level"] == "warning" and overlap["boxes"] == [6, 7] and "boxes 6 and 7" in overlap["where"]
    assert by[("messy.xml", check.PARTLY_OUTSIDE)]["level"] == "warning"
    assert all(q["level"] == "error" for k, q in by.items() if k in expected_errors)
    assert report["errors"] == sum(q["level"] == "error" for q in report["problems"]) >= len(expected_errors)
    good = [q for q in report["problems"] if "good.xml" in q["where"] or "yolo_page" in q["where"]]
    assert good == []                                                 # both formats read without a complaint
    assert report["usable_boxes"] == 2 + 4 + 1                        # good 2, messy 0/6/7/8, yolo 1
    drawn = sorted(p.name for p in (tmp_path / "gallery").glob("*.png"))
    assert drawn == ["good.png", "messy.png", "yolo_page.png"]
    text = check.format_report(report)
    assert "error: " in text and "messy.xml box 5" in text and "box_without_ink" in text


def test_the_command_exits_1_on_errors_and_0_on_clean_pages(tmp_path):
    folder = student_folder(tmp_path / "pages")
    run = [sys.executable, "-m", "lib.pages", "check"]
    bad = subprocess.run(run + [str(folder)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "messy.xml box 2 (formula): box_outside_page" in bad.stdout
    assert (tmp_path / "pages_check" / "messy.png").is_file()          # the gallery beside the folder
    clean = tmp_path / "clean"
    page(clean / "train" / "p1.png")
    voc(clean / "train" / "p1.xml", INK)
    ok = subprocess.run(run + [str(clean), "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert json.loads(ok.stdout.strip().splitlines()[-1])["usable_boxes"] == 3


def test_the_pages_source_crops_a_students_pages_through_notebook_01(tmp_path):
    folder = student_folder(tmp_path / "pages")
    env = {"IM2LATEX_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    cmd = [sys.executable, "-m", "lib.series", "--profile", "smoke", "--data", "pages", "-p", f"pages_dir={folder}"]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "notebook 01 only" in r.stdout and "[02]" not in r.stdout
    interim = tmp_path / "home" / "data" / "interim" / "pages"
    report = json.loads(next(interim.rglob("export_report.json")).read_text())
    assert report["source"] == "pages" and report["crops"] == 7 and report["labels"]["train"] == 0
    assert report["splits"]["train"]["dropped"][ann.EMPTY] == 1
    assert report["pages"]["pages_train"]["dropped"][check.NO_ANNOTATION] == 1
    rows = list(csv.DictReader(next(interim.rglob("manifest.csv")).open()))
    assert len(rows) == 7 and {r["source"] for r in rows} == {"good.png", "messy.png", "yolo_page.png"}
    assert all((next(interim.rglob("manifest.csv")).parent / "train" / f"{r['crop_id']}.png").is_file() for r in rows)


def test_pages_need_a_folder_and_are_not_cleaned(tmp_path):
    from lib.data.export import pages_folder

    with pytest.raises(FileNotFoundError, match="pages_dir"):
        pages_folder("")
    with pytest.raises(FileNotFoundError, match="no such folder"):
        pages_folder(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no page images"):
        pages_folder(tmp_path / "empty")
