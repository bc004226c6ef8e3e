"""The unseen formulas of the learning benchmark (lib/bench/unseen.py): which formulas qualify, and the scores."""
from __future__ import annotations

from lib.bench.unseen import candidates


def test_only_one_line_formulas_within_the_vocabulary_and_the_length_qualify():
    lines = ["x + 1", "x + \\zeta", "x + 1 + 1 + 1", "\\begin{array} { l } x \\\\ 1 \\end{array}", "x } {", "1 + x"]
    vocab = {"x", "+", "1"}
    got = candidates(lines, vocab, max_tokens=5)
    assert sorted(i for i, _, _ in got) == [0, 5]
    assert {tuple(t) for _, _, t in got} == {("x", "+", "1"), ("1", "+", "x")}
    assert [i for i, _, _ in candidates(lines, vocab, 5, seed=0)] == [i for i, _, _ in got]  # a fixed order
