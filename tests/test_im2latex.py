"""The `im2latex` source: both published list forms, the formula list's carriage returns, every skipped line
counted; `python -m lib.im2latex fetch` from a file:// record the test builds, and `--render`; the `course`
source reading the same lists."""
from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lib.data import course, im2latex
from lib.data.crohme_fetch import FetchError
from lib.data.im2latex_fetch import ARCHIVE, LISTS, fetch, render_dataset, sha256, split_indices

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "im2latex" / "val.formulas.norm.txt"
FORMULAS = ["x + 1", "a ^ { 2 }", "\\frac { 1 } { 2 }\r+ y", "b _ { i }", "\\alpha = 3"]  # line 2 holds a CR


def _png(seed: int) -> bytes:
    img = np.full((30, 80), 255, np.uint8)
    img[10:20, 5 + seed:40 + seed] = 0
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


def make_dataset(d: Path, raw_form: bool = False) -> Path:
    """A folder in im2latex's layout: 5 formulas (one with a CR), 3 train / 1 dev / 1 test images."""
    (d / "formula_images_processed").mkdir(parents=True)
    (d / "im2latex_formulas.norm.lst").write_bytes("".join(f + "\n" for f in FORMULAS).encode())
    for i in range(5):
        (d / "formula_images_processed" / f"img{i}.png").write_bytes(_png(i))
    line = (lambda name, i: f"{i} {name} basic\n") if raw_form else (lambda name, i: f"{name}.png {i}\n")
    (d / "im2latex_train_filter.lst").write_text(line("img0", 0) + line("img1", 1) + line("img2", 2))
    (d / "im2latex_validate_filter.lst").write_text(line("img3", 3))
    (d / "im2latex_test_filter.lst").write_text(line("img4", 4))
    return d


def test_list_lines_in_both_published_forms():
    assert im2latex.parse_list_line("7944775fc9.png 12") == ("7944775fc9.png", 12)
    assert im2latex.parse_list_line("12 7944775fc9 basic") == ("7944775fc9.png", 12)
    assert im2latex.parse_list_line("only_a_name") is None
    assert im2latex.parse_list_line("a b c d") is None


def test_a_carriage_return_inside_a_formula_does_not_shift_the_indices(tmp_path):
    d = make_dataset(tmp_path / "ds")
    formulas = im2latex.read_formulas(d / "im2latex_formulas.norm.lst")
    assert len(formulas) == 5 and formulas[3] == "b _ { i }" and "\r" not in formulas[2]


@pytest.mark.parametrize("raw_form", [False, True])
def test_export_links_images_and_writes_labels_test_into_the_answer_key(tmp_path, raw_form):
    d = make_dataset(tmp_path / "ds", raw_form)
    r = im2latex.export_lists(d, tmp_path / "out")
    assert {s: v["kept"] for s, v in r["splits"].items()} == {"train": 3, "dev": 1, "test": 1}
    assert (tmp_path / "out" / "train" / "img1.txt").read_text().strip() == "$a ^ { 2 }$"
    assert (tmp_path / "out" / "answer_key" / "img4.txt").read_text().strip() == "$\\alpha = 3$"
    assert not (tmp_path / "out" / "test" / "img4.txt").exists() and (tmp_path / "out" / "test" / "img4.png").is_file()


def test_every_skipped_line_is_counted_with_its_reason(tmp_path):
    d = make_dataset(tmp_path / "ds")
    with open(d / "im2latex_train_filter.lst", "a") as f:
        f.write("img0.png 0\nghost.png 1\nimg3.png 99\nnonsense\n")
    r = im2latex.export_lists(d, tmp_path / "out")
    dropped = r["splits"]["train"]["dropped"]
    assert dropped == {im2latex.DUPLICATE: 1, im2latex.NO_IMAGE: 1, im2latex.NO_FORMULA: 1, im2latex.BAD_LINE: 1}
    assert r["splits"]["train"]["kept"] == 3


def test_a_folder_without_the_layout_is_refused_naming_what_is_missing(tmp_path):
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "im2latex_formulas.norm.lst").write_text("x\n")
    with pytest.raises(im2latex.LayoutError, match="the train list.*an image folder"):
        im2latex.find_layout(tmp_path / "half")
    with pytest.raises(im2latex.LayoutError, match="lib.im2latex fetch"):
        im2latex.find_dir(tmp_path / "nowhere", tmp_path)


def test_the_course_source_detects_the_list_layout(tmp_path):
    d = make_dataset(tmp_path / "course")
    assert course.check_layout(d) == d
    r = course.import_course(d, tmp_path / "out")
    assert r["layout"] == "im2latex lists" and r["splits"]["train"]["kept"] == 3


