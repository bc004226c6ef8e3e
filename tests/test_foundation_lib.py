"""vocab, images, atomic writes, progress and setup helpers."""
import json

import numpy as np
import pytest
from PIL import Image

from lib.data import images
from lib.data.vocab import EOS_ID, SOS_ID, UNK_ID, Vocab
from lib.run import atomic, progress
from lib.run import notebook as setup


def test_vocab_roundtrip(tmp_path):
    v = Vocab.build([["x", "^", "2"], ["x", "+", "1"]])
    assert v.itos[:4] == ["<PAD>", "<SOS>", "<EOS>", "<UNK>"] and v.itos[4] == "x"
    ids = v.encode(["x", "+", "y"])
    assert ids[0] == SOS_ID and ids[-1] == EOS_ID and ids[3] == UNK_ID
    assert v.decode(ids[:-1] + [EOS_ID, v.stoi["x"]]) == ["x", "+", "<UNK>"]
    v.save(tmp_path / "vocab.json")
    assert json.loads((tmp_path / "vocab.json").read_text())["<PAD>"] == 0
    assert Vocab.load(tmp_path / "vocab.json").itos == v.itos
    with pytest.raises(ValueError, match="gaps"):
        Vocab.from_dict({"<PAD>": 0, "<SOS>": 1, "<EOS>": 2, "<UNK>": 5})


def test_crop_and_bucket():
    img = np.full((300, 500), 255, np.uint8)
    img[100:120, 200:260] = 0
    crop = images.crop_whitespace(img, margin=4)
    assert crop.shape == (28, 68)
    out = images.preprocess(img)
    assert out.shape == (40, 80) and out.dtype == np.uint8 and out[-1, -1] == 255
    assert images.pick_bucket(2000, 50) is None
    big = np.zeros((100, 4000), np.uint8)
    assert images.pad_to_bucket(big).shape == (200, 1600)   # scaled down, not dropped
    blank = np.full((10, 10), 255, np.uint8)
    assert images.crop_whitespace(blank).shape == (10, 10) and not images.has_ink(blank)


def test_grey_paper_levelled_to_white():
    img = np.full((60, 200), 215, np.uint8)     # a scanned crop: grey paper
    img[20:40, 50:120] = 40
    out = images.preprocess(img)
    assert out[0, 0] == 255 and out[-1, -1] == 255           # paper and padding both white
    assert out.min() < 60                                      # ink stays dark
    white = np.full((10, 10), 255, np.uint8)
    assert images.level_paper(white) is white


