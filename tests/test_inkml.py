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


def _repeated_formulas(root: Path, writers: int = 6, formulas: int = 10) -> Path:
    """A CROHME-shaped folder where every formula is written by several writers (spaced differently)."""
    for w in range(writers):
        for i in range(formulas):
            p = root / "train" / f"W{w}" / f"f{i}.inkml"
            p.parent.mkdir(parents=True, exist_ok=True)
            truth = f"$x_{{{i}}}+{i}$" if w % 2 else f"$x_{i} + {i}$"    # the same formula once normalised
            p.write_text(inkml_text(truth, [TRACE_A, f"{30 + i} 10, {40 + w} 25"]))
    (root / "test2014").mkdir(parents=True, exist_ok=True)
    (root / "test2014" / "t0.inkml").write_text(inkml_text("$x_1 + 1$"))
    return root


TRACE_A = "10 10, 12 20, 14 10, 16 20"


def test_dev_is_held_out_by_formula(tmp_path):
    src = _repeated_formulas(tmp_path / "c")
    jobs = crohme.plan(src, None, None, 0.3, seed=0, dev_by="formula")
    split_of: dict[str, set] = {}
    for f, split, _ in jobs:
        if split != "test":
            split_of.setdefault(crohme.formula_key(f), set()).add(split)
    assert len(split_of) == 10                                  # spacing variants are one formula
    assert all(len(s) == 1 for s in split_of.values())          # every writer of a formula in the same split
    assert {"dev"} in split_of.values() and {"train"} in split_of.values()
    subset = crohme.plan(src, 25, None, 0.3, seed=0, dev_by="formula")            # a smaller training subset: same formulas in dev
    assert all(split_of[crohme.formula_key(f)] == {s} for f, s, _ in subset if s != "test")


def test_cleaning_report_states_overlap_with_train(tmp_path):
    from lib.data.clean import clean
    from lib.data.buckets import sizes

    src = _repeated_formulas(tmp_path / "c")
    crohme.export_crohme(src, tmp_path / "interim", None, None, 0.3, workers=0, symbol_height=20, dev_by="formula")
    report = clean(tmp_path / "interim", tmp_path / "processed", 60, sizes("fit"), plain=True, workers=0)
    ov = report["overlap_with_train"]
    assert ov["dev"]["formulas"] > 0 and ov["dev"]["in_train"] == 0 and ov["dev"]["distinct_in_train"] == 0
    processed = tmp_path / "processed"
    lines = (processed / "formulas.norm.lst").read_text().splitlines()
    train = {lines[int(row.split()[1])] for row in (processed / "train_filter.lst").read_text().splitlines()}
    answer = (processed / "answer_key.txt").read_text().strip()    # x_1 + 1: in train unless it went to dev
    assert ov["test"]["formulas"] == 1 and ov["test"]["in_train"] == int(answer in train)


def test_symbol_height_sets_the_rendered_size(tmp_path):
    p = _write(tmp_path / "a.inkml", inkml_text())
    big = inkml.render_file((str(p), str(tmp_path / "big.png"), "", 40))
    small = inkml.render_file((str(p), str(tmp_path / "small.png"), "", 20))
    assert big["ok"] and small["ok"]
    assert abs((big["height"] - 2 * inkml.MARGIN) / (small["height"] - 2 * inkml.MARGIN) - 2.0) < 0.25


@pytest.mark.skipif(not CROHME.is_dir(), reason=f"CROHME data not found at {CROHME}")
@pytest.mark.parametrize("dev_by", crohme.DEV_BY)
def test_real_crohme_dev_shares_no_formula_with_train(dev_by):
    jobs = crohme.plan(CROHME, 1500, 0, 0.1, seed=0, workers=2, dev_by=dev_by)
    keys = {s: {crohme.formula_key(f) for f, split, _ in jobs if split == s} for s in ("train", "dev")}
    assert len(keys["dev"]) > 50 and not keys["dev"] & keys["train"]
