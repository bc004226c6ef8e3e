"""Notebook 07's logic without a browser: checkpoints offered, strokes and uploads to images, a reading."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from lib.data.vocab import Vocab
from lib.inference import reader
from lib.models import build_model
from lib.models import checkpoint

TINY = dict(stages=1, d_model=16, layers=1, heads=2, ff=32, dropout=0.0)
VOCAB = Vocab(["<PAD>", "<SOS>", "<EOS>", "<UNK>", "x", "^", "{", "}", "2", "+", "y"])


def _save(path, metrics=None, data="demo"):
    torch.manual_seed(0)
    model = build_model("model2", len(VOCAB), **TINY)
    return checkpoint.save(path, model, VOCAB, model_name="model2", config={"data": data},
                           metrics=metrics or {"val_exact_match": 12.5, "val_edit_score": 61.0},
                           preprocess=checkpoint.Preprocess(((128, 48), (256, 64), (512, 128)),
                                                                {"stroke_px": 2.2, "height_lo": 20, "height_hi": 60}))


def test_checkpoints_are_found_and_labelled(tmp_path):
    _save(tmp_path / "cpu-demo" / "model2" / "best.pt")
    _save(tmp_path / "cpu-demo" / "ablation" / "scale" / "best.pt", {"val_exact_match": 3.0, "val_edit_score": 40.0})
    (tmp_path / "cpu-demo" / "model1").mkdir()
    (tmp_path / "cpu-demo" / "model1" / "best.pt").write_bytes(b"half a file")  # not offered
    found = reader.find_checkpoints(tmp_path)
    assert {f.step for f in found} == {"model2", "ablation/scale"}
    label = next(f for f in found if f.step == "model2").label
    assert "cpu-demo / model2" in label and "demo data" in label and "12.5" in label and "61.0" in label
    assert reader.find_checkpoints(tmp_path / "nothing") == []


def test_the_default_checkpoint_is_this_runs_model_else_the_best_validated(tmp_path):
    _save(tmp_path / "cpu-demo" / "model1" / "best.pt", {"val_exact_match": 17.0, "val_edit_score": 60.0})
    _save(tmp_path / "cpu-demo" / "model2" / "best.pt", {"val_exact_match": 58.0, "val_edit_score": 84.0})
    _save(tmp_path / "cpu-demo" / "ablation" / "mixup" / "best.pt", {"val_exact_match": 57.0, "val_edit_score": 85.0})
    assert reader.pick_checkpoint(tmp_path, run="cpu-demo").step == "model2"
    # another run's notebook: not the newest file (the ablation arm) but the best validation exact match
    assert reader.pick_checkpoint(tmp_path, run="smoke-demo").step == "model2"
    (tmp_path / "cpu-demo" / "model2" / "best.pt").unlink()
    assert reader.pick_checkpoint(tmp_path, run="cpu-demo").step == "model1"
    assert reader.pick_checkpoint(tmp_path, run="smoke-demo").step == "ablation/mixup"


def test_strokes_are_drawn_like_inkml_traces():
    from lib.data import inkml

    strokes = [[(10, 10), (30, 40), (50, 10)], [(60, 25), (90, 25)], [(75, 10), (75, 40)]]
    img = reader.strokes_to_image(strokes)
    assert img.dtype == np.uint8 and img.ndim == 2 and (img < 128).any() and np.median(img) == 255
    ink = inkml.Ink([np.asarray(s, float) for s in strokes], [], None)
    assert np.array_equal(img, inkml.render(ink))  # the renderer of the crohme source, nothing else
    with pytest.raises(reader.ReadError, match="nothing drawn"):
        reader.strokes_to_image([])


def test_strokes_are_drawn_at_the_checkpoints_symbol_height():
    strokes = [[(10, 10), (30, 40), (50, 10)], [(60, 25), (90, 25)], [(75, 10), (75, 40)]]
    ckpt = checkpoint.Checkpoint("model2", {}, {}, {}, checkpoint.Preprocess(
        ink_scale={"stroke_px": 1.5, "symbol_height": 20.0}))
    older = checkpoint.Checkpoint("model2", {}, {}, {})  # written before the symbol height was recorded
    assert reader.symbol_height(ckpt) == 20.0 and reader.symbol_height(older) == reader.symbol_height(None) == 40.0
    big, small = reader.strokes_to_image(strokes), reader.strokes_to_image(strokes, reader.symbol_height(ckpt))
    assert small.shape[0] < 0.7 * big.shape[0] and small.shape[1] < 0.7 * big.shape[1]


def _png(arr) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def test_uploads_are_read_or_refused_with_a_message(monkeypatch):
    img = np.full((40, 120), 255, np.uint8)
    img[15:25, 10:110] = 0
    assert np.array_equal(reader.read_upload(_png(img), "a.png"), img)
    with pytest.raises(reader.ReadError, match="a.txt: not an image"):
        reader.read_upload(b"hello, not an image", "a.txt")
    with pytest.raises(reader.ReadError, match="empty"):
        reader.read_upload(b"", "empty.png")
    with pytest.raises(reader.ReadError, match="too large"):
        reader.read_upload(b"x" * (reader.MAX_UPLOAD_BYTES + 1), "huge.jpg")
    monkeypatch.setattr(reader, "MAX_UPLOAD_PIXELS", 1000)
    with pytest.raises(reader.ReadError, match="120x40 pixels is too large"):
        reader.read_upload(_png(img), "big.png")


def test_a_reading_has_the_model_view_candidates_attention_and_time(tmp_path):
    path = _save(tmp_path / "best.pt")
    model, vocab, ckpt = checkpoint.load_model(path)
    strokes = [[(10, 10), (30, 40), (50, 10)], [(60, 25), (90, 25)]]
    r = reader.read(model, vocab, ckpt, reader.strokes_to_image(strokes), beam=3, max_len=8)
    assert r.model_view.shape in {(48, 128), (64, 256), (128, 512)}  # the checkpoint's own buckets
    assert 1 <= len(r.candidates) <= 3 and all(isinstance(s, float) for _, s in r.candidates)
    assert r.attention.shape[0] == min(len(r.tokens) + 1, 8) and r.seconds > 0
    assert isinstance(r.latex, str)
    with pytest.raises(reader.ReadError, match="no ink"):
        reader.read(model, vocab, ckpt, np.full((30, 30), 255, np.uint8))


def test_drawn_formulas_are_written_in_the_pen_alphabet():
    from lib.bench import drawn
    from lib.data.latex import normalize

    assert drawn.latex_of("x^2+y^2") == "x^{2}+y^{2}"
    assert normalize(drawn.latex_of("x^2"), plain=True) == ["x", "^", "{", "2", "}"]
    for i, text in enumerate(drawn.FORMULAS):
        pen = drawn.strokes(text, seed=i)
        assert len(pen) >= len(text.replace("^", "")) and all(len(s) >= 2 for s in pen)
        img = reader.strokes_to_image(pen, 20.0)
        assert (img < 128).any() and 40 <= img.shape[0] <= 120      # a formula about as high as CROHME at 20
    raised = drawn.strokes("x^2")                               # the exponent is above the x
    assert max(y for s in raised[2:] for _, y in s) < max(y for s in raised[:2] for _, y in s)
