"""The submission folder: test-id order, "-" lines, metrics.json, the zip."""
import json
import zipfile

import pytest

from lib.evaluation import score_file as evaluate
from lib.evaluation import submission
from lib.evaluation.submission import SubmissionError


def test_result_lines_order_and_dashes():
    ids = ["p_00.png", "p_01.png", "p_02.png", "p_03.png"]
    preds = {"p_03.png": "a  +\tb", "p_00.png": ["x", "^", "2"], "p_02.png": "  ", "zz.png": "q"}
    lines, report = submission.result_lines(ids, preds)
    assert lines == ["x ^ 2", "-", "-", "a + b"]
    assert report["predicted"] == 2 and report["dash_not_decoded"] == 1
    assert report["dash_empty_or_unreadable"] == 1 and report["ignored_unknown_ids"] == 1
    assert report["examples"]["dash_not_decoded"] == ["p_01.png"]


def test_clean_line():
    assert submission.clean_line(None) == "-" and submission.clean_line("") == "-"
    assert submission.clean_line([]) == "-" and submission.clean_line(["a", " ", "b"]) == "a b"


def test_write_submission_metrics_and_zip(tmp_path):
    folder = tmp_path / "run" / "submission"
    ids = ["a.png", "b.png", "c.png"]
    report = submission.write_submission(folder, ids, {"a.png": "x ^ { 2 } + \\alpha y", "c.png": ""},
                                         metrics={"bleu4": 1.5})
    text = (folder / "result.txt").read_text(encoding="utf-8")
    assert text == "x ^ { 2 } + \\alpha y\n-\n-\n" and report["lines"] == 3
    assert (folder / "result_compact.txt").read_text() == "x^{2}+\\alpha y\n-\n-\n"  # as typed, same order
    assert json.loads((folder / "metrics.json").read_text())["bleu4"] == 1.5
    (folder / "plot.png").write_bytes(b"\x89PNG")
    z = submission.zip_folder(folder, tmp_path / "run" / "submission.zip")
    with zipfile.ZipFile(z) as zf:
        assert sorted(zf.namelist()) == ["metrics.json", "plot.png", "result.txt", "result_compact.txt"]
        assert zf.read("result.txt").decode() == text
    # the result file scores with the evaluate reader: three lines, "-" = empty
    assert len(evaluate.read_lines(folder / "result.txt")) == 3


def test_check_result_refuses_wrong_length_and_blank(tmp_path):
    p = tmp_path / "result.txt"
    p.write_text("a\n-\n", encoding="utf-8")
    assert submission.check_result(p, 2) == ["a", "-"]
    with pytest.raises(SubmissionError, match="2 lines, but the test split has 3"):
        submission.check_result(p, 3)
    p.write_text("a\n\n", encoding="utf-8")
    with pytest.raises(SubmissionError, match="line 2 is blank"):
        submission.check_result(p, 2)
    with pytest.raises(SubmissionError, match="blank or holds a line break"):
        submission.write_result(["a", "b\nc"], tmp_path / "x.txt")


def test_read_test_ids(tmp_path):
    p = tmp_path / "test_ids.txt"
    with pytest.raises(SubmissionError, match="no test id list"):
        submission.read_test_ids(p)
    p.write_text("b.png\na.png\n\n", encoding="utf-8")
    assert submission.read_test_ids(p) == ["b.png", "a.png"]  # file order is the submission order
    p.write_text("a.png\na.png\n", encoding="utf-8")
    with pytest.raises(SubmissionError, match="duplicate"):
        submission.read_test_ids(p)


def test_zip_needs_a_result(tmp_path):
    (tmp_path / "sub").mkdir()
    with pytest.raises(SubmissionError, match="no result.txt"):
        submission.zip_folder(tmp_path / "sub", tmp_path / "s.zip")
