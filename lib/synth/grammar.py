"""A grammar of secondary-school exam mathematics: space-tokenised LaTeX that matplotlib mathtext renders."""
from __future__ import annotations

from typing import Callable

import numpy as np

MIN_TOKENS, MAX_TOKENS = 3, 80

VARS = list("xxxxyztmnuvwrs")
POINTS = list("ABCDEFGHKLMNOPQRST")
GREEK = [r"\alpha", r"\beta", r"\gamma", r"\theta", r"\varphi", r"\omega", r"\lambda", r"\mu",
         r"\phi", r"\rho", r"\sigma", r"\delta", r"\varepsilon"]
TRIG = [r"\sin", r"\cos", r"\tan", r"\sin", r"\cos", r"\tan", r"\cot"]
REL = ["=", "<", ">", r"\leq", r"\geq", r"\neq"]
SETS = [r"\mathbb { R }", r"\mathbb { N }", r"\mathbb { Z }", r"\mathbb { Q }"]

# Choices used inside f-strings (Python 3.11 forbids backslashes in f-string expressions).
OMEGA, LOG, ALPHA = r"\omega ", r"\log _ { ", r"\alpha"
LT, CAPCUP, PLUS_DOT = ["<", r"\leq"], [r"\cap", r"\cup"], ["+", r"\cdot"]
SUM_BODIES = [r"\frac { 1 } { k ( k + 1 ) }", "k ^ { 2 }", "a _ { k }", "( 2 k - 1 )"]
TRIG_VALS = [r"\frac { \sqrt { 3 } } { 2 }", r"\frac { 1 } { 2 }", r"- \frac { 3 } { 5 }", "2"]
PAR_PERP, CONG_SIM = [r"\parallel", r"\perp", "="], [r"\cong", r"\sim"]
LIM_VALS = ["1", "0", "e", r"\frac { 1 } { 2 }", r"\infty"]
INT_VALS, VEC_VALS = [r"\frac { 1 } { 3 }", r"\ln 2"], ["0", r"\vec { 0 }", "( 1 , 2 )"]
ARITH, JOINERS = ["+", "-", r"\times", r"\div"], [r"\Rightarrow", r"\Leftrightarrow", ",", ";"]
QUANT, ARROWS = [r"\forall", r"\exists"], [r"\Rightarrow", r"\Leftrightarrow", r"\Leftarrow"]
SUPERSETS, IN_NOTIN, MAXMIN = ["B", "N", "P", r"\mathbb { R }"], [r"\in", r"\notin"], [r"\max", r"\min"]
DOTS, PERCENT = [r"\cdots", r"\ldots"], [r"\%", ". 2", ". 5"]
WEDGE_VEE, ARC = [r"\wedge", r"\vee"], [r"\arcsin", r"\arccos", r"\arctan"]
SUBSETS = [r"\subseteq", r"\subset", r"\subsetneq", r"\supseteq", r"\supset"]


def _c(rng: np.random.Generator, items: list):
    return items[int(rng.integers(len(items)))]


def _num(rng: np.random.Generator, small: bool = False) -> str:
    r = rng.random()
    if small or r < 0.7:
        return str(int(rng.integers(1, 10)))
    if r < 0.92:
        return " ".join(str(int(rng.integers(10, 100))))
    return f"{int(rng.integers(0, 10))} . {int(rng.integers(1, 10))}"


def _g(s: str) -> str:
    return "{ " + s + " }"


def _atom(rng: np.random.Generator, v: str) -> str:
    r = rng.random()
    if r < 0.4:
        return v
    if r < 0.45:
        return f"{_c(rng, GREEK)} {v}"
    if r < 0.7:
        return f"{int(rng.integers(2, 10))} {v}"
    if r < 0.85:
        return f"{v} ^ {_g(_c(rng, ['2', '2', '3', 'n', '- 1']))}"
    return f"{_num(rng, True)} {v} ^ {_g(_c(rng, ['2', '3']))}"


