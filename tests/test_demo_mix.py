"""Demo formulas a prior cannot guess (lib/data/synth/broad.py) and the mix of the demo set: random formulas over
the whole vocabulary, the shapes of real exam labels, a share typeset by LaTeX (mathtext without TeX, said so)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from lib.data import render
from lib.data.latex import normalize, outside_whitelist
from lib.data.synth import generate, read_truth
from lib.data.synth.broad import _complete, exam_fragment, random_formula, sample_mixed
from lib.data.synth.dataset import mathtext_can, mix_params, mix_tag
from lib.data.synth.grammar import sample_formula
from lib.run.profiles import BROAD_MIX

MIX = {"exam": 0.4, "random": 0.4, "fragment": 0.2}


@pytest.mark.parametrize("make", [random_formula, exam_fragment])
def test_generated_formulas_are_well_formed_whitelisted_and_drawable(make):
    rng = np.random.default_rng(0)
    formulas = [make(rng) for _ in range(150)]
    for f in formulas:
        toks = normalize(f)
        assert toks and not outside_whitelist(toks), f
        assert _complete(f.split()), f
    assert sum(mathtext_can(f) for f in formulas) >= 0.95 * len(formulas)
    assert len(set(formulas)) > 0.8 * len(formulas)  # not a handful of templates


def test_random_formulas_reach_beyond_the_exam_grammar():
    rng = np.random.default_rng(1)
    exam = {t for _ in range(400) for t in normalize(sample_formula(rng))}
    broad = {t for _ in range(400) for t in normalize(random_formula(rng))}
    assert len(broad - exam) >= 40  # Greek capitals, accents, fonts, big operators... the grammar never writes
    assert len(broad) > len(exam)


def test_matrices_only_where_tex_draws_them():
    rng = np.random.default_rng(2)
    assert not any("matrix" in random_formula(rng) for _ in range(300))
    assert any("matrix" in random_formula(rng, matrices=True) for _ in range(300))


def test_fragments_have_the_shapes_of_exam_labels():
    rng = np.random.default_rng(3)
    frags = [exam_fragment(rng) for _ in range(400)]
    assert np.median([len(f.split()) for f in frags]) <= 8
    assert any("\\text" in f for f in frags) and any("\\mathrm" in f for f in frags)
    assert any("\\leqslant" in f or "\\geqslant" in f for f in frags)


def test_the_mix_is_weighed():
    rng = np.random.default_rng(4)
    kinds = [sample_mixed(rng, MIX)[1] for _ in range(1000)]
    assert abs(kinds.count("random") / 1000 - 0.4) < 0.06 and abs(kinds.count("fragment") / 1000 - 0.2) < 0.05


def test_mix_params_and_tag_name_what_made_a_set(monkeypatch):
    assert mix_params({"exam": 1.0}, 0.0) == {} and mix_tag(None, 0.0) == ""
    assert mix_tag(BROAD_MIX, 0.3) != mix_tag(BROAD_MIX, 0.0) != ""
    monkeypatch.setattr(render.shutil, "which", lambda name: None)
    assert mix_params(BROAD_MIX, 0.3)["tex_engine"] == "mathtext"


def _summary(out):
    return json.loads((out / "synth.json").read_text())["summary"]


def test_a_mixed_demo_set_counts_its_kinds_and_typesets_a_share(tmp_path):
    generate(tmp_path / "d", 4, 0, workers=1, mix=MIX, tex=0.5, show_progress=False)
    truth = read_truth(tmp_path / "d")
    s = _summary(tmp_path / "d")
    assert sum(s["formulas"].values()) >= len({(r["page"], r["latex"]) for r in truth})
    assert s["formulas"]["random"] > 0 and s["formulas"]["fragment"] > 0
    kinds = {r["kind"] for r in truth}
    if render.tex_available():
        assert "latex" in kinds and s["typeset"]["engine"] == "latex"
        assert s["typeset"]["typeset"] + sum(s["typeset"]["failed"].values()) == s["typeset"]["planned"]
        assert len(list((tmp_path / "d" / "tex").glob("*.png"))) == s["typeset"]["typeset"]
    generate(tmp_path / "again", 4, 0, workers=1, mix=MIX, tex=0.5, show_progress=False)
    assert (tmp_path / "again" / "truth.jsonl").read_bytes() == (tmp_path / "d" / "truth.jsonl").read_bytes()


def test_without_tex_the_latex_share_is_drawn_by_mathtext_and_said(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(render.shutil, "which", lambda name: None)
    generate(tmp_path / "d", 4, 0, workers=1, mix=MIX, tex=0.5, show_progress=False)
    assert "no TeX installation" in capsys.readouterr().out
    s = _summary(tmp_path / "d")
    assert s["typeset"]["engine"] == "mathtext" and s["typeset"]["typeset"] == 0
    assert {r["kind"] for r in read_truth(tmp_path / "d")} <= {"printed", "handwritten"}
    assert json.loads((tmp_path / "d" / "synth.json").read_text())["tex_engine"] == "mathtext"
