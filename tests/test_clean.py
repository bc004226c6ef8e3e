"""Cleaning: processed layout and report invariants (hand-made demo pages), atomic swap, CROHME smoke series."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lib.data import clean
from lib.data.buckets import COURSE, of_profile
from lib.data.export import export_demo
from lib.data.images import load_grey
from lib.data.vocab import Vocab
from lib.run.profiles import get_profile
from tests.data_fixtures import make_raw_demo

ROOT = Path(__file__).resolve().parent.parent
CROHME = ROOT.parent / "shared" / "data" / "crohme"


@pytest.fixture
def processed(tmp_path):
    interim = tmp_path / "interim"
    export_demo(make_raw_demo(tmp_path / "raw"), interim, workers=0)
    report = clean.clean(interim, tmp_path / "processed", 60, COURSE, workers=0)
    return tmp_path / "processed", report


def check_processed(out: Path, report: dict, has_answers: bool = True, buckets=COURSE) -> None:
    """The invariants every processed folder keeps (also used on a real series run)."""
    for split, s in report["splits"].items():
        assert s["kept"] + sum(s["dropped"].values()) == s["seen"], split
    formulas = (out / "formulas.norm.lst").read_text(encoding="utf-8").splitlines()
    vocab = Vocab.load(out / "vocab.json")
    unknown = {s: set(u) for s, u in report["unknown_tokens"].items()}
    lists = {s: (out / name).read_text().splitlines() for s, name in clean.LIST_NAMES.items()}
    assert len(lists["train"]) == report["splits"]["train"]["kept"]
    assert len(lists["dev"]) == report["splits"]["dev"]["kept"]
    for split, lines in lists.items():
        for line in lines:
            name, idx = line.split()
            assert (out / "images" / name).exists(), name
            for tok in formulas[int(idx)].split():
                assert tok in vocab or tok in unknown[split], (split, tok)
    ids = (out / "test_ids.txt").read_text().split()
    assert ids == sorted(ids) and len(ids) >= report["splits"]["test"]["kept"]
    if has_answers:
        assert len((out / "answer_key.txt").read_text(encoding="utf-8").splitlines()) == len(ids)
    img = load_grey(out / "images" / lists["train"][0].split()[0])
    assert (img.shape[1], img.shape[0]) in buckets
    assert f"{img.shape[1]}x{img.shape[0]}" in report["buckets"]
    assert all(tuple(map(int, k.split("x"))) in buckets for k in report["buckets"])


def test_processed_layout_and_invariants(processed):
    out, report = processed
    check_processed(out, report)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["images", "formulas.norm.lst", "train_filter.lst", "validate_filter.lst", "test_filter.lst",
         "test_ids.txt", "answer_key.txt", "vocab.json", "cleaning_report.json"])
    train = report["splits"]["train"]
    assert train["kept"] == 4 and train["dropped"]["ocr_error"] == 1 and train["dropped"]["multiline"] == 1
    assert train["dropped"]["chinese"] == 1 and train["dropped"]["empty"] == 1
    assert train["dropped"][clean.LABEL_WITHOUT_IMAGE] == 3    # boxes skipped in step 01
    assert report["label_encodings"]["gb18030"] == 1 and report["label_encodings"]["utf-8-sig"] == 1
    vocab = json.loads((out / "vocab.json").read_text())
    assert [vocab[t] for t in ("<PAD>", "<SOS>", "<EOS>", "<UNK>")] == [0, 1, 2, 3]


def test_max_tokens_filter_and_dataset_reader(tmp_path):
    interim = tmp_path / "interim"
    export_demo(make_raw_demo(tmp_path / "raw"), interim, workers=0)
    report = clean.clean(interim, tmp_path / "p", 3, COURSE, workers=0)
    assert report["splits"]["train"]["dropped"]["too_long"] >= 2
    from lib.data.dataset import load_split

    assert all(len(toks) <= 3 for _, toks in load_split(tmp_path / "p", "train"))
    assert load_split(tmp_path / "p", "test")


def test_failure_half_way_keeps_the_old_output(processed, monkeypatch):
    out, _ = processed
    before = sorted(p.name for p in (out / "images").iterdir())

    def boom(job):
        raise RuntimeError("disk full")

    monkeypatch.setattr(clean, "process_image", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        clean.clean(out.parent / "interim", out, 60, COURSE, workers=0)
    assert sorted(p.name for p in (out / "images").iterdir()) == before
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".processed")]


def test_pool_gives_the_same_result_as_one_process(tmp_path):
    interim = tmp_path / "interim"
    export_demo(make_raw_demo(tmp_path / "raw"), interim, workers=2)
    a = clean.clean(interim, tmp_path / "a", 60, COURSE, workers=0)
    b = clean.clean(interim, tmp_path / "b", 60, COURSE, workers=2)
    assert a["splits"] == b["splits"]
    for name in ("formulas.norm.lst", "train_filter.lst", "vocab.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert [p.read_bytes() for p in sorted((tmp_path / "a/images").iterdir())] == \
        [p.read_bytes() for p in sorted((tmp_path / "b/images").iterdir())]


@pytest.mark.skipif(not CROHME.is_dir(), reason=f"CROHME data not found at {CROHME}")
def test_smoke_series_01_02_on_crohme(tmp_path):
    env = {**os.environ, "IM2LATEX_HOME": str(tmp_path)}
    r = subprocess.run([sys.executable, "-m", "lib.series", "--only", "01,02", "--profile", "smoke",
                        "--data", "crohme", "--run", "c"], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = tmp_path / "data" / "processed" / "crohme" / "smoke-s0"
    report = json.loads((out / "cleaning_report.json").read_text())
    check_processed(out, report, buckets=of_profile(get_profile("smoke")))
    assert report["splits"]["test"]["seen"] == 20 and report["style"] == "plain"
    export = json.loads((tmp_path / "data" / "interim" / "crohme" / "smoke-s0" / "export_report.json").read_text())
    assert sum(s["seen"] for s in export["splits"].values()) == 80
    for png in ("export/page_boxes.png", "export/crops.png", "cleaning/cleaning_report.png",
                "cleaning/histograms.png", "cleaning/before_after.png"):
        assert (tmp_path / "outputs" / "c" / png).exists(), png


def test_course_source_passes_through_without_answer_key(tmp_path):
    from lib.data.course import import_course
    from tests.data_fixtures import noisy_image

    src = tmp_path / "course"
    for split, n in (("train", 3), ("dev", 2), ("test", 2)):
        (src / split).mkdir(parents=True)
        for i in range(n):
            noisy_image(src / split / f"{split}{i}.{'jpg' if i == 0 else 'png'}")
            if split != "test":
                (src / split / f"{split}{i}.txt").write_text(f"$x_{i}$")
    report = import_course(src, tmp_path / "interim")
    assert {s: v["kept"] for s, v in report["splits"].items()} == {"train": 3, "dev": 2, "test": 2}
    cleaned = clean.clean(tmp_path / "interim", tmp_path / "p", 60, COURSE, workers=0)
    check_processed(tmp_path / "p", cleaned, has_answers=False)
    assert not (tmp_path / "p" / "answer_key.txt").exists()
    assert (tmp_path / "p" / "test_ids.txt").read_text().split() == ["test0.png", "test1.png"]
    assert (tmp_path / "p" / "test_filter.lst").read_text() == ""
    assert (tmp_path / "p" / "images" / "train0.png").exists()     # a .jpg comes out as .png


def test_run_export_and_cleaning_for_course_from_env(tmp_path, monkeypatch):
    from lib.data.export import run_export
    from lib.run import notebook as setup
    from tests.data_fixtures import noisy_image

    src = tmp_path / "course"
    for split in ("train", "dev", "test"):
        (src / split).mkdir(parents=True)
        noisy_image(src / split / f"{split}0.png")
        if split != "test":
            (src / split / f"{split}0.txt").write_text("$a+b$")
    monkeypatch.setenv("IM2LATEX_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("IM2LATEX_COURSE_DIR", str(src))
    ctx = setup.start("export", "smoke", "course", quiet=True)
    report = run_export(ctx)
    assert report["params"]["dir"] == str(src.resolve()) and (ctx.out / "export_report.json").exists()
    ctx2 = setup.start("cleaning", "smoke", "course", quiet=True)
    cleaned = clean.run_cleaning(ctx2)
    assert cleaned["source"] == "course" and cleaned["splits"]["train"]["kept"] == 1
    assert (ctx2.processed_dir() / "test_ids.txt").read_text() == "test0.png\n"


def test_result_order_follows_the_teaching_assistants_test_list(tmp_path):
    """A course folder with `test_ids.txt`: the test ids (so result.txt) follow its order, an image it leaves out
    is counted, an id without image stays in the list (its line will be "-"); without a list, sorted names."""
    from lib.data.course import import_course
    from tests.data_fixtures import noisy_image

    src = tmp_path / "course"
    for split in ("train", "dev", "test"):
        (src / split).mkdir(parents=True)
    noisy_image(src / "train" / "a.png")
    (src / "train" / "a.txt").write_text("$x$")
    noisy_image(src / "dev" / "b.png")
    (src / "dev" / "b.txt").write_text("$y$")
    for name in ("t10", "t2", "t1", "extra"):
        noisy_image(src / "test" / f"{name}.png")
    (src / "test_ids.txt").write_text("t2.png\nt10.png\nmissing.png\nt1.png\nt2.png\n")
    report = import_course(src, tmp_path / "interim")
    assert report["test_order"]["ids"] == 4                            # t2 listed twice: once, first place
    cleaned = clean.clean(tmp_path / "interim", tmp_path / "p", 60, COURSE, workers=0)
    assert (tmp_path / "p" / "test_ids.txt").read_text().split() == ["t2.png", "t10.png", "missing.png", "t1.png"]
    order = cleaned["test_order"]
    assert order["from"] == "the teaching assistant's test list" and order["without_image"] == 1
    assert order["images_not_listed"] == 1 and cleaned["splits"]["test"]["dropped"] == {clean.TEST_NOT_LISTED: 1}
    (src / "test_ids.txt").unlink()                                    # no list: sorted names, as before
    import_course(src, tmp_path / "interim2")
    again = clean.clean(tmp_path / "interim2", tmp_path / "p2", 60, COURSE, workers=0)
    assert again["test_order"]["from"] == "sorted image names"
    assert (tmp_path / "p2" / "test_ids.txt").read_text().split() == ["extra.png", "t1.png", "t10.png", "t2.png"]