def test_load_grey_errors_name_file(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(images.ImageError, match="bad.png"):
        images.load_grey(bad)
    good = tmp_path / "good.png"
    Image.fromarray(np.full((5, 7, 4), 0, np.uint8), "RGBA").save(good)   # fully transparent
    assert images.load_grey(good).min() == 255                           # composited on white
    with pytest.raises(images.ImageError, match="missing.png: no such"):
        images.load_grey(tmp_path / "missing.png")


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    p = atomic.write_text(tmp_path / "a.txt", "old")

    class Boom:
        def __str__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        atomic._atomic(p, lambda f: f.write(str(Boom())), "w")
    assert p.read_text() == "old" and [x.name for x in tmp_path.iterdir()] == ["a.txt"]
    assert p.stat().st_mode & 0o044   # readable by others, like a plain open() write (not mkstemp's 0600)


def test_line_progress_prints_plain_lines(capsys, monkeypatch):
    monkeypatch.setenv("IM2LATEX_HEADLESS", "1")
    bar = progress.progress(range(5), desc="train", interval=0)
    assert isinstance(bar, progress.LineProgress)
    assert list(bar) == [0, 1, 2, 3, 4]
    out = capsys.readouterr().out
    assert "train: 5/5 (100%)" in out and "\r" not in out
    assert out.count("train: 5/5") == 1  # the final line once, though the last update printed it too
    with progress.progress(range(3), desc="again", interval=0) as bar:  # iterated, then closed by `with`
        list(bar)
    assert capsys.readouterr().out.count("again: 3/3") == 1


def test_start_makes_run_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("IM2LATEX_HOME", str(tmp_path))
    monkeypatch.delenv("IM2LATEX_RUN", raising=False)
    ctx = setup.start("model2", profile="smoke", data="crohme", quiet=True)
    assert ctx.run == "smoke-crohme" and ctx.out == tmp_path / "outputs" / "smoke-crohme" / "model2"
    assert ctx.out.is_dir() and ctx.processed_dir() == tmp_path / "data" / "processed" / "crohme" / "smoke-s0"
    with pytest.raises(ValueError, match="unknown data source"):
        setup.start("x", data="mnist")


def test_install_missing_lists_only_missing(monkeypatch):
    assert setup.missing_packages({"os": "os", "surely_not_a_module_xyz": "xyz-pkg"}) == ["xyz-pkg"]
    assert "torch" not in setup.NEEDED.values()


def test_colab_gets_latex_only_when_it_is_missing(monkeypatch):
    ran = []
    monkeypatch.setattr(setup.shutil, "which", lambda name: None)
    assert setup.install_tex(run=ran.append) is True
    assert ran[-1][:4] == ["apt-get", "-qq", "install", "-y"] and "poppler-utils" in ran[-1]
    monkeypatch.setattr(setup.shutil, "which", lambda name: f"/usr/bin/{name}")
    assert setup.install_tex(run=ran.append) is False and len(ran) == 2


def test_data_sets_are_keyed_by_what_made_them(tmp_path, monkeypatch):
    """A smoke run, another seed or a changed data setting never lands in the cpu run's processed folder."""
    from lib.run.notebook import data_key
    from lib.run.profiles import get_profile

    monkeypatch.setenv("IM2LATEX_HOME", str(tmp_path))
    cpu = setup.start("cleaning", profile="cpu", data="demo", quiet=True)
    smoke = setup.start("cleaning", profile="smoke", data="demo", quiet=True)
    seed1 = setup.start("cleaning", profile="cpu", data="demo", seed=1, quiet=True)
    folders = {c.processed_dir() for c in (cpu, smoke, seed1)} | {c.interim_dir() for c in (cpu, smoke, seed1)}
    assert len(folders) == 6
    assert cpu.processed_dir() == tmp_path / "data" / "processed" / "demo" / "cpu-s0"
    assert cpu.raw_dir() == tmp_path / "data" / "raw" / "demo" / "p2000-s0"
    assert setup.start("x", profile="cpu", data="crohme", quiet=True).raw_dir() == tmp_path / "data" / "raw" / "crohme"
    # the profile's own CROHME settings keep the plain name; a changed data setting adds its hash
    assert data_key(get_profile("cpu").for_data("crohme"), "crohme", 0) == "cpu-s0"
    changed = data_key(get_profile("cpu").replace(max_tokens=80), "demo", 0)
    assert changed.startswith("cpu-s0-") and changed != data_key(get_profile("cpu").replace(max_tokens=90), "demo", 0)
    assert data_key(get_profile("cpu").replace(lr=1e-4), "demo", 0) == "cpu-s0"  # training settings do not count


def test_colab_keeps_data_on_drive_by_default_and_updates_old_packages(monkeypatch, tmp_path):
    import sys
    import types

    monkeypatch.delenv(setup.HOME_ENV, raising=False)
    monkeypatch.setattr(setup, "AUTODL_TMP", tmp_path / "no-autodl")
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert setup.default_home(tmp_path, drive=None) == tmp_path            # not Colab: the repository
    mounted = []
    colab = types.ModuleType("google.colab")
    colab.drive = types.SimpleNamespace(mount=mounted.append)
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    assert setup.default_home(tmp_path, drive=None) == setup.DRIVE_HOME    # Colab: Drive, mounted
    assert mounted == ["/content/drive"]
    assert setup.default_home(tmp_path, drive=False) == tmp_path           # asked not to
    # a package older than the API the bundle calls is installed again (albumentations 2's std_range)
    assert setup._too_old("pytest>=999.0") and not setup._too_old("pytest>=1.0")
    assert setup._too_old("surely-not-installed-xyz>=1.0") and not setup._too_old("pytest")
    assert setup.NEEDED["albumentations"].startswith("albumentations>=2")
