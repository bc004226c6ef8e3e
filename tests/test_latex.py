"""LaTeX tokenisation and normalisation: unit cases, and stability on every CROHME truth and demo label."""
from pathlib import Path

import pytest

from lib.data.latex import LatexError, has_cjk, is_multiline, join, normalize, outside_whitelist, tokenize
from lib.data.ocr_labels import classify

CROHME = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "crohme"
TRICKY = [
    "$x^2 + 1$", "$$\\frac12$$", "\\left( a \\right)", "\\left\\{ x \\right.", "a\\,b\\;c\\quad d\\!e",
    "\\sum\\limits^{n}_{i=1} i", "\\text{if } x", "\\mbox { erf } (x)", "x \\lt y \\gt z", "\\sqrt[3]{x}",
    "I_\\mathrm{S}", "x^\\frac12", "\\begin{cases} a & b \\\\ c & d \\end{cases}", "a \\not= b", "\\$ 5 \\%",
    "\\(x\\)", "{{x}}", "x^{a}_{b}^{c}", "x^{a}_{b}_{c}", "\\lbrack 1 \\rbrack", "\\Bigg( x \\Bigg)", "a \\ ",
    "\\text{解} x", "\\left\\lbrack x \\right\\rbrack", "x'", "\\int_0^1 f", "\\overrightarrow{AB}", "\\",
]


def test_tokenize_splits_commands_escapes_braces_and_strips_dollars():
    assert tokenize("$\\frac{a}{b_1}$") == ["\\frac", "{", "a", "}", "{", "b", "_", "1", "}"]
    assert tokenize("\\{ x \\} \\\\ y") == ["\\{", "x", "\\}", "\\\\", "y"]
    assert tokenize("\\left( x \\right)") == ["\\left(", "x", "\\right)"]
    assert tokenize("\\begin {array}{l} x \\end{array}")[0] == "\\begin{array}"
    assert tokenize("\\(a+b\\)") == ["a", "+", "b"]
    assert tokenize("sin") == ["s", "i", "n"]


def test_normalize_canonical_spelling():
    assert join(normalize("$x^2_1 + \\frac12$")) == "x _ { 1 } ^ { 2 } + \\frac { 1 } { 2 }"
    assert join(normalize("a\\,b\\;c\\quad d \\! e")) == "a b c d e"
    assert join(normalize("\\sum\\limits_{i=1}^n")) == "\\sum _ { i = 1 } ^ { n }"
    assert join(normalize("x \\lt y \\gt z \\le 1")) == "x < y > z \\leq 1"
    assert join(normalize("\\mbox{if}")) == "\\text { i f }"
    assert join(normalize("\\left( x \\right)")) == "( x )"
    assert join(normalize("\\left\\lbrace x \\right.", keep_sizing=True)) == "\\left\\{ x \\right."
    assert join(normalize("\\left\\{ x \\right.")) == "\\{ x"
    assert join(normalize("\\mbox { erf } x", plain=True)) == "e r f x"
    assert join(normalize("\\Bigg( x \\Bigg)")) == "( x )"
    assert join(normalize("a \\not= b")) == "a \\neq b"
    assert join(normalize("I_\\mathrm{S}")) == "I _ { \\mathrm { S } }"
    assert join(normalize("\\sqrt[3]x")) == "\\sqrt [ 3 ] { x }"
    assert join(normalize("{{x}}")) == "{ x }"
    assert join(normalize("x ≤ 3 × 2")) == "x \\leq 3 \\times 2"


def test_malformed_and_multiline_and_text_checks():
    with pytest.raises(LatexError, match="unbalanced braces"):
        normalize("\\frac{a}{b")
    with pytest.raises(LatexError, match="left"):
        normalize("\\left( x")
    assert is_multiline("\\begin{array}{l} a \\\\ b \\end{array}")
    assert is_multiline("a \\\\ b") and is_multiline("$a$\n$b$")
    assert not is_multiline("\\begin{cases} a \\\\ b \\end{cases}") and not is_multiline("a + b\n")
    assert has_cjk(normalize("\\text{解} x")) and not has_cjk("x")
    assert outside_whitelist(normalize("x \\foo é")) == ["\\foo", "é"]
    assert classify("error mathpix").reason == "ocr_error" and classify("$ $").reason == "empty"
    assert classify("$a+b+c$", max_tokens=3).reason == "too_long"


@pytest.mark.parametrize("text", TRICKY)
@pytest.mark.parametrize("plain", [False, True])
def test_stable_on_tricky_inputs(text, plain):
    t = tokenize(text)
    assert tokenize(join(t)) == t
    try:
        n = normalize(text, plain=plain)
    except LatexError:
        return
    assert normalize(join(n), plain=plain) == n


def _check_stable(texts, plain):
    unstable, malformed = [], 0
    for s in texts:
        t = tokenize(s)
        if tokenize(join(t)) != t:
            unstable.append(("tokenize", s))
        try:
            n = normalize(s, plain=plain)
        except LatexError:
            malformed += 1
            continue
        if normalize(join(n), plain=plain) != n:
            unstable.append(("normalize", s))
    assert not unstable, unstable[:5]
    return malformed


@pytest.mark.skipif(not CROHME.is_dir(), reason=f"CROHME data not found at {CROHME}")
def test_stable_on_every_crohme_truth():
    from lib.data.inkml import InkmlError, read_truth

    truths = []
    for f in sorted(CROHME.rglob("*.inkml")):
        try:
            truth = read_truth(f)
        except InkmlError:
            continue
        if truth:
            truths.append(truth)
    assert len(truths) > 9000
    malformed = _check_stable(truths, plain=True)
    assert malformed < 10   # two truths in CROHME 2014 have an extra '}'


def test_stable_on_every_demo_label(tmp_path):
    import json

    from lib.data import synth
    from lib.data.ocr_labels import LabelError, read_label

    synth.generate(tmp_path / "demo", 4, 0)
    texts = [json.loads(line)["latex"] for line in (tmp_path / "demo" / "truth.jsonl").read_text().splitlines()]
    for p in sorted((tmp_path / "demo").rglob("*.txt")):
        if p.name == "classes.txt" or p.parent.parent.name == "pages":
            continue
        try:
            texts.append(read_label(p)[0])
        except LabelError:
            pass
    assert len(texts) > 10
    _check_stable(texts, plain=False)
