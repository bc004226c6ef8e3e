"""Exam topics: one template per kind of formula (functions, sets, trigonometry, geometry ...)."""
from __future__ import annotations

from typing import Callable

import numpy as np

from .expressions import (
    ARC,
    ARITH,
    ARROWS,
    CAPCUP,
    CONG_SIM,
    DOTS,
    GREEK,
    IN_NOTIN,
    INT_VALS,
    LIM_VALS,
    LOG,
    LT,
    MAXMIN,
    PAR_PERP,
    PERCENT,
    PLUS_DOT,
    POINTS,
    QUANT,
    REL,
    SETS,
    SUBSETS,
    SUM_BODIES,
    SUPERSETS,
    TRIG,
    TRIG_VALS,
    VARS,
    VEC_VALS,
    WEDGE_VEE,
    braced,
    expr,
    indexed,
    interval,
    number,
    pick,
    set_expr,
)


def f_function(rng: np.random.Generator) -> str:
    """A function definition, `f ( x ) = ...`."""
    name = pick(rng, ["f ( x )", "f ( x )", "g ( x )", "y", "h ( x )", "f ' ( x )"])
    return f"{name} = {expr(rng)}"


def f_value(rng: np.random.Generator) -> str:
    """A function value, `f ( 2 ) = ...`."""
    arg = pick(rng, ["2", "- 1", "0", r"\frac { 1 } { 2 }", "a", r"\frac { \pi } { 6 }", "x + 1"])
    return f"{pick(rng, ['f', 'g'])} ( {arg} ) = {expr(rng, 'a', 1) if rng.random() < 0.4 else number(rng)}"


def f_equation(rng: np.random.Generator) -> str:
    """An equation or its roots."""
    v = pick(rng, VARS)
    if rng.random() < 0.3:
        return f"{v} _ {{ 1 }} = {number(rng)} , {v} _ {{ 2 }} = {pick(rng, ['- ', ''])}{number(rng)}"
    return f"{expr(rng, v)} = {expr(rng, v, 1) if rng.random() < 0.5 else number(rng)}"


def f_inequality(rng: np.random.Generator) -> str:
    """An inequality or a range."""
    if rng.random() < 0.35:
        return f"- {number(rng, True)} {pick(rng, LT)} x {pick(rng, LT)} {number(rng, True)}"
    return f"{expr(rng)} {pick(rng, REL[1:])} {pick(rng, ['0', number(rng), expr(rng, 'x', 1)])}"


def f_set(rng: np.random.Generator) -> str:
    """Sets, set operations, membership."""
    r = rng.random()
    if r < 0.4:
        return f"{pick(rng, ['A', 'B', 'M', 'P'])} = {set_expr(rng)}"
    if r < 0.7:
        return f"A {pick(rng, CAPCUP)} B = {set_expr(rng)}"
    if r < 0.85:
        return rf"x \in {set_expr(rng)}"
    return rf"\complement _ {{ U }} A = {set_expr(rng)}"


def f_sequence(rng: np.random.Generator) -> str:
    """Sequences: recurrences, partial sums, sigma sums."""
    r = rng.random()
    if r < 0.35:
        return (f"{indexed(rng, 'a')} = {pick(rng, ['2', '3', ''])} a _ {{ n }} {pick(rng, ['+', '-'])} "
                f"{number(rng, True)}")
    if r < 0.6:
        return r"S _ { n } = \frac { n ( a _ { 1 } + a _ { n } ) } { 2 }" if rng.random() < 0.3 else \
            rf"S _ {{ n }} = {expr(rng, 'n', 1)}"
    if r < 0.8:
        return rf"\sum _ {{ k = 1 }} ^ {{ n }} {pick(rng, SUM_BODIES)} = {expr(rng, 'n', 1)}"
    return (f"{indexed(rng, 'b')} = {pick(rng, ['a _ { n }', '2 ^ { n }', 'n'])} {pick(rng, PLUS_DOT)} "
            f"{indexed(rng, 'a')}")


def f_trig(rng: np.random.Generator) -> str:
    """Trigonometric identities, values and angles in degrees."""
    r = rng.random()
    a = pick(rng, GREEK[:6] + ["x", "x"])
    if r < 0.25:
        return rf"\sin ^ {{ 2 }} {a} + \cos ^ {{ 2 }} {a} = 1"
    if r < 0.5:
        return (rf"{pick(rng, TRIG)} ( {a} {pick(rng, ['+', '-'])} \frac {{ \pi }} "
                rf"{braced(pick(rng, ['3', '4', '6']))} ) = {expr(rng, 'x', 2)}")
    if r < 0.75:
        return rf"\angle {pick(rng, POINTS)} = {pick(rng, ['3 0', '4 5', '6 0', '9 0', '1 2 0'])} ^ {{ \circ }}"
    return f"{pick(rng, TRIG)} {a} = {pick(rng, TRIG_VALS)}"


