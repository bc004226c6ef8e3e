"""The course's metrics against hand-worked examples, including empty predictions and "-" lines."""
import math
import random

import pytest

from lib.evaluation import metrics
from lib.evaluation.metrics import score, score_lines, tokens


def approx(x):
    return pytest.approx(x, abs=1e-9)


def test_tokens_and_lines():
    assert tokens("x ^ { 2 }") == ["x", "^", "{", "2", "}"]
    assert tokens("-") == [] and tokens("  -  ") == [] and tokens("") == []
    assert tokens("a - b") == ["a", "-", "b"]  # a minus sign inside a formula is a token
    assert tokens("a  +\tb") == ["a", "+", "b"]
    assert metrics.line_of([]) == "-" and metrics.line_of(["a", "+", "b"]) == "a + b"


def test_perfect():
    r = [tokens("a + b = c"), tokens("\\frac { 1 } { 2 }")]
    m = score(r, [list(x) for x in r])
    assert m == {"bleu4": approx(100), "exact_match": 100, "edit_score": 100, "course_score": approx(100),
                 "cer": 0.0, "exprate": 100, "exprate_le1": 100, "exprate_le2": 100, "n": 2}
    assert set(m) == set(metrics.KEYS)


def test_one_substitution_by_hand():
    # p1=4/5 p2=3/4 p3=2/3 p4=1/2, equal lengths (BP=1): BLEU = (0.2)^(1/4)
    m = score_lines(["a + b = c"], ["a + b = d"])
    assert m["bleu4"] == approx(100 * 0.2 ** 0.25)  # 66.874...
    assert m["exact_match"] == 0 and m["edit_score"] == approx(80.0)
    assert m["course_score"] == approx((100 * 0.2 ** 0.25 + 0 + 80) / 3)
    assert m["cer"] == approx(1 / 5)
    assert (m["exprate"], m["exprate_le1"], m["exprate_le2"]) == (0, 100, 100)


def test_dash_pair_counts_as_exact_empty_pair():
    # the same pair plus ("-", "-"): the empty pair is an exact match. nltk counts at least one n-gram
    # per order for every hypothesis (denominator max(1, count)), so the empty one lowers each precision:
    # p1=4/6 p2=3/5 p3=2/4 p4=1/3, BLEU = (1/15)^(1/4)
    m = score_lines(["a + b = c", "-"], ["a + b = d", "-"])
    assert m["bleu4"] == approx(100 * (1 / 15) ** 0.25)  # 50.81...
    assert m["exact_match"] == 50 and m["edit_score"] == approx(80.0) and m["cer"] == approx(0.2)
    assert m["course_score"] == approx((100 * (1 / 15) ** 0.25 + 50 + 80) / 3)
    assert (m["exprate"], m["exprate_le1"], m["exprate_le2"], m["n"]) == (50, 100, 100, 2)


def test_empty_prediction_and_no_4gram_match_gives_zero_bleu():
    # "x ^ { 3 }" vs "x ^ { 2 }": p1=4/6 p2=2/5 p3=1/4 but p4=0/3 (the "-" prediction adds 1 to each
    # denominator and matches nothing)
    m = score_lines(["x ^ { 2 }", "a + b"], ["x ^ { 3 }", "-"])
    assert m["bleu4"] == approx(0.0)  # nltk without smoothing: one empty order zeroes the corpus score
    assert m["exact_match"] == 0
    assert m["edit_score"] == approx(100 * (1 - 4 / 8))  # distances 1 + 3 over max lengths 5 + 3
    assert m["course_score"] == approx(50 / 3)
    assert m["cer"] == approx(4 / 8)  # "x^{2}" vs "x^{3}": 1, "a+b" vs "": 3, over 5 + 3 characters
    assert (m["exprate"], m["exprate_le1"], m["exprate_le2"]) == (0, 50, 50)