def expr(rng: np.random.Generator, v: str = "x", depth: int = 0) -> str:
    """A polynomial-like expression in variable `v`, nesting fractions, roots, powers and functions."""
    n = int(rng.integers(1, 4 if depth == 0 else 3))
    parts = [term(rng, v, depth)]
    for _ in range(n - 1):
        parts += [_c(rng, ["+", "-", "+", "-", r"\cdot"]), term(rng, v, depth)]
    if rng.random() < 0.15:
        parts.insert(0, "-")
    return " ".join(parts)


def term(rng: np.random.Generator, v: str, depth: int) -> str:
    """One summand."""
    r = rng.random() if depth < 2 else rng.random() * 0.45
    if r < 0.25:
        return _atom(rng, v)
    if r < 0.4:
        return _num(rng)
    if r < 0.52:
        return rf"\frac {_g(expr(rng, v, depth + 1))} {_g(expr(rng, v, depth + 1))}"
    if r < 0.6:
        idx = f"[ {_c(rng, ['3', '3', 'n'])} ] " if rng.random() < 0.25 else ""
        return rf"\sqrt {idx}{_g(expr(rng, v, depth + 1))}"
    if r < 0.7:
        return f"( {expr(rng, v, depth + 1)} ) ^ {_g(_c(rng, ['2', '3', 'n']))}"
    if r < 0.78:
        return f"| {expr(rng, v, depth + 1)} |"
    if r < 0.86:
        return f"{_c(rng, TRIG)} {_trig_arg(rng, v)}"
    if r < 0.93:
        base = _c(rng, [r"\ln", r"\lg", r"\log _ { 2 }", r"\log _ { 3 }", r"\log _ { a }", r"\log _ { \frac { 1 } { 2 } }"])
        return f"{base} ( {expr(rng, v, depth + 1)} )"
    return f"{_c(rng, ['e', '2', '3', 'a'])} ^ {_g(expr(rng, v, 2))}"


def _trig_arg(rng: np.random.Generator, v: str) -> str:
    r = rng.random()
    if r < 0.4:
        return _c(rng, [v, r"\alpha", r"\theta", r"\beta", "2 " + v])
    if r < 0.8:
        return rf"( {_c(rng, ['2 ' + v, v, OMEGA + v])} {_c(rng, ['+', '-'])} \frac {{ \pi }} {_g(_c(rng, ['3', '4', '6']))} )"
    return rf"^ {{ 2 }} {_c(rng, [v, ALPHA])}"


def _interval(rng: np.random.Generator) -> str:
    lo = _c(rng, [r"- \infty", _num(rng, True), "- " + _num(rng, True), "0"])
    hi = _c(rng, [r"+ \infty", _num(rng, True), r"\frac { 1 } { 2 }"])
    left = "(" if "infty" in lo else _c(rng, ["(", "["])
    right = ")" if "infty" in hi else _c(rng, [")", "]"])
    return f"{left} {lo} , {hi} {right}"


def _set(rng: np.random.Generator) -> str:
    r = rng.random()
    if r < 0.4:
        return rf"\{{ x | {expr(rng, 'x', 1)} {_c(rng, REL[1:])} 0 \}}"
    if r < 0.7:
        return r"\{ " + " , ".join(_num(rng, True) for _ in range(int(rng.integers(1, 5)))) + r" \}"
    if r < 0.85:
        return _interval(rng)
    return _c(rng, SETS + [r"\emptyset", r"\varnothing"])


def _sub(rng: np.random.Generator, name: str) -> str:
    return f"{name} _ {_g(_c(rng, ['n', 'n + 1', 'n - 1', '1', '2', '3', 'k', '2 n']))}"


def f_function(rng):
    name = _c(rng, ["f ( x )", "f ( x )", "g ( x )", "y", "h ( x )", "f ' ( x )"])
    return f"{name} = {expr(rng)}"


def f_value(rng):
    arg = _c(rng, ["2", "- 1", "0", r"\frac { 1 } { 2 }", "a", r"\frac { \pi } { 6 }", "x + 1"])
    return f"{_c(rng, ['f', 'g'])} ( {arg} ) = {expr(rng, 'a', 1) if rng.random() < 0.4 else _num(rng)}"