def f_log(rng: np.random.Generator) -> str:
    """Logarithms with a base."""
    b = pick(rng, ["2", "3", "a", r"\frac { 1 } { 2 }"])
    return (rf"\log _ {braced(b)} {pick(rng, ['x', '8', '( x - 1 )', '9'])} {pick(rng, REL)} "
            rf"{pick(rng, ['1', '2', LOG + b + ' } 3', '0'])}")


def _vec(rng: np.random.Generator) -> str:
    if rng.random() < 0.5:
        return rf"\vec {{ {pick(rng, ['a', 'b', 'c'])} }}"
    p, q = rng.choice(POINTS, 2, replace=False)
    return rf"\overrightarrow {{ {p} {q} }}"


def f_vector(rng: np.random.Generator) -> str:
    """Vectors with `\\vec` and `\\overrightarrow`."""
    r = rng.random()
    a, b = _vec(rng), _vec(rng)
    if r < 0.35:
        return rf"{a} \cdot {b} = | {a} | | {b} | \cos \theta"
    if r < 0.7:
        return f"{a} = ( {pick(rng, ['', '- '])}{number(rng, True)} , {number(rng, True)} )"
    return rf"{a} {pick(rng, ['+', '-'])} {number(rng, True)} {b} = {pick(rng, VEC_VALS)}"


def _seg(rng: np.random.Generator) -> str:
    p, q = rng.choice(POINTS, 2, replace=False)
    return f"{p} {q}"


def f_geometry(rng: np.random.Generator) -> str:
    """Plane geometry statements (parallel, perpendicular, congruent, similar, angles)."""
    r = rng.random()
    tri = lambda: r"\triangle " + " ".join(rng.choice(POINTS, 3, replace=False))  # noqa: E731
    pre = pick(rng, [r"\because ", r"\therefore ", ""])
    if r < 0.3:
        return f"{pre}{_seg(rng)} {pick(rng, PAR_PERP)} {_seg(rng)}"
    if r < 0.55:
        return f"{pre}{tri()} {pick(rng, CONG_SIM)} {tri()}"
    if r < 0.8:
        return rf"{pre}\angle {pick(rng, ['1', '2', 'A', 'B'])} = \angle {pick(rng, ['2', '3', 'C', 'D'])}"
    return rf"{pre}\overline {{ {_seg(rng)} }} = {number(rng, True)} \sqrt {{ {number(rng, True)} }}"


def f_abs(rng: np.random.Generator) -> str:
    """Absolute values."""
    return (f"| x {pick(rng, ['-', '+'])} {number(rng, True)} | + | x {pick(rng, ['-', '+'])} {number(rng, True)} | "
            f"{pick(rng, REL[1:])} {number(rng, True)}")


def f_limit(rng: np.random.Generator) -> str:
    """Limits."""
    v, to = pick(rng, [("x", "0"), ("x", r"\infty"), ("n", r"\infty"), ("x", "1")])
    body = pick(rng, [rf"\frac {{ \sin {v} }} {{ {v} }}", expr(rng, v, 1),
                      rf"( 1 + \frac {{ 1 }} {{ {v} }} ) ^ {{ {v} }}"])
    return rf"\lim _ {{ {v} \to {to} }} {body} = {pick(rng, LIM_VALS)}"


def f_integral(rng: np.random.Generator) -> str:
    """Definite integrals."""
    lo, hi = pick(rng, [("0", "1"), ("1", "2"), ("0", r"\pi"), ("- 1", "1"), ("1", "e")])
    return rf"\int _ {{ {lo} }} ^ {{ {hi} }} ( {expr(rng, 'x', 1)} ) d x = {pick(rng, [number(rng)] + INT_VALS)}"


def f_misc(rng: np.random.Generator) -> str:
    """Probability, combinations, roots, a function on an interval."""
    r = rng.random()
    if r < 0.3:
        return rf"P ( {pick(rng, ['A', 'B', 'A B'])} ) = \frac {braced(number(rng, True))} {braced(number(rng))}"
    if r < 0.55:
        return rf"C _ {braced(number(rng, True))} ^ {braced(number(rng, True))} = {number(rng)}"
    if r < 0.8:
        return rf"\sqrt [ 3 ] {braced(number(rng))} {pick(rng, ARITH)} {number(rng)} \approx {number(rng)}"
    return rf"{f_function(rng)} , x \in {interval(rng)}"


