"""Building blocks of the formula grammar: symbols, numbers, and nested expressions (space-tokenised)."""
from __future__ import annotations

import numpy as np

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


def pick(rng: np.random.Generator, items: list):
    """One item, uniformly."""
    return items[int(rng.integers(len(items)))]


def number(rng: np.random.Generator, small: bool = False) -> str:
    """A digit, a two-digit number or a decimal, digit by digit (`1 2`, `0 . 5`)."""
    r = rng.random()
    if small or r < 0.7:
        return str(int(rng.integers(1, 10)))
    if r < 0.92:
        return " ".join(str(int(rng.integers(10, 100))))
    return f"{int(rng.integers(0, 10))} . {int(rng.integers(1, 10))}"


def braced(s: str) -> str:
    """`{ s }`."""
    return "{ " + s + " }"


def atom(rng: np.random.Generator, v: str) -> str:
    """A variable with an optional coefficient or power."""
    r = rng.random()
    if r < 0.4:
        return v
    if r < 0.45:
        return f"{pick(rng, GREEK)} {v}"
    if r < 0.7:
        return f"{int(rng.integers(2, 10))} {v}"
    if r < 0.85:
        return f"{v} ^ {braced(pick(rng, ['2', '2', '3', 'n', '- 1']))}"
    return f"{int(rng.integers(2, 10))} {v} ^ {braced(pick(rng, ['2', '3']))}"


def expr(rng: np.random.Generator, v: str = "x", depth: int = 0) -> str:
    """A polynomial-like expression in variable `v`, nesting fractions, roots, powers and functions."""
    n = int(rng.integers(1, 4 if depth == 0 else 3))
    parts = [term(rng, v, depth)]
    for _ in range(n - 1):
        parts += [pick(rng, ["+", "-", "+", "-", r"\cdot"]), term(rng, v, depth)]
    if rng.random() < 0.15:
        parts.insert(0, "-")
    return " ".join(parts)


def term(rng: np.random.Generator, v: str, depth: int) -> str:
    """One summand."""
    r = rng.random() if depth < 2 else rng.random() * 0.45
    if r < 0.25:
        return atom(rng, v)
    if r < 0.4:
        return number(rng)
    if r < 0.52:
        return rf"\frac {braced(expr(rng, v, depth + 1))} {braced(expr(rng, v, depth + 1))}"
    if r < 0.6:
        idx = f"[ {pick(rng, ['3', '3', 'n'])} ] " if rng.random() < 0.25 else ""
        return rf"\sqrt {idx}{braced(expr(rng, v, depth + 1))}"
    if r < 0.7:
        return f"( {expr(rng, v, depth + 1)} ) ^ {braced(pick(rng, ['2', '3', 'n']))}"
    if r < 0.78:
        return f"| {expr(rng, v, depth + 1)} |"
    if r < 0.86:
        return f"{pick(rng, TRIG)} {trig_arg(rng, v)}"
    if r < 0.93:
        base = pick(rng, [r"\ln", r"\lg", r"\log _ { 2 }", r"\log _ { 3 }", r"\log _ { a }",
                          r"\log _ { \frac { 1 } { 2 } }"])
        return f"{base} ( {expr(rng, v, depth + 1)} )"
    return f"{pick(rng, ['e', '2', '3', 'a'])} ^ {braced(expr(rng, v, 2))}"


def trig_arg(rng: np.random.Generator, v: str) -> str:
    """What follows `\\sin`: an angle, a shifted angle, or `^ { 2 } x`."""
    r = rng.random()
    if r < 0.4:
        return pick(rng, [v, r"\alpha", r"\theta", r"\beta", "2 " + v])
    if r < 0.8:
        return (rf"( {pick(rng, ['2 ' + v, v, OMEGA + v])} {pick(rng, ['+', '-'])} \frac {{ \pi }} "
                rf"{braced(pick(rng, ['3', '4', '6']))} )")
    return rf"^ {{ 2 }} {pick(rng, [v, ALPHA])}"


def interval(rng: np.random.Generator) -> str:
    """An interval such as `( - \\infty , 2 ]`."""
    lo = pick(rng, [r"- \infty", number(rng, True), "- " + number(rng, True), "0"])
    hi = pick(rng, [r"+ \infty", number(rng, True), r"\frac { 1 } { 2 }"])
    left = "(" if "infty" in lo else pick(rng, ["(", "["])
    right = ")" if "infty" in hi else pick(rng, [")", "]"])
    return f"{left} {lo} , {hi} {right}"


def set_expr(rng: np.random.Generator) -> str:
    """A set: builder notation, a list, an interval or a number set."""
    r = rng.random()
    if r < 0.4:
        return rf"\{{ x | {expr(rng, 'x', 1)} {pick(rng, REL[1:])} 0 \}}"
    if r < 0.7:
        return r"\{ " + " , ".join(number(rng, True) for _ in range(int(rng.integers(1, 5)))) + r" \}"
    if r < 0.85:
        return interval(rng)
    return pick(rng, SETS + [r"\emptyset", r"\varnothing"])


def indexed(rng: np.random.Generator, name: str) -> str:
    """A sequence term such as `a _ { n + 1 }`."""
    return f"{name} _ {braced(pick(rng, ['n', 'n + 1', 'n - 1', '1', '2', '3', 'k', '2 n']))}"