@pytest.mark.filterwarnings("ignore:\\nThe hypothesis contains 0 counts")  # nltk's own warning, expected here
def test_nltk_zero_rule_matches_nltk_itself():
    from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu

    refs, hyps = [tokens("a b c d e")], [tokens("a b c x e")]  # 3 unigram-order matches, no 4-gram
    assert metrics.bleu4(refs, hyps) == approx(0.0)
    assert corpus_bleu([[r] for r in refs], hyps) == approx(0.0)
    # smoothing would have made it positive: the zero is a property of the unsmoothed definition
    assert corpus_bleu([[r] for r in refs], hyps, smoothing_function=SmoothingFunction().method1) > 0.1


def test_brevity_penalty_by_hand():
    m = score_lines(["a b c d e f"], ["a b c d"])
    assert m["bleu4"] == approx(100 * math.exp(1 - 6 / 4))  # all precisions 1, BP = e^(1 - r/c)
    assert m["edit_score"] == approx(100 * (1 - 2 / 6)) and m["cer"] == approx(2 / 6)
    assert (m["exprate"], m["exprate_le1"], m["exprate_le2"]) == (0, 0, 100)


def test_prediction_where_reference_is_dash():
    # predicting "x" for a formula-less line costs one insertion and one unmatched unigram
    m = score_lines(["a b c d", "-"], ["a b c d", "x"])
    # p1=4/5; "x" has no bigram but still adds 1 to each denominator: p2=3/4 p3=2/3 p4=1/2; BP=1
    assert m["bleu4"] == approx(100 * 0.2 ** 0.25)
    assert m["exact_match"] == 50 and m["edit_score"] == approx(80.0) and m["cer"] == approx(0.25)


def test_all_empty_edge_cases():
    m = score_lines(["-"], ["-"])
    # nltk gives BLEU 0 without any n-gram; the other metrics call the empty pair perfect
    assert (m["bleu4"], m["exact_match"], m["edit_score"], m["cer"], m["exprate"]) == (0, 100, 100, 0.0, 100)
    assert m["course_score"] == approx(200 / 3)
    m = score_lines(["-"], ["a b"])
    assert (m["bleu4"], m["exact_match"], m["edit_score"], m["cer"]) == (0, 0, 0, 1.0)
    m = score_lines(["a b"], ["-"])
    assert (m["bleu4"], m["exact_match"], m["edit_score"], m["cer"], m["exprate_le2"]) == (0, 0, 0, 1.0, 100)


def test_against_direct_formulas_on_random_data():
    import editdistance
    from nltk.translate.bleu_score import corpus_bleu

    rng = random.Random(0)
    alphabet = ["a", "b", "c", "+", "=", "\\frac", "{", "}", "^"]
    refs = [[rng.choice(alphabet) for _ in range(rng.randint(0, 12))] for _ in range(40)]
    hyps = [[t if rng.random() > 0.2 else rng.choice(alphabet) for t in r][: rng.randint(0, 14)] for r in refs]
    m = score(refs, hyps)
    assert m["bleu4"] == approx(100 * corpus_bleu([[r] for r in refs], hyps))
    d = [editdistance.eval(r, h) for r, h in zip(refs, hyps)]
    assert m["edit_score"] == approx(100 * (1 - sum(d) / sum(max(len(r), len(h)) for r, h in zip(refs, hyps))))
    assert m["exprate_le1"] == approx(100 * sum(x <= 1 for x in d) / 40)
    assert m["course_score"] == approx((m["bleu4"] + m["exact_match"] + m["edit_score"]) / 3)
    assert 0 <= m["cer"] and m["exact_match"] == m["exprate"]


def test_refuses_bad_input():
    with pytest.raises(ValueError, match="2 references but 1 predictions"):
        score([["a"], ["b"]], [["a"]])
    with pytest.raises(ValueError, match="nothing to score"):
        score([], [])
    with pytest.raises(TypeError, match="token lists"):
        score(["a b"], [["a", "b"]])


def test_rounded_turns_nltk_zero_into_zero():
    m = score_lines(["a b c d e"], ["a b c x e"])
    assert 0 < m["bleu4"] < 1e-50 and metrics.rounded(m)["bleu4"] == 0.0 and metrics.rounded(m)["n"] == 1


def test_format_table():
    text = metrics.format_table(score_lines(["a b"], ["a b"]))
    assert "bleu4" in text and "cer           0.0000" in text and text.splitlines()[-1] == "n             1"
