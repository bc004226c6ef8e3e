"""Real-world images read like training images: one formula saved the ways users save it."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from lib.data.buckets import COURSE
from lib.data.images import ink_scale, load_grey, preprocess, stroke_width

FORMULA = r"- 7 < x \leq 6"


@pytest.fixture(scope="module")
def crop() -> np.ndarray:
    """A printed formula crop as the cleaning step sees it (dark ink, white paper, a little margin)."""
    from lib.data.synth import render_formula

    img = render_formula(FORMULA, np.random.default_rng(0), "printed")
    big = Image.fromarray(img).resize((img.shape[1] * 5 // 2, img.shape[0] * 5 // 2), Image.Resampling.BICUBIC)
    return np.pad(np.asarray(big), 6, constant_values=255)  # about 40 px of ink, as a demo crop


def _variants(crop: np.ndarray, folder) -> dict:
    """The same crop saved as a user might: name -> path."""
    rgb = Image.fromarray(crop).convert("RGB")
    out = {}
    out["plain png"] = folder / "plain.png"
    Image.fromarray(crop).save(out["plain png"])
    out["cmyk jpeg"] = folder / "cmyk.jpg"
    rgb.convert("CMYK").save(out["cmyk jpeg"], quality=95)
    out["palette gif"] = folder / "palette.gif"
    rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=256).save(out["palette gif"])
    rgba = Image.new("RGBA", rgb.size, (0, 0, 0, 0))
    alpha = Image.fromarray(255 - crop)  # ink opaque, paper transparent (a transparent-background export)
    rgba.putalpha(alpha)
    out["transparent png"] = folder / "transparent.png"
    rgba.save(out["transparent png"])
    out["spaces and chinese"] = folder / "我的 公式 1.png"
    Image.fromarray(crop).save(out["spaces and chinese"])
    out["16-bit grey png"] = folder / "grey16.png"
    Image.fromarray(crop.astype(np.uint16) * 257).save(out["16-bit grey png"])
    out["dark mode"] = folder / "dark.png"
    Image.fromarray(255 - crop).save(out["dark mode"])
    out["exif rotated jpeg"] = folder / "phone.jpg"
    stored = rgb.rotate(90, expand=True)  # the sensor's orientation; EXIF 6 says: rotate 270 to show it
    exif = Image.Exif()
    exif[0x0112] = 6
    stored.save(out["exif rotated jpeg"], quality=95, exif=exif.tobytes())
    out["enlarged 20x"] = folder / "big.png"
    Image.fromarray(crop).resize((crop.shape[1] * 20, crop.shape[0] * 20), Image.Resampling.BICUBIC).save(
        out["enlarged 20x"])
    return out


def _ink(img: np.ndarray) -> np.ndarray:
    return img < 128


def _similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of the ink of two same-size images (1: the same picture)."""
    x, y = 255.0 - a.astype(float), 255.0 - b.astype(float)
    x, y = x - x.mean(), y - y.mean()
    return float((x * y).sum() / np.sqrt((x * x).sum() * (y * y).sum()))


def test_every_variant_preprocesses_like_the_plain_crop(crop, tmp_path):
    scale = ink_scale([crop])
    ref = preprocess(load_grey(_variants(crop, tmp_path)["plain png"]), COURSE, scale=scale)
    for name, path in _variants(crop, tmp_path).items():
        img = preprocess(load_grey(path), COURSE, scale=scale)
        assert img.shape == ref.shape, name
        similarity = _similarity(img, ref)
        assert similarity > (0.97 if name != "enlarged 20x" else 0.85), (name, similarity)


def test_sixteen_bit_and_dark_images_are_not_blank(crop, tmp_path):
    paths = _variants(crop, tmp_path)
    assert (load_grey(paths["16-bit grey png"]) == crop).mean() > 0.99
    dark = preprocess(load_grey(paths["dark mode"]))
    assert _ink(dark).any() and np.median(dark) == 255


def test_stroke_width_follows_the_scale(crop):
    big = np.asarray(Image.fromarray(crop).resize((crop.shape[1] * 8, crop.shape[0] * 8),
                                                  Image.Resampling.BICUBIC))
    assert stroke_width(big) > 5 * stroke_width(crop)
    assert stroke_width(np.full((20, 20), 255, np.uint8)) is None
    assert ink_scale([crop])["height_lo"] == ink_scale([crop])["height_hi"]


def test_a_model_reads_the_same_formula_from_every_variant(crop, tmp_path):
    """A model that reads the plain crop predicts the same formula from every way of saving it."""
    import json
    import random

    from lib.data.buckets import FIT
    from lib.data.vocab import Vocab
    from lib.inference.predict import predict_paths
    from lib.models import checkpoint
    from tests.fixtures import random_formula, render
    from tests.test_memorisation import memorise

    processed = tmp_path / "processed"
    (processed / "images").mkdir(parents=True)
    rng = random.Random(3)
    others = [random_formula(rng) for _ in range(5)]
    pairs = [(FORMULA.split(), crop)] + [(t, render(t, dpi=250)) for t in others]
    scale = ink_scale([img for _, img in pairs])
    lines, train = [], []
    for k, (tokens, img) in enumerate(pairs):
        Image.fromarray(preprocess(img, FIT, scale=scale)).save(processed / "images" / f"f{k}.png")
        train.append(f"f{k}.png {len(lines)}")
        lines.append(" ".join(tokens))
    (processed / "formulas.norm.lst").write_text("\n".join(lines) + "\n")
    (processed / "train_filter.lst").write_text("\n".join(train) + "\n")
    Vocab.build([line.split() for line in lines]).save(processed / "vocab.json")
    model, vocab, used = memorise("model2", processed, 400)
    path = checkpoint.save(tmp_path / "best.pt", model, vocab, model_name="model2",
                           preprocess=checkpoint.Preprocess(tuple(FIT), scale))
    pre = checkpoint.load(path).preprocess
    buckets, scale = pre.buckets, pre.ink_scale
    variants = _variants(crop, tmp_path)
    lines = predict_paths(model.eval(), vocab, list(variants.values()), buckets=buckets, scale=scale, max_len=20)
    assert dict(zip(variants, lines)) == {name: FORMULA for name in variants}, json.dumps(
        dict(zip(variants, lines)), indent=1)
