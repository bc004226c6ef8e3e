"""Formulas no exam template makes, so that a model must read the image rather than guess the template:
random well-formed formulas over the whole vocabulary (scripts, fractions, roots, brackets, accents, fonts,
big operators, matrices when TeX draws them) and the shapes real exam labels have (short fragments, single
items, option letters, units, Mathpix's own spellings). Space-tokenised LaTeX, like the grammar's."""
from __future__ import annotations

import numpy as np

from ..latex_tables import ARITY
from .expressions import braced, pick
from .grammar import sample_formula

LOWER = list("abcdefghijklmnopqrstuvwxyz")
UPPER = list("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
DIGITS = list("0123456789")
GREEK = (r"\alpha \beta \gamma \delta \epsilon \varepsilon \zeta \eta \theta \vartheta \iota \kappa \lambda \mu "
         r"\nu \xi \pi \rho \sigma \tau \upsilon \phi \varphi \chi \psi \omega \Gamma \Delta \Theta \Lambda \Xi "
         r"\Pi \Sigma \Phi \Psi \Omega").split()
SYMBOLS = r"\infty \partial \nabla \ell \hbar \prime \cdots \ldots".split()
BINARY = r"+ + + - - - \pm \mp \times \cdot \ast \circ \otimes \oplus \cup \cap \wedge \vee / \setminus".split()
RELATIONS = (r"= = = = < > \leq \geq \neq \approx \equiv \sim \simeq \cong \propto \in \notin \subset \subseteq "
             r"\rightarrow \Rightarrow \Leftrightarrow \mapsto \ll \gg \perp \parallel \mid").split()
FUNCTIONS = r"\sin \cos \tan \log \ln \exp \det \dim \lim \max \min \sup \inf \arg \sinh \cosh \tanh".split()
ACCENTS = r"\hat \bar \tilde \vec \dot \ddot \overline \widehat \widetilde \underline".split()
FONTS = r"\mathrm \mathbf \mathcal \mathbb \mathit".split()
BIG_OPS = r"\sum \prod \int \oint \bigcup \bigcap \iint".split()
BRACKETS = [("(", ")"), ("(", ")"), ("[", "]"), (r"\{", r"\}"), ("|", "|"), (r"\langle", r"\rangle"),
            (r"\|", r"\|"), (r"\lfloor", r"\rfloor")]
LIMITS = (r"\lim", r"\max", r"\min", r"\sup", r"\inf")
INTEGRALS = (r"\int", r"\oint", r"\iint")
INF, ARROW = r"\infty", r"\rightarrow"
MATRICES = ["pmatrix", "bmatrix", "matrix", "vmatrix"]
# the items real exam labels have beside whole formulas (Mathpix's spellings: normalisation unifies some)
OPTIONS = [r"\text { A. }", r"\text { B. }", r"\text { C. }", r"\text { D. }", r"\text { A }", r"( \text { B } )"]
UNITS = [r"\mathrm { cm }", r"\mathrm { ~cm }", r"\mathrm { m }", r"\mathrm { kg }", r"\mathrm { cm } ^ { 2 }",
         r"\mathrm { s }", r"\%"]
MATHPIX = [r"\leqslant", r"\geqslant", r"\mathbf { R }", r"\boldsymbol { a }", r"^ { \circ }", r"^ { \prime }",
           r"\mathbb { R }", r"\because", r"\therefore", r"\angle", r"\triangle", r"\perp", r"/ /"]


def _letter(rng: np.random.Generator) -> str:
    r = rng.random()
    if r < 0.45:
        return pick(rng, LOWER)
    if r < 0.7:
        return pick(rng, UPPER)
    if r < 0.92:
        return pick(rng, GREEK)
    return pick(rng, SYMBOLS[:4])


def _number(rng: np.random.Generator) -> str:
    n = int(rng.choice([1, 1, 1, 2, 2, 3]))
    s = " ".join(pick(rng, DIGITS) for _ in range(n))
    return s + f" . {pick(rng, DIGITS)}" if rng.random() < 0.1 else s


def _script(rng: np.random.Generator, depth: int) -> str:
    """A short sub- or superscript: a letter, a number, a sign and a letter, or a small expression."""
    r = rng.random()
    if r < 0.35:
        return _letter(rng)
    if r < 0.6:
        return _number(rng)
    if r < 0.75:
        return f"{pick(rng, ['-', '+', ''])} {_letter(rng)}".strip()
    if r < 0.85:
        return pick(rng, [r"\prime", r"\prime \prime", r"\ast", r"\dagger", r"\circ", r"\infty"])
    return _expr(rng, depth + 1, 1, 3)


def _atom(rng: np.random.Generator, depth: int) -> str:
    """One term: a symbol with decorations and scripts, a fraction, a root, a group, a function, a big operator."""
    r = rng.random() if depth < 3 else rng.random() * 0.55
    if r < 0.42:
        base = _letter(rng) if rng.random() < 0.8 else _number(rng)
        if rng.random() < 0.12:
            base = f"{pick(rng, ACCENTS)} {braced(base)}"
        elif rng.random() < 0.08:
            font = pick(rng, FONTS)
            letters = UPPER if font in (r"\mathcal", r"\mathbb") else LOWER + UPPER
            base = f"{font} {braced(' '.join(pick(rng, letters) for _ in range(int(rng.integers(1, 3)))))}"
    elif r < 0.55:
        base = _number(rng)
    elif r < 0.66:
        return rf"\frac {braced(_expr(rng, depth + 1, 1, 4))} {braced(_expr(rng, depth + 1, 1, 4))}"
    elif r < 0.72:
        idx = f"[ {pick(rng, ['3', 'n', '4'])} ] " if rng.random() < 0.2 else ""
        return rf"\sqrt {idx}{braced(_expr(rng, depth + 1, 1, 4))}"
    elif r < 0.84:
        left, right = pick(rng, BRACKETS)
        base = f"{left} {_expr(rng, depth + 1, 1, 4)} {right}"
    elif r < 0.92:
        f = pick(rng, FUNCTIONS)
        arg = f"( {_expr(rng, depth + 1, 1, 3)} )" if rng.random() < 0.5 else _letter(rng)
        if f in LIMITS and rng.random() < 0.7:
            to = pick(rng, ["0", INF, _letter(rng)])
            f = f"{f} _ {braced(f'{_letter(rng)} {ARROW} {to}')}"
        return f"{f} {arg}"
    else:
        op = pick(rng, BIG_OPS)
        lims = ""
        if rng.random() < 0.8:
            i = pick(rng, list("ijkn"))
            lims = f" _ {braced(pick(rng, ['0', '- ' + INF, 'a']) if op in INTEGRALS else f'{i} = 1')}"
            if rng.random() < 0.7:
                lims += f" ^ {braced(pick(rng, ['n', 'N', INF, '1', 'b']))}"
        body = _expr(rng, depth + 1, 1, 4)
        tail = f" d {pick(rng, list('xtsu'))}" if op in INTEGRALS else ""
        return f"{op}{lims} {body}{tail}"
    if rng.random() < 0.45:  # scripts: sub, sup or both (sub first, as normalisation writes them)
        r = rng.random()
        if r < 0.45:
            base += f" _ {braced(_script(rng, depth))}"
        elif r < 0.8:
            base += f" ^ {braced(_script(rng, depth))}"
        else:
            base += f" _ {braced(_script(rng, depth))} ^ {braced(_script(rng, depth))}"
    return base


def _expr(rng: np.random.Generator, depth: int, lo: int, hi: int) -> str:
    """Terms joined by binary operators, juxtaposition (products) or commas."""
    n = int(rng.integers(lo, hi + 1))
    parts = [_atom(rng, depth)]
    for _ in range(n - 1):
        r = rng.random()
        join = pick(rng, BINARY) if r < 0.55 else ("," if r < 0.65 else "")
        parts += [join, _atom(rng, depth)] if join else [_atom(rng, depth)]
    return " ".join(parts)


def _matrix(rng: np.random.Generator) -> str:
    env = pick(rng, MATRICES)
    rows, cols = int(rng.integers(2, 4)), int(rng.integers(2, 4))
    body = r" \\ ".join(" & ".join(_atom(rng, 3) for _ in range(cols)) for _ in range(rows))
    return rf"\begin{{{env}}} {body} \end{{{env}}}"


def random_formula(rng: np.random.Generator, max_tokens: int = 60, matrices: bool = False) -> str:
    """A well-formed formula in no exam pattern: expressions and relations over the whole vocabulary.
    `matrices` only where TeX draws it (matplotlib's mathtext has no matrix environments)."""
    while True:
        if matrices and rng.random() < 0.15:
            s = f"{_letter(rng)} = {_matrix(rng)}"
        else:
            s = _expr(rng, 0, 1, 5)
            for _ in range(int(rng.choice([0, 1, 1, 1, 2]))):
                s += f" {pick(rng, RELATIONS)} {_expr(rng, 0, 1, 4)}"
            if rng.random() < 0.15:
                s += f" {pick(rng, ['.', ',', ';'])}"
        s = " ".join(s.split())
        if 2 <= len(s.split()) <= max_tokens:
            return s


def _complete(tokens: list[str]) -> bool:
    """Braces balanced, and every command that takes arguments (`\\frac`, `\\sqrt`, accents) has them all."""
    depth, need = 0, []  # need: (depth at the command, groups still wanted)
    for t in tokens:
        if t == "{":
            depth += 1
        elif t == "}":
            depth -= 1
            if depth < 0:
                return False
            if need and need[-1][0] == depth:
                need[-1] = (depth, need[-1][1] - 1)
                if need[-1][1] == 0:
                    need.pop()
        elif need and need[-1][0] == depth and t not in ("[", "]") and not (t.isalnum() and len(t) == 1):
            return False  # a command's argument that is not a group
        if t in ARITY:
            need.append((depth, ARITY[t]))
    return depth == 0 and not need


def _cut(tokens: list[str], rng: np.random.Generator) -> list[str]:
    """A run of tokens from a formula that keeps its braces balanced (a fragment of a longer line)."""
    for _ in range(20):
        n = int(rng.integers(1, min(9, len(tokens)) + 1))
        a = int(rng.integers(0, len(tokens) - n + 1))
        part = tokens[a:a + n]
        if _complete(part) and part[0] not in ("_", "^") and part[-1] not in ("_", "^"):
            return part
    return tokens[:1]


def exam_fragment(rng: np.random.Generator) -> str:
    """The shapes of real exam labels: fragments of a line, single items, options, units, Mathpix spellings."""
    r = rng.random()
    if r < 0.35:
        return " ".join(_cut(sample_formula(rng).split(), rng))
    if r < 0.5:
        f, x = pick(rng, list("fgh")), pick(rng, list("xtan"))
        return pick(rng, [f"{f} ( {x} )", f"{f} ( {x} ) =", f"{f} ^ {{ \\prime }} ( {x} )",
                          f"a _ {{ {pick(rng, DIGITS[1:])} }} =", f"{pick(rng, UPPER)} {pick(rng, UPPER)} \\perp",
                          f"S _ {{ \\triangle {' '.join(rng.choice(UPPER, 3, replace=False))} }} ="])
    if r < 0.62:
        return pick(rng, OPTIONS) + (f" {_number(rng)}" if rng.random() < 0.4 else "")
    if r < 0.74:
        return f"{_number(rng)} {pick(rng, UNITS)}"
    if r < 0.86:
        item = pick(rng, MATHPIX)
        if item.startswith("^"):
            return f"{_number(rng)} {item}" if "circ" in item else f"{pick(rng, LOWER)} {item}"
        if item in (r"\leqslant", r"\geqslant"):
            return f"{pick(rng, LOWER)} {item} {_number(rng)}"
        return item if rng.random() < 0.5 else f"{item} {pick(rng, UPPER)} {pick(rng, UPPER)}"
    return " ".join(_expr(rng, 1, 1, 2).split())


MIX_KINDS = ("exam", "random", "fragment")


def sample_mixed(rng: np.random.Generator, mix: dict[str, float], matrices: bool = False) -> tuple[str, str]:
    """(formula, kind) with the kinds weighted by `mix` ({"exam": 0.5, "random": 0.3, "fragment": 0.2})."""
    kinds = [k for k in MIX_KINDS if mix.get(k, 0) > 0]
    w = np.array([mix[k] for k in kinds], float)
    kind = kinds[int(rng.choice(len(kinds), p=w / w.sum()))]
    if kind == "exam":
        return sample_formula(rng), kind
    if kind == "random":
        return random_formula(rng, matrices=matrices), kind
    return exam_fragment(rng), kind
