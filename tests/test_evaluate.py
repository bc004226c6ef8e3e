"""`python -m lib.evaluate`: printed metrics, the --json last line, refusal of mismatched files."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from lib.evaluation import metrics
from lib.evaluation import score_file as evaluate

ROOT = Path(__file__).resolve().parent.parent


def write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


def test_json_last_line_in_process(tmp_path, capsys):
    ref = write(tmp_path / "answer_key.txt", "a + b = c\n-\nx ^ { 2 }\n")
    pred = write(tmp_path / "result.txt", "a + b = d\n-\n-\n")
    assert evaluate.main(["--pred", str(pred), "--ref", str(ref), "--json"]) == 0
    out = capsys.readouterr().out.splitlines()
    got = json.loads(out[-1])
    assert list(got) == list(metrics.KEYS) and got["n"] == 3
    want = metrics.score_lines(["a + b = c", "-", "x ^ { 2 }"], ["a + b = d", "-", "-"])
    for k in metrics.KEYS:
        assert got[k] == pytest.approx(want[k], abs=1e-6)
    assert got["exact_match"] == pytest.approx(100 / 3, abs=1e-6) and 0 <= got["cer"] <= 1
    assert any(line.startswith("course_score") for line in out)


def test_cli_subprocess_and_length_mismatch(tmp_path):
    ref = write(tmp_path / "ref.txt", "a\nb\nc\n")
    pred = write(tmp_path / "pred.txt", "a\nb\n")
    cmd = [sys.executable, "-m", "lib.evaluate", "--pred", str(pred), "--ref", str(ref), "--json"]
    bad = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode != 0 and bad.stdout == ""
    assert str(pred) in bad.stderr and str(ref) in bad.stderr
    assert "2 lines" in bad.stderr and "3 lines" in bad.stderr
    write(pred, "a\nb\nc")  # no final newline: still three lines
    ok = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout.strip().splitlines()[-1])["exact_match"] == 100


def test_read_lines_tolerates_bom_crlf_and_keeps_blank_lines(tmp_path):
    p = tmp_path / "r.txt"
    p.write_bytes(b"\xef\xbb\xbfa + b\r\n-\r\n\r\nc\r\n")
    assert evaluate.read_lines(p) == ["a + b", "-", "", "c"]
    assert metrics.tokens(evaluate.read_lines(p)[2]) == []  # a blank line is an empty prediction


@pytest.mark.parametrize("content, message", [(None, "no such file"), (b"\xff\xfe\x00a", "not UTF-8")])
def test_unreadable_files_are_refused_by_name(tmp_path, capsys, content, message):
    ref = write(tmp_path / "ref.txt", "a\n")
    pred = tmp_path / "pred.txt"
    if content is not None:
        pred.write_bytes(content)
    assert evaluate.main(["--pred", str(pred), "--ref", str(ref)]) == 2
    err = capsys.readouterr().err
    assert str(pred) in err and message in err


def test_empty_files_are_refused(tmp_path, capsys):
    ref, pred = write(tmp_path / "ref.txt", ""), write(tmp_path / "pred.txt", "")
    assert evaluate.main(["--pred", str(pred), "--ref", str(ref)]) == 2
    assert "nothing to score" in capsys.readouterr().err