def _record(tmp_path: Path) -> Path:
    """A folder laid out like the dataset's public record: the lists and the image archive."""
    rec = make_dataset(tmp_path / "record")
    with tarfile.open(rec / ARCHIVE, "w:gz") as t:
        t.add(rec / "formula_images_processed", arcname="formula_images_processed")
    return rec


def test_fetch_from_a_file_url_builds_the_layout_and_is_idempotent(tmp_path, capsys):
    rec = _record(tmp_path)
    dest = tmp_path / "data" / "raw" / "im2latex"
    stamp = fetch(dest, rec.as_uri() + "/")
    assert stamp["images"] == 5 and set(stamp["sha256"]) == set(LISTS)
    layout = im2latex.find_layout(dest)
    assert len(list(layout["images"].glob("*.png"))) == 5
    assert not (dest.parent / ".im2latex-download").exists()
    fetch(dest, rec.as_uri())
    assert "already in" in capsys.readouterr().out
    (dest / LISTS[1]).write_text("img0.png 0\n")  # a changed file no longer matches the stamp: fetched again
    fetch(dest, rec.as_uri())
    assert (dest / LISTS[1]).read_text() == (rec / LISTS[1]).read_text()


def test_fetch_refuses_a_wrong_checksum_and_a_damaged_archive(tmp_path):
    rec = _record(tmp_path)
    with pytest.raises(FetchError, match="SHA-256"):
        fetch(tmp_path / "a", rec.as_uri(), known={LISTS[0]: "0" * 64})
    assert not (tmp_path / "a").exists()
    good = sha256(rec / LISTS[0])
    (rec / ARCHIVE).write_bytes((rec / ARCHIVE).read_bytes()[:60])
    with pytest.raises(FetchError, match="damaged"):
        fetch(tmp_path / "b", rec.as_uri(), known={LISTS[0]: good})
    assert not (tmp_path / "b").exists()


def test_split_indices_cover_every_formula_once():
    s = split_indices(100, seed=3)
    assert [len(s[k]) for k in ("train", "dev", "test")] == [80, 10, 10]
    assert sorted(s["train"] + s["dev"] + s["test"]) == list(range(100))


def test_render_builds_the_dataset_from_a_formula_list_and_reports_failures(tmp_path):
    src = tmp_path / "formulas.txt"
    src.write_text("".join(f"x _ {{ {i} }} + {i}\n" for i in range(18)) + "\\nosuchmacro { x }\n" * 2)
    dest = tmp_path / "im2latex"
    engine = "latex" if __import__("lib.data.render", fromlist=["x"]).tex_available() else "mathtext"
    report = render_dataset(dest, src, engine=engine, seed=0)
    assert report["formulas"] == 20 and report["failed"] == 2
    layout = im2latex.find_layout(dest)
    listed = [im2latex.read_split_list(p)[0] for p in layout["lists"].values()]
    assert sum(len(x) for x in listed) == 18  # the two that failed are in no list
    assert all((layout["images"] / name).is_file() for x in listed for name, _ in x)
    assert json.loads((dest / "render_report.json").read_text())["failed"] == 2
    r = im2latex.export_lists(dest, tmp_path / "out")
    assert sum(v["kept"] for v in r["splits"].values()) == 18


@pytest.mark.skipif(not SHARED.is_file(), reason=f"im2latex formulas not found at {SHARED}")
def test_the_shared_formula_list_reads_whole():
    formulas = im2latex.read_formulas(SHARED)
    assert len(formulas) == 8475 and all("\r" not in f for f in formulas)


def test_the_test_list_sets_the_order_of_the_submission(tmp_path):
    from lib.data.buckets import COURSE
    from lib.data.clean import clean

    d = make_dataset(tmp_path / "ds")
    (d / "im2latex_validate_filter.lst").write_text("img3.png 3\n")
    (d / "im2latex_test_filter.lst").write_text("img4.png 4\nimg2.png 2\nimg0.png 0\n")  # not sorted
    r = im2latex.export_lists(d, tmp_path / "out")
    assert r["test_order"] == {"from": "im2latex_test_filter.lst", "ids": 3}
    report = clean(tmp_path / "out", tmp_path / "p", 60, COURSE, workers=0)
    assert (tmp_path / "p" / "test_ids.txt").read_text().split() == ["img4.png", "img2.png", "img0.png"]
    assert report["test_order"]["from"] == "the teaching assistant's test list"
