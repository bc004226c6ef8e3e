"""Every kind of bad input is skipped and counted with its reason, or refused with an error naming the file."""
import io

import pytest
from PIL import Image

from lib.data import annotations as ann
from lib.data import clean, course, crohme, inkml, ocr_labels
from lib.data.buckets import COURSE
from lib.data.export import export_demo
from tests.data_fixtures import TRACE, inkml_text, make_crohme, make_raw_demo, noisy_image


def _clean(interim, tmp_path):
    return clean.clean(interim, tmp_path / "processed", 60, COURSE, workers=0)


@pytest.fixture
def interim(tmp_path):
    """A tiny interim folder: two good train crops with labels, one dev, one test."""
    d = tmp_path / "interim"
    for split, cid in (("train", "a"), ("train", "b"), ("dev", "c"), ("test", "t")):
        (d / split).mkdir(parents=True, exist_ok=True)
        noisy_image(d / split / f"{cid}.png")
        if split != "test":
            (d / split / f"{cid}.txt").write_text("$x+1$")
    return d


def _png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("L", (80, 30), 0).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("payload", [b"not an image at all", _png_bytes()[:40]], ids=["corrupt", "truncated"])
def test_bad_image_is_dropped_with_reason_and_kept_in_test_ids(interim, tmp_path, payload):
    (interim / "train" / "bad.png").write_bytes(payload)
    (interim / "train" / "bad.txt").write_text("$y$")
    (interim / "test" / "broken.png").write_bytes(payload)
    report = _clean(interim, tmp_path)
    train = report["splits"]["train"]
    assert train["dropped"] == {clean.UNREADABLE_IMAGE: 1} and "bad.png" in train["examples"][clean.UNREADABLE_IMAGE][0]
    assert report["splits"]["test"]["dropped"] == {clean.UNREADABLE_IMAGE: 1}
    ids = (tmp_path / "processed" / "test_ids.txt").read_text().split()
    assert ids == ["broken.png", "t.png"]   # prediction writes "-" for the unreadable one


@pytest.mark.parametrize("payload", [b"garbage", _png_bytes()[:40]], ids=["corrupt", "truncated"])
def test_bad_page_image_is_counted_with_its_boxes(tmp_path, payload):
    raw = make_raw_demo(tmp_path / "raw")
    (raw / "pages" / "dev" / "page_0001.png").write_bytes(payload)
    report = export_demo(raw, tmp_path / "out", workers=0)
    assert report["pages"]["pages_dev"]["dropped"] == {ann.UNREADABLE_PAGE: 1}
    assert "page_0001.png" in report["pages"]["pages_dev"]["examples"][ann.UNREADABLE_PAGE][0]
    assert report["splits"]["dev"]["dropped"] == {ann.UNREADABLE_PAGE: 3}


def test_xml_that_does_not_parse(tmp_path):
    raw = make_raw_demo(tmp_path / "raw")
    bad = raw / "pages" / "train" / "page_0000.xml"
    bad.write_text("<annotation><object><bndbox>")
    with pytest.raises(ann.AnnotationError, match="page_0000.xml"):
        ann.parse_voc(bad)
    report = export_demo(raw, tmp_path / "out", workers=0)
    assert report["pages"]["pages_train"]["dropped"] == {ann.BAD_ANNOTATION: 1}
    assert "page_0000.xml" in report["pages"]["pages_train"]["examples"][ann.BAD_ANNOTATION][0]


def test_box_outside_page_and_zero_area_box(tmp_path):
    report = export_demo(make_raw_demo(tmp_path / "raw"), tmp_path / "out", workers=0)
    dropped = report["splits"]["train"]["dropped"]
    assert dropped[ann.OUTSIDE] == 1 and dropped[ann.ZERO_AREA] == 1