def f_logic(rng: np.random.Generator) -> str:
    """Quantifiers, subsets, implications, propositions."""
    r = rng.random()
    v = pick(rng, VARS)
    if r < 0.3:
        return rf"{pick(rng, QUANT)} {v} \in {pick(rng, SETS)} , {expr(rng, v, 1)} {pick(rng, REL[1:])} 0"
    if r < 0.6:
        return rf"{pick(rng, ['A', 'B', 'M'])} {pick(rng, SUBSETS)} {pick(rng, SUPERSETS)}"
    if r < 0.8:
        return (rf"{number(rng, True)} {pick(rng, IN_NOTIN)} {pick(rng, ['A', 'B'])} {pick(rng, ARROWS)} "
                rf"{expr(rng, 'a', 1)} {pick(rng, REL)} {number(rng, True)}")
    return rf"p : {expr(rng, v, 1)} {pick(rng, REL[1:])} 0 , q : {v} {pick(rng, REL[1:])} {number(rng, True)}"


def f_algebra(rng: np.random.Generator) -> str:
    """Quadratic formula, discriminant, extrema, sums, derivatives."""
    r = rng.random()
    if r < 0.2:
        return r"x = \frac { - b \pm \sqrt { b ^ { 2 } - 4 a c } } { 2 a }"
    if r < 0.4:
        return rf"\Delta = {pick(rng, ['b ^ { 2 } - 4 a c', expr(rng, 'm', 1)])} {pick(rng, REL)} 0"
    if r < 0.6:
        return (rf"{pick(rng, ['f', 'g'])} ( x ) _ {{ {pick(rng, MAXMIN)} }} = {pick(rng, ['f', 'g'])} ( "
                rf"{number(rng, True)} ) = {number(rng)}")
    if r < 0.8:
        return rf"a _ {{ 1 }} + a _ {{ 2 }} + {pick(rng, DOTS)} + a _ {{ n }} = {expr(rng, 'n', 1)}"
    return rf"{pick(rng, ['y', 'f ( x )'])} ' = {expr(rng, 'x', 1)} {pick(rng, ['> 0', '< 0', ''])}"


def f_stats(rng: np.random.Generator) -> str:
    """Means, expectations, probabilities."""
    r = rng.random()
    if r < 0.35:
        return (rf"\bar {{ x }} = \frac {{ {' + '.join(number(rng) for _ in range(int(rng.integers(2, 5))))} }} "
                rf"{braced(number(rng, True))}")
    if r < 0.7:
        return (rf"{pick(rng, ['E', 'D'])} ( X ) = {number(rng, True)} \times {number(rng, True)} . "
                rf"{number(rng, True)} + {number(rng, True)} \times {number(rng, True)} . {number(rng, True)}")
    return rf"P ( X = {number(rng, True)} ) = {number(rng, True)} {pick(rng, PERCENT)}"


def f_complex(rng: np.random.Generator) -> str:
    """Complex numbers."""
    r = rng.random()
    a, b = number(rng, True), number(rng, True)
    if r < 0.4:
        return f"z = {a} {pick(rng, ['+', '-'])} {b} i"
    if r < 0.7:
        return rf"| z | = \sqrt {{ {a} ^ {{ 2 }} + {b} ^ {{ 2 }} }} = {number(rng)}"
    return rf"\bar {{ z }} = \frac {{ {a} - i }} {{ {b} + i }} , i ^ {{ 2 }} = - 1"


def f_extra(rng: np.random.Generator) -> str:
    """Lines, circles, permutations, negations, logic, inverse trig."""
    r = rng.random()
    if r < 0.2:
        return rf"l _ {{ 1 }} {pick(rng, PAR_PERP[:2])} l _ {{ 2 }}"
    if r < 0.35:
        return rf"\odot O : ( x - {number(rng, True)} ) ^ {{ 2 }} + y ^ {{ 2 }} = {number(rng)}"
    if r < 0.55:
        return (rf"A _ {braced(number(rng, True))} ^ {braced(number(rng, True))} = \frac {{ n ! }} {{ ( n - "
                rf"{number(rng, True)} ) ! }}")
    if r < 0.7:
        return (rf"\neg p : {pick(rng, QUANT)} x \in \mathbb {{ R }} , x ^ {{ 2 }} {pick(rng, REL[1:])} "
                rf"{number(rng, True)}")
    if r < 0.85:
        return rf"p {pick(rng, WEDGE_VEE)} q"
    return (rf"x = {pick(rng, ARC)} {pick(rng, TRIG_VALS[:2])} , \{{ x \mid x {pick(rng, REL[1:])} {number(rng, True)} "
            rf"\}}")


TEMPLATES: list[tuple[Callable[[np.random.Generator], str], float]] = [
    (f_function, 3), (f_value, 1), (f_equation, 2), (f_inequality, 1.5), (f_set, 1.5), (f_sequence, 1.5),
    (f_trig, 1.5), (f_log, 1), (f_vector, 1), (f_geometry, 1.5), (f_abs, 0.7), (f_limit, 0.8),
    (f_integral, 0.8), (f_misc, 1), (f_logic, 1), (f_algebra, 1), (f_stats, 0.6),
    (f_complex, 0.5), (f_extra, 0.8),
]
WEIGHTS = np.array([w for _, w in TEMPLATES]) / sum(w for _, w in TEMPLATES)