def f_equation(rng):
    v = _c(rng, VARS)
    if rng.random() < 0.3:
        return f"{v} _ {{ 1 }} = {_num(rng)} , {v} _ {{ 2 }} = {_c(rng, ['- ', ''])}{_num(rng)}"
    return f"{expr(rng, v)} = {expr(rng, v, 1) if rng.random() < 0.5 else _num(rng)}"


def f_inequality(rng):
    if rng.random() < 0.35:
        return f"- {_num(rng, True)} {_c(rng, LT)} x {_c(rng, LT)} {_num(rng, True)}"
    return f"{expr(rng)} {_c(rng, REL[1:])} {_c(rng, ['0', _num(rng), expr(rng, 'x', 1)])}"


def f_set(rng):
    r = rng.random()
    if r < 0.4:
        return f"{_c(rng, ['A', 'B', 'M', 'P'])} = {_set(rng)}"
    if r < 0.7:
        return f"A {_c(rng, CAPCUP)} B = {_set(rng)}"
    if r < 0.85:
        return rf"x \in {_set(rng)}"
    return rf"\complement _ {{ U }} A = {_set(rng)}"


def f_sequence(rng):
    r = rng.random()
    if r < 0.35:
        return f"{_sub(rng, 'a')} = {_c(rng, ['2', '3', ''])} a _ {{ n }} {_c(rng, ['+', '-'])} {_num(rng, True)}"
    if r < 0.6:
        return rf"S _ {{ n }} = \frac {{ n ( a _ {{ 1 }} + a _ {{ n }} ) }} {{ 2 }}" if rng.random() < 0.3 else \
            rf"S _ {{ n }} = {expr(rng, 'n', 1)}"
    if r < 0.8:
        return rf"\sum _ {{ k = 1 }} ^ {{ n }} {_c(rng, SUM_BODIES)} = {expr(rng, 'n', 1)}"
    return f"{_sub(rng, 'b')} = {_c(rng, ['a _ { n }', '2 ^ { n }', 'n'])} {_c(rng, PLUS_DOT)} {_sub(rng, 'a')}"


def f_trig(rng):
    r = rng.random()
    a = _c(rng, GREEK[:6] + ["x", "x"])
    if r < 0.25:
        return rf"\sin ^ {{ 2 }} {a} + \cos ^ {{ 2 }} {a} = 1"
    if r < 0.5:
        return rf"{_c(rng, TRIG)} ( {a} {_c(rng, ['+', '-'])} \frac {{ \pi }} {_g(_c(rng, ['3', '4', '6']))} ) = {expr(rng, 'x', 2)}"
    if r < 0.75:
        return rf"\angle {_c(rng, POINTS)} = {_c(rng, ['3 0', '4 5', '6 0', '9 0', '1 2 0'])} ^ {{ \circ }}"
    return f"{_c(rng, TRIG)} {a} = {_c(rng, TRIG_VALS)}"


def f_log(rng):
    b = _c(rng, ["2", "3", "a", r"\frac { 1 } { 2 }"])
    return rf"\log _ {_g(b)} {_c(rng, ['x', '8', '( x - 1 )', '9'])} {_c(rng, REL)} {_c(rng, ['1', '2', LOG + b + ' } 3', '0'])}"


def _vec(rng) -> str:
    if rng.random() < 0.5:
        return rf"\vec {{ {_c(rng, ['a', 'b', 'c'])} }}"
    p, q = rng.choice(POINTS, 2, replace=False)
    return rf"\overrightarrow {{ {p} {q} }}"


def f_vector(rng):
    r = rng.random()
    a, b = _vec(rng), _vec(rng)
    if r < 0.35:
        return rf"{a} \cdot {b} = | {a} | | {b} | \cos \theta"
    if r < 0.7:
        return f"{a} = ( {_c(rng, ['', '- '])}{_num(rng, True)} , {_num(rng, True)} )"
    return rf"{a} {_c(rng, ['+', '-'])} {_num(rng, True)} {b} = {_c(rng, VEC_VALS)}"


def _seg(rng) -> str:
    p, q = rng.choice(POINTS, 2, replace=False)
    return f"{p} {q}"


