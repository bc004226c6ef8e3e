"""The LaTeX renderer (lib/data/render.py): many formulas per pdflatex run, each failure reported with its reason,
the pages matched to the right formulas after a failure, and mathtext when there is no TeX."""
from __future__ import annotations

import json

import numpy as np
import pytest

from lib.data import render
from lib.data.render import TexStyle, check_formula, choose_engine, render_folder, render_mathtext, render_tex

needs_tex = pytest.mark.skipif(not render.tex_available(),
                               reason="pdflatex/pdftoppm not installed (" + render.TEX_PACKAGES + ")")
GOOD = [r"x ^ { 2 } + y ^ { 2 } = 1", r"\frac { a } { b }", r"\sum _ { i = 1 } ^ { n } i", r"\alpha \beta"]


def test_formulas_that_cannot_go_to_tex_are_refused_with_a_reason():
    assert check_formula(GOOD[1]) is None
    assert "unbalanced" in check_formula(r"\frac { 1 } { 2")
    assert "unbalanced" in check_formula(r"x } {")
    assert "not allowed" in check_formula(r"x \input { /etc/passwd }")
    assert "not allowed" in check_formula(r"\end { document }")
    assert check_formula("  ") == "empty formula"
    assert check_formula(r"5 0 \%") is None and "comment" in check_formula("5 0 % x")


@needs_tex
def test_tex_typesets_each_formula_on_its_own_page_and_reports_failures():
    formulas = [GOOD[0], r"\undefinedcommand x", GOOD[1], r"x \hspace { 1 c m } y", r"\frac { 1 } { 2", GOOD[2]]
    images, failed = render_tex(formulas, workers=1, chunk=4)
    assert set(failed) == {1, 3, 4}
    assert "Undefined control sequence" in failed[1] and "unbalanced" in failed[4]
    for i in (0, 2, 5):
        img = images[i]
        assert img.dtype == np.uint8 and img.ndim == 2 and img.min() < 100 and img.max() == 255
        alone = render_tex([formulas[i]], workers=1)[0][0]
        assert alone.shape == img.shape  # the page after a failure is still its own formula's


@needs_tex
def test_styles_change_the_look(tmp_path):
    small = render_tex([GOOD[1]], TexStyle(size=10, dpi=100))[0][0]
    large = render_tex([GOOD[1]], TexStyle(size=12, dpi=200))[0][0]
    text = render_tex([GOOD[1]], TexStyle(display=False, dpi=200))[0][0]
    times = render_tex([GOOD[0]], TexStyle(font="times", dpi=200))[0][0]
    cm = render_tex([GOOD[0]], TexStyle(font="cm", dpi=200))[0][0]
    assert large.shape[0] > 1.6 * small.shape[0]
    assert text.shape[0] < large.shape[0]  # \textstyle sets a smaller fraction
    assert times.shape != cm.shape or not np.array_equal(times, cm)


@needs_tex
def test_render_folder_writes_images_truths_and_a_report(tmp_path):
    r = render_folder(GOOD + [r"\nosuchmacro"], tmp_path, "latex", workers=2)
    assert r["engine"] == "latex" and r["rendered"] == 4 and r["failed"] == 1
    assert r["reasons"] == {"TeX error": 1} and r["failures"][0]["formula"] == r"\nosuchmacro"
    assert (tmp_path / "000000.txt").read_text(encoding="utf-8").strip() == GOOD[0]
    assert len(list(tmp_path.glob("*.png"))) == 4 and not (tmp_path / "000004.png").exists()
    assert json.loads((tmp_path / "render_report.json").read_text())["failed"] == 1


def test_without_tex_the_engine_is_mathtext_and_latex_is_refused(monkeypatch, tmp_path):
    monkeypatch.setattr(render.shutil, "which", lambda name: None)
    assert choose_engine("auto") == "mathtext"
    with pytest.raises(RuntimeError, match="texlive-latex-base"):
        choose_engine("latex")
    r = render_folder([GOOD[0], r"\nosuchmacro x"], tmp_path, "auto")
    assert r["engine"] == "mathtext" and r["rendered"] == 1 and r["failed"] == 1
    assert (tmp_path / "000000.png").is_file()


def test_mathtext_images_are_cropped_grey():
    images, failed = render_mathtext([GOOD[0]])
    assert not failed and images[0].dtype == np.uint8 and images[0][0].min() == 255 and images[0].min() < 100


def test_the_command_line(tmp_path, capsys):
    src = tmp_path / "formulas.lst"
    src.write_bytes((GOOD[0] + "\n" + GOOD[1] + "\r\n").encode())  # a carriage return inside stays white space
    assert render.main([str(src), str(tmp_path / "out"), "--engine", "mathtext"]) == 0
    assert "2 of 2 formulas typeset by mathtext" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["000000.png", "000001.png"]
