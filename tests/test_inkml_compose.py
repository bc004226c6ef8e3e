"""Formulas composed from CROHME's segmented symbols (lib/data/inkml_compose.py): the bank holds each token's
handwritten samples, the layout puts scripts up and down and fractions over their bar, a token no training file
wrote is refused by name, and the export draws only with the training files' symbols."""
from pathlib import Path

import numpy as np
import pytest

from lib.data import crohme, inkml, inkml_compose
from tests.test_inkml_parts import SYMBOLS, pen_file, six_writers

ROOT = Path(__file__).resolve().parent.parent
CROHME = ROOT.parent / "shared" / "data" / "crohme"

FRACTION = """<math xmlns="http://www.w3.org/1998/Math/MathML"><mfrac xml:id="-_1">
  <mi xml:id="x_1">x</mi><mn xml:id="2_1">2</mn></mfrac></math>"""


def bank_of(tmp_path: Path) -> inkml_compose.Bank:
    a = pen_file(tmp_path / "a.inkml")                                          # x^2+1=y
    b = pen_file(tmp_path / "b.inkml", truth="$\\frac{x}{2}$", mathml=FRACTION,
                 symbols=[("x_1", SYMBOLS[0][1]), ("2_1", SYMBOLS[1][1]), ("-_1", ["0 20, 40 21"])])
    return inkml_compose.build_bank([str(a), str(b)])


def test_the_bank_holds_every_symbol_with_its_strokes(tmp_path):
    bank = bank_of(tmp_path)
    assert set(bank.samples) == {"x", "2", "+", "1", "=", "y", "\\frac"}     # the fraction's bar under \frac
    assert len(bank.samples["x"]) == 2 and len(bank.samples["x"][0].strokes) == 2
    for samples in bank.samples.values():
        for s in samples:
            pts = np.concatenate(s.strokes)
            assert pts.min() >= -1e-9 and np.allclose(pts.max(axis=0), [s.width, s.height])


def test_scripts_and_fractions_are_laid_out_as_written(tmp_path):
    bank = bank_of(tmp_path)
    rng = np.random.default_rng(0)
    c = inkml_compose.compose("y^{2} + \\frac{x}{1}", bank, rng)
    assert c.tex == "y ^ { 2 } + \\frac { x } { 1 }"
    from lib.data import latex

    box = inkml_compose.layout(latex._parse(c.tex.split()), 1.0, bank, np.random.default_rng(0))
    placed = {p.token: p for p in box.items}
    y, two, bar, x, one = (placed[t] for t in ("y", "2", "\\frac", "x", "1"))
    assert two.y1 < (y.y0 + y.y1) / 2 and two.x0 >= y.x1                   # the exponent: up and to the right
    assert (two.y1 - two.y0) < (y.y1 - y.y0)                                # and smaller
    assert x.y1 < bar.y0 and one.y0 > bar.y1                                # numerator over the bar over denominator
    assert bar.x0 <= min(x.x0, one.x0) and bar.x1 >= max(x.x1, one.x1)      # the bar spans both
    strokes = sum(len(bank.samples[t][0].strokes) for t in ("y", "2", "+", "\\frac", "x", "1"))
    assert len(c.ink.traces) == strokes
    image = inkml.render_at(c.ink, 20)
    assert image.min() < 100 and image.shape[0] > 20


def test_a_token_no_file_wrote_is_refused_by_name(tmp_path):
    bank = bank_of(tmp_path)
    with pytest.raises(KeyError, match="alpha"):
        inkml_compose.compose("x + \\alpha", bank, np.random.default_rng(0))
    made, report = inkml_compose.compose_many(bank, 5, 0, {"exam": 1.0}, set(), tries=4)
    assert report["asked"] == 5 and report["made"] == len(made) and report["missing_tokens"]
    assert all(set(c.tex.split()) <= set(bank.samples) | inkml_compose.STRUCTURE for c in made)


def test_the_export_composes_with_the_training_files_symbols_only(tmp_path, monkeypatch):
    src = six_writers(tmp_path / "c", 3)
    banked: list[str] = []
    real = inkml_compose.build_bank
    monkeypatch.setattr(inkml_compose, "build_bank", lambda files, **kw: banked.extend(files) or real(files, **kw))
    out = tmp_path / "out"
    report = crohme.export_crohme(src, out, None, None, 0.34, seed=0, workers=0, composed=6,
                                  mix={"exam": 0.5, "fragment": 0.5})
    jobs = crohme.plan(src, None, None, 0.34, seed=0)
    train = {str(f) for f, s, _ in jobs if s == "train"}
    assert banked and set(banked) <= train and len(train) < len(jobs) - 1   # dev and test files lend no symbol
    made = report["composed"]
    assert made["written"] == made["made"] == len(list(out.glob("train/composed_*.png")))
    for label in out.glob("train/composed_*.txt"):
        assert set(label.read_text().split()) <= {"x", "y", "+", "=", "0", "1", "2", "3", "4", "5", "6", "7", "8",
                                                  "9", "^", "{", "}", "_", "[", "]"}


@pytest.mark.skipif(not CROHME.is_dir(), reason=f"CROHME data not found at {CROHME}")
def test_real_symbols_compose_the_demo_mix(tmp_path):
    files = [str(p) for p in sorted((CROHME / "train").rglob("*.inkml"))[::25]]  # ~350 files of every collection
    bank = inkml_compose.build_bank(files)
    assert {"x", "2", "+", "=", "\\frac", "\\sqrt"} <= set(bank.samples)
    made, report = inkml_compose.compose_many(bank, 20, 3, {"exam": 0.5, "random": 0.35, "fragment": 0.15}, set())
    assert report["made"] == 20 and len({c.tex for c in made}) == 20
    heights = [inkml.render_at(c.ink, 20).shape[0] for c in made]
    assert 20 < float(np.median(heights)) < 200