def f_geometry(rng):
    r = rng.random()
    tri = lambda: r"\triangle " + " ".join(rng.choice(POINTS, 3, replace=False))  # noqa: E731
    pre = _c(rng, [r"\because ", r"\therefore ", ""])
    if r < 0.3:
        return f"{pre}{_seg(rng)} {_c(rng, PAR_PERP)} {_seg(rng)}"
    if r < 0.55:
        return f"{pre}{tri()} {_c(rng, CONG_SIM)} {tri()}"
    if r < 0.8:
        return rf"{pre}\angle {_c(rng, ['1', '2', 'A', 'B'])} = \angle {_c(rng, ['2', '3', 'C', 'D'])}"
    return rf"{pre}\overline {{ {_seg(rng)} }} = {_num(rng, True)} \sqrt {{ {_num(rng, True)} }}"


def f_abs(rng):
    return f"| x {_c(rng, ['-', '+'])} {_num(rng, True)} | + | x {_c(rng, ['-', '+'])} {_num(rng, True)} | {_c(rng, REL[1:])} {_num(rng, True)}"


def f_limit(rng):
    v, to = _c(rng, [("x", "0"), ("x", r"\infty"), ("n", r"\infty"), ("x", "1")])
    body = _c(rng, [rf"\frac {{ \sin {v} }} {{ {v} }}", expr(rng, v, 1), rf"( 1 + \frac {{ 1 }} {{ {v} }} ) ^ {{ {v} }}"])
    return rf"\lim _ {{ {v} \to {to} }} {body} = {_c(rng, LIM_VALS)}"


def f_integral(rng):
    lo, hi = _c(rng, [("0", "1"), ("1", "2"), ("0", r"\pi"), ("- 1", "1"), ("1", "e")])
    return rf"\int _ {{ {lo} }} ^ {{ {hi} }} ( {expr(rng, 'x', 1)} ) d x = {_c(rng, [_num(rng)] + INT_VALS)}"


def f_misc(rng):
    r = rng.random()
    if r < 0.3:
        return rf"P ( {_c(rng, ['A', 'B', 'A B'])} ) = \frac {_g(_num(rng, True))} {_g(_num(rng))}"
    if r < 0.55:
        return rf"C _ {_g(_num(rng, True))} ^ {_g(_num(rng, True))} = {_num(rng)}"
    if r < 0.8:
        return rf"\sqrt [ 3 ] {_g(_num(rng))} {_c(rng, ARITH)} {_num(rng)} \approx {_num(rng)}"
    return rf"{f_function(rng)} , x \in {_interval(rng)}"


def f_logic(rng):
    r = rng.random()
    v = _c(rng, VARS)
    if r < 0.3:
        return rf"{_c(rng, QUANT)} {v} \in {_c(rng, SETS)} , {expr(rng, v, 1)} {_c(rng, REL[1:])} 0"
    if r < 0.6:
        return rf"{_c(rng, ['A', 'B', 'M'])} {_c(rng, SUBSETS)} {_c(rng, SUPERSETS)}"
    if r < 0.8:
        return rf"{_num(rng, True)} {_c(rng, IN_NOTIN)} {_c(rng, ['A', 'B'])} {_c(rng, ARROWS)} {expr(rng, 'a', 1)} {_c(rng, REL)} {_num(rng, True)}"
    return rf"p : {expr(rng, v, 1)} {_c(rng, REL[1:])} 0 , q : {v} {_c(rng, REL[1:])} {_num(rng, True)}"


def f_algebra(rng):
    r = rng.random()
    if r < 0.2:
        return r"x = \frac { - b \pm \sqrt { b ^ { 2 } - 4 a c } } { 2 a }"
    if r < 0.4:
        return rf"\Delta = {_c(rng, ['b ^ { 2 } - 4 a c', expr(rng, 'm', 1)])} {_c(rng, REL)} 0"
    if r < 0.6:
        return rf"{_c(rng, ['f', 'g'])} ( x ) _ {{ {_c(rng, MAXMIN)} }} = {_c(rng, ['f', 'g'])} ( {_num(rng, True)} ) = {_num(rng)}"
    if r < 0.8:
        return rf"a _ {{ 1 }} + a _ {{ 2 }} + {_c(rng, DOTS)} + a _ {{ n }} = {expr(rng, 'n', 1)}"
    return rf"{_c(rng, ['y', 'f ( x )'])} ' = {expr(rng, 'x', 1)} {_c(rng, ['> 0', '< 0', ''])}"


