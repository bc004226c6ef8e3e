"""Prediction: one line per image in order, "-" with a warning for an unreadable image; the CLI."""
from __future__ import annotations

import shutil

import pytest
import torch

from lib.data.dataset import load_vocab
from lib.evaluation.submission import write_result
from lib.inference.predict import predict_paths
from lib.predict import main
from lib.models import build_model
from lib.models import checkpoint
from tests.fixtures import make_processed_dataset


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    data = make_processed_dataset(root / "processed", n_train=4, n_dev=2, n_test=5, seed=2)
    vocab = load_vocab(data)
    torch.manual_seed(0)
    model = build_model("model2", len(vocab), stages=1, d_model=16, layers=1, heads=2, ff=32).eval()
    ckpt = checkpoint.save(root / "model.pt", model, vocab, model_name="model2")
    images = root / "images"
    images.mkdir()
    names = (data / "test_ids.txt").read_text().split()
    for n in names:
        shutil.copy(data / "images" / n, images / n)
    (images / names[2]).write_bytes(b"not a png")  # corrupt
    return model, vocab, ckpt, images, names


def test_predict_paths_order_and_corrupt(setup):
    model, vocab, _, images, names = setup
    paths = [images / n for n in names]
    with pytest.warns(UserWarning, match=names[2]):
        lines = predict_paths(model, vocab, paths, batch_size=2, max_len=6)
    assert len(lines) == len(names) and lines[2] == "-"
    alone = predict_paths(model, vocab, [paths[4]], max_len=6)
    assert alone[0] == lines[4]  # batching does not change a line
    with pytest.warns(UserWarning, match="missing.png"):
        assert predict_paths(model, vocab, [images / "missing.png"])[0] == "-"


def test_cli_writes_one_line_per_id(setup, tmp_path):
    _, _, ckpt, images, names = setup
    ids = tmp_path / "ids.txt"
    order = list(reversed(names))
    ids.write_text("\n".join(order) + "\n")
    out = tmp_path / "result.txt"
    assert main(["--checkpoint", str(ckpt), "--images", str(images), "--out", str(out), "--ids", str(ids),
                 "--beam", "2", "--max-len", "6"]) == 0
    lines = out.read_text().splitlines()
    assert len(lines) == len(order) and lines[order.index(names[2])] == "-"
    assert all(line.strip() for line in lines)
    sorted_out = tmp_path / "sorted.txt"
    main(["--checkpoint", str(ckpt), "--images", str(images), "--out", str(sorted_out), "--max-len", "6"])
    assert len(sorted_out.read_text().splitlines()) == len(names)


def test_write_result(tmp_path):
    path = write_result(["a + b", "-"], tmp_path / "r.txt")
    assert path.read_text() == "a + b\n-\n"