def test_label_in_gbk_and_with_bom_are_read(interim, tmp_path):
    (interim / "train" / "a.txt").write_bytes("$x ≤ 3$".encode("gbk"))
    (interim / "train" / "b.txt").write_bytes("\ufeff$\\sin x$".encode("utf-8"))
    assert ocr_labels.read_label(interim / "train" / "a.txt") == ("$x ≤ 3$", "gb18030")
    assert ocr_labels.read_label(interim / "train" / "b.txt")[1] == "utf-8-sig"
    report = _clean(interim, tmp_path)
    assert report["splits"]["train"]["kept"] == 2
    assert report["label_encodings"]["gb18030"] == 1 and report["label_encodings"]["utf-8-sig"] == 1
    lines = (tmp_path / "processed" / "formulas.norm.lst").read_text(encoding="utf-8").splitlines()
    assert "x \\leq 3" in lines and "\\sin x" in lines


def test_undecodable_label_is_dropped_with_reason(interim, tmp_path):
    (interim / "train" / "a.txt").write_bytes(b"\xff\xfe\x00\xd8 broken")  # UTF-16 BOM, invalid payload
    report = _clean(interim, tmp_path)
    assert report["splits"]["train"]["dropped"] == {ocr_labels.UNDECODABLE: 1}


def test_label_without_image_and_image_without_label(interim, tmp_path):
    (interim / "train" / "orphan.txt").write_text("$z$")
    noisy_image(interim / "dev" / "lonely.png")
    report = _clean(interim, tmp_path)
    assert report["splits"]["train"]["dropped"] == {clean.LABEL_WITHOUT_IMAGE: 1}
    assert report["splits"]["dev"]["dropped"] == {clean.IMAGE_WITHOUT_LABEL: 1}
    assert report["splits"]["train"]["examples"][clean.LABEL_WITHOUT_IMAGE] == ["orphan.txt"]


def test_inkml_without_truth_and_with_empty_traces(tmp_path):
    src = make_crohme(tmp_path / "c", n_train=2, n_test=1)
    dev = src / "train" / "DevA"
    (dev / "no_truth.inkml").write_text(inkml_text(None))
    (dev / "one_empty.inkml").write_text(inkml_text("$x$", [TRACE, "", "20 10, 30 10"]))
    (dev / "all_empty.inkml").write_text(inkml_text("$x$", ["", " "]))
    (dev / "garbage.inkml").write_text(inkml_text("$x$", ["1 2, a b"]))
    (dev / "not_xml.inkml").write_text("<ink><trace>1 2")
    for name, reason in (("no_truth", inkml.NO_TRUTH), ("all_empty", inkml.NO_TRACES),
                         ("garbage", inkml.BAD_TRACE), ("not_xml", inkml.PARSE_ERROR)):
        r = inkml.render_file((str(dev / f"{name}.inkml"), str(tmp_path / f"{name}.png"), ""))
        assert not r["ok"] and r["reason"] == reason and f"{name}.inkml" in r["error"]
    ok = inkml.render_file((str(dev / "one_empty.inkml"), str(tmp_path / "one.png"), ""))
    assert ok["ok"] and ok["empty_traces"] == 1          # the empty stroke is dropped (and counted), ink kept
    report = crohme.export_crohme(src, tmp_path / "out", None, None, 0.0, workers=0)
    assert report["splits"]["train"]["dropped"] == {inkml.NO_TRUTH: 1, inkml.NO_TRACES: 1,
                                                    inkml.BAD_TRACE: 1, inkml.PARSE_ERROR: 1}
    assert report["render"]["empty_traces_dropped"] == 1


def test_course_layout_errors_name_the_problem(tmp_path):
    with pytest.raises(course.LayoutError, match="course_dir"):
        course.check_layout("")
    (tmp_path / "c" / "train").mkdir(parents=True)
    with pytest.raises(course.LayoutError, match="missing dev/, test/"):
        course.check_layout(tmp_path / "c")
    (tmp_path / "c" / "dev").mkdir()
    (tmp_path / "c" / "test").mkdir()
    with pytest.raises(course.LayoutError, match="no images"):
        course.check_layout(tmp_path / "c")
