"""InkML reading and rendering, the CLI, and the CROHME plan (hand-made files; real CROHME when present)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lib.data import crohme, inkml
from tests.data_fixtures import inkml_text, make_crohme

ROOT = Path(__file__).resolve().parent.parent
CROHME = ROOT.parent / "shared" / "data" / "crohme"


def test_read_inkml_traces_groups_truth(tmp_path):
    p = tmp_path / "a.inkml"
    p.write_text(inkml_text("$x^2$"))
    ink = inkml.read_inkml(p)
    assert ink.truth == "$x^2$" and len(ink.traces) == 3 and ink.groups == [[0], [1], [2]]
    assert ink.traces[0].shape == (4, 2)


def test_time_channel_is_ignored(tmp_path):
    p = tmp_path / "t.inkml"
    p.write_text(inkml_text("$1$", ["1 2 100, 3 4 110, 5 9 120"]))
    assert inkml.read_inkml(p).traces[0].tolist() == [[1, 2], [3, 4], [5, 9]]


def test_render_is_grey_white_dark_and_scale_free(tmp_path):
    small = inkml.read_inkml(_write(tmp_path / "s.inkml", inkml_text()))
    big = inkml.Ink([t * 37.5 + 1000 for t in small.traces], small.groups, small.truth)
    a, b = inkml.render(small), inkml.render(big)
    assert a.dtype == np.uint8 and a.ndim == 2
    assert a[0, 0] == 255 and a.min() < 60                  # white background, dark ink
    assert abs(a.shape[0] - b.shape[0]) <= 1 and abs(a.shape[1] - b.shape[1]) <= 1
    assert 0 < np.unique(a).size - 2                       # anti-aliased: grey levels between ink and paper


def test_symbol_height_is_consistent():
    box = np.array([[0, 0], [0, 10.0]])
    ink = inkml.Ink([box, box + [5, 0], box + [10, 0]], [[0], [1], [2]], "x")
    img = inkml.render(ink, symbol_height=40, margin=0)
    assert abs(img.shape[0] - 40) <= 2


def _write(p: Path, text: str) -> Path:
    p.write_text(text)
    return p


def test_cli_renders_a_folder_and_reports(tmp_path):
    src = make_crohme(tmp_path / "c", n_train=3, n_test=1)
    (src / "train" / "DevA" / "bad.inkml").write_text(inkml_text(None))
    r = subprocess.run([sys.executable, "-m", "lib.data.inkml", str(src), str(tmp_path / "out"), "--workers", "2"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    report = json.loads((tmp_path / "out" / "render_report.json").read_text())
    assert report["seen"] == 5 and report["rendered"] == 4 and report["skipped"] == {inkml.NO_TRUTH: 1}
    assert (tmp_path / "out" / "train_DevA_f1.png").exists()
    assert (tmp_path / "out" / "train_DevA_f1.txt").read_text().strip() == "$x_1 + 1$"
    assert "files/s" in r.stdout


def test_plan_is_deterministic_with_a_dev_slice(tmp_path):
    src = make_crohme(tmp_path / "c", n_train=40, n_test=5)
    a = crohme.plan(src, 30, 3, 0.25, seed=0)
    assert a == crohme.plan(src, 30, 3, 0.25, seed=0)
    splits = [s for _, s, _ in a]
    assert splits.count("test") == 3 and 0 < splits.count("dev") < 30 and len(a) == 33
    bigger = {cid: s for _, s, cid in crohme.plan(src, 40, 3, 0.25, seed=0)}
    assert all(bigger[cid] == s for _, s, cid in a)        # growing the count keeps earlier choices
    with pytest.raises(FileNotFoundError, match="crohme_dir"):
        crohme.check_dir(tmp_path / "nowhere")


def test_export_crohme_layout(tmp_path):
    src = make_crohme(tmp_path / "c", n_train=6, n_test=2)
    report = crohme.export_crohme(src, tmp_path / "out", None, None, 0.3, workers=0)
    got = {s: v["kept"] for s, v in report["splits"].items()}
    assert got.get("train", 0) + got.get("dev", 0) == 6 and got["test"] == 2
    assert len(list((tmp_path / "out" / "answer_key").glob("*.txt"))) == 2
    assert not list((tmp_path / "out" / "test").glob("*.txt"))     # test truths are kept apart


@pytest.mark.skipif(not CROHME.is_dir(), reason=f"CROHME data not found at {CROHME}")
def test_real_crohme_files_render_about_100px_high(tmp_path):
    jobs = crohme.plan(CROHME, 12, 4, 0.1)
    work = [(str(f), str(tmp_path / f"{cid}.png"), "") for f, _, cid in jobs]
    results = [inkml.render_file(j) for j in work]
    assert all(r["ok"] for r in results), [r for r in results if not r["ok"]]
    heights = [r["height"] for r in results]
    assert 50 <= float(np.median(heights)) <= 200