def f_stats(rng):
    r = rng.random()
    if r < 0.35:
        return rf"\bar {{ x }} = \frac {{ {' + '.join(_num(rng) for _ in range(int(rng.integers(2, 5))))} }} {_g(_num(rng, True))}"
    if r < 0.7:
        return rf"{_c(rng, ['E', 'D'])} ( X ) = {_num(rng, True)} \times {_num(rng, True)} . {_num(rng, True)} + {_num(rng, True)} \times {_num(rng, True)} . {_num(rng, True)}"
    return rf"P ( X = {_num(rng, True)} ) = {_num(rng, True)} {_c(rng, PERCENT)}"


def f_complex(rng):
    r = rng.random()
    a, b = _num(rng, True), _num(rng, True)
    if r < 0.4:
        return f"z = {a} {_c(rng, ['+', '-'])} {b} i"
    if r < 0.7:
        return rf"| z | = \sqrt {{ {a} ^ {{ 2 }} + {b} ^ {{ 2 }} }} = {_num(rng)}"
    return rf"\bar {{ z }} = \frac {{ {a} - i }} {{ {b} + i }} , i ^ {{ 2 }} = - 1"


def f_extra(rng):
    r = rng.random()
    if r < 0.2:
        return rf"l _ {{ 1 }} {_c(rng, PAR_PERP[:2])} l _ {{ 2 }}"
    if r < 0.35:
        return rf"\odot O : ( x - {_num(rng, True)} ) ^ {{ 2 }} + y ^ {{ 2 }} = {_num(rng)}"
    if r < 0.55:
        return rf"A _ {_g(_num(rng, True))} ^ {_g(_num(rng, True))} = \frac {{ n ! }} {{ ( n - {_num(rng, True)} ) ! }}"
    if r < 0.7:
        return rf"\neg p : {_c(rng, QUANT)} x \in \mathbb {{ R }} , x ^ {{ 2 }} {_c(rng, REL[1:])} {_num(rng, True)}"
    if r < 0.85:
        return rf"p {_c(rng, WEDGE_VEE)} q"
    return rf"x = {_c(rng, ARC)} {_c(rng, TRIG_VALS[:2])} , \{{ x \mid x {_c(rng, REL[1:])} {_num(rng, True)} \}}"


TEMPLATES: list[tuple[Callable[[np.random.Generator], str], float]] = [
    (f_function, 3), (f_value, 1), (f_equation, 2), (f_inequality, 1.5), (f_set, 1.5), (f_sequence, 1.5),
    (f_trig, 1.5), (f_log, 1), (f_vector, 1), (f_geometry, 1.5), (f_abs, 0.7), (f_limit, 0.8),
    (f_integral, 0.8), (f_misc, 1), (f_logic, 1), (f_algebra, 1), (f_stats, 0.6),
    (f_complex, 0.5), (f_extra, 0.8),
]
_WEIGHTS = np.array([w for _, w in TEMPLATES]) / sum(w for _, w in TEMPLATES)


def sample_formula(rng: np.random.Generator, min_tokens: int = MIN_TOKENS, max_tokens: int = MAX_TOKENS) -> str:
    """One formula as clean LaTeX, tokens separated by single spaces (`\\frac { 1 } { x ^ { 2 } }`)."""
    while True:
        make = TEMPLATES[int(rng.choice(len(TEMPLATES), p=_WEIGHTS))][0]
        s = make(rng)
        if rng.random() < 0.15 and "=" in s and "\\Rightarrow" not in s:
            s = f"{s} {_c(rng, JOINERS)} {make(rng)}"
        s = " ".join(s.split())
        if min_tokens <= len(s.split()) <= max_tokens:
            return s


def compact(latex: str) -> str:
    """Join space-separated tokens the way TeX users type them (`\\frac{1}{x^{2}}`; mathtext needs this)."""
    out: list[str] = []
    for tok in latex.split():
        if out and out[-1][-1].isalpha() and out[-1].startswith("\\") and (tok[0].isalnum()):
            out.append(" ")
        out.append(tok)
    return "".join(out)
