"""Error analysis (alignments, confusions, length bins, error picks) and formula rendering."""
import random

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from lib.evaluation import analysis
from lib.evaluation.analysis import GAP  # noqa: E402
from lib.evaluation.metrics import levenshtein, tokens  # noqa: E402
from lib.viz import formulas, galleries  # noqa: E402
from lib.run.tables import markdown_table  # noqa: E402


def test_align_is_a_minimum_edit_alignment():
    ref, hyp = tokens("x ^ { 2 } + y"), tokens("x ^ { 3 } y z")
    pairs = analysis.align(ref, hyp)
    assert [a for a, _ in pairs if a is not None] == ref and [b for _, b in pairs if b is not None] == hyp
    assert sum(a != b for a, b in pairs) == levenshtein(ref, hyp) == 3
    assert ("2", "3") in pairs and ("+", None) in pairs and (None, "z") in pairs
    # ties in edit count keep the matching "y" rather than substituting twice
    assert analysis.align(tokens("+ y"), tokens("y z")) == [("+", None), ("y", "y"), (None, "z")]
    assert analysis.align([], ["a"]) == [(None, "a")] and analysis.align(["a"], []) == [("a", None)]
    rng = random.Random(1)
    for _ in range(200):
        r, h = ([rng.choice("abc") for _ in range(rng.randint(0, 7))] for _ in range(2))
        pairs = analysis.align(r, h)
        assert sum(a != b for a, b in pairs) == levenshtein(r, h)
        assert [a for a, _ in pairs if a is not None] == r and [b for _, b in pairs if b is not None] == h


def test_confusions_counts_substitutions_deletions_insertions():
    refs = [tokens("a + b"), tokens("a + c"), tokens("x")]
    hyps = [tokens("a - b"), tokens("a - c d"), tokens("-")]
    assert analysis.confusions(refs, hyps) == [("+", "-", 2), ("x", GAP, 1), (GAP, "d", 1)]
    assert analysis.confusions(refs, hyps, top=1) == [("+", "-", 2)]


def test_by_length_bins():
    refs = [tokens("a"), tokens("a b"), tokens(" ".join("a" * 15)), []]
    hyps = [tokens("a"), tokens("a c"), tokens(" ".join("a" * 15)), []]
    rows = analysis.by_length(refs, hyps, edges=(10, 20))
    assert [r["length"] for r in rows] == ["0", "1-10", "11-20"]
    assert rows[1] == {"length": "1-10", "n": 2, "exact_match": 50.0, "exprate_le1": 100.0,
                       "edit_score": 100 * (1 - 1 / 3)}
    assert rows[2]["exact_match"] == 100.0 and rows[0]["n"] == 1
    assert analysis.bin_label(25, (10, 20)) == ">20"


def test_select_errors_spreads_from_nearest_to_worst():
    refs = [tokens("a b c d")] * 6
    hyps = [tokens("a b c d"), tokens("a b c x"), tokens("-"), tokens("a x c x"), tokens("x x x d"), tokens("a b")]
    picks = analysis.select_errors(refs, hyps, k=3)
    assert picks == [1, 5, 2]  # distances sorted 1, 2, 2, 3, 4: the nearest, the middle, the worst
    assert 0 not in analysis.select_errors(refs, hyps, k=10) and len(analysis.select_errors(refs, hyps, 10)) == 5


def test_markdown_table():
    text = markdown_table([{"model": "m|1", "bleu4": 12.3456, "n": 3}])
    assert text.splitlines() == ["| model | bleu4 | n |", "|---|---|---|", "| m\\|1 | 12.35 | 3 |"]


def test_render_and_gallery():
    assert formulas.can_render("\\frac { a } { b }")
    assert not formulas.can_render("\\frac { a }") and not formulas.can_render("-")
    assert not formulas.can_render("\\begin{array} { c } a \\end{array}")
    img = np.full((20, 60), 255, np.uint8)
    fig = galleries.error_gallery([img, None], ["x ^ { 2 }", "a"], ["x ^ { 3 }", "\\frac { a }"],
                                  names=["a.png", "b.png"], title="errors")
    fig.canvas.draw()  # an unrenderable prediction must not break drawing
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "$x^{2}$" in texts and "\\frac { a }" in texts and "(no image)" in texts
    fig = galleries.error_gallery([img], ["a"], ["-"])
    assert "- (no formula)" in [t.get_text() for ax in fig.axes for t in ax.texts]
    empty = galleries.error_gallery([], [], [])
    empty.canvas.draw()


def _picture(draw) -> np.ndarray:
    """What `draw(ax)` puts on a small figure, as a grey image."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 1), dpi=100)
    ax.set_axis_off()
    draw(ax)
    fig.canvas.draw()
    img = np.asarray(fig.canvas.buffer_rgba())[..., :3].mean(-1)
    plt.close(fig)
    return img


def _typed(text: str):
    return lambda ax: ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=20, transform=ax.transAxes)


def test_rendered_formulas_show_their_scripts():
    """Tokens are drawn from a compact join: `t ^ { 3 }` must put the 3 up, as `t^{3}` does, not on the
    baseline as mathtext draws the spaced tokens."""
    spaced = r"4 t ^ { 3 } \Rightarrow x _ { 1 }"
    assert formulas.mathtext(spaced) == r"$4t^{3}\Rightarrow x_{1}$"
    drawn = _picture(lambda ax: formulas.draw_formula(ax, spaced, fontsize=20))
    assert np.array_equal(drawn, _picture(_typed(r"$4t^{3}\Rightarrow x_{1}$")))
    assert not np.array_equal(drawn, _picture(_typed(f"${spaced}$")))  # what the spaced tokens would give
