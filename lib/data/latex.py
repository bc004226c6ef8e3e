"""LaTeX formulas as token lists: tokenise, normalise, join, and the checks cleaning needs.

`tokenize` splits a label as written (`$` and `\\( \\)` stripped, white space dropped, `\\left(` and
`\\begin{cases}` kept as one token each). `normalize` makes one canonical spelling: spacing commands
dropped, synonyms unified (`\\lt` -> `<`, `\\le` -> `\\leq`, `\\mbox` -> `\\text`, ...), arguments of
`\\frac`, `\\sqrt`, accents and scripts always braced, `_` before `^`, and delimiter sizes dropped
(`\\left(` -> `(`, `\\Bigg(` -> `(`): an OCR service adds them at whim and they are layout, not content
(`keep_sizing=True` keeps `\\left(`/`\\right)` as im2latex-100k does). With `plain=True` (handwriting,
CROHME) text/font wrappers are unwrapped too (`\\mbox{z}` -> `z`), since ink cannot show them.
Both are stable: `tokenize(join(tokenize(s))) == tokenize(s)` and the same for `normalize`.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Sequence

from .latex_tables import (
    ARITY,
    DELIMITERS,
    DROPPED,
    DROPPED_WITH_ARG,
    GRID_ENVS,
    MULTILINE_ENVS,
    SYNONYMS,
    TEXT_WRAPPERS,
    UNICODE,
    is_cjk,
    is_whitelisted,
)

_TOKEN_RE = re.compile(r"\\(?:begin|end)\s*\{[^{}]*\}|\\[a-zA-Z]+|\\.|\s+|.", re.S)
_ENV_RE = re.compile(r"\\(begin|end)\{(.*)\}")
_OUTER = (("\\(", "\\)"), ("\\[", "\\]"))


class LatexError(ValueError):
    """A formula that cannot be normalised (unbalanced braces or \\left/\\right)."""


class Group(list):
    """The tokens between `{` and `}`."""


def tokenize(latex: str) -> list[str]:
    """Split LaTeX into tokens: commands, escaped characters, single characters; spaces and `$` dropped."""
    out: list[str] = []
    for m in _TOKEN_RE.finditer(latex):
        tok = m.group()
        if tok.isspace() or tok == "$":
            continue
        if tok[0] == "\\" and len(tok) == 2 and tok[1].isspace():
            tok = "\\ "
        elif tok.startswith(("\\begin", "\\end")):
            tok = re.sub(r"\s+", "", tok)
        if out and out[-1] in ("\\left", "\\right") and tok in DELIMITERS:
            out[-1] += tok
            continue
        out.append(tok)
    for first, last in _OUTER:
        if len(out) >= 2 and out[0] == first and out[-1] == last:
            out = out[1:-1]
    return out


def join(tokens: Sequence[str]) -> str:
    """Tokens separated by single spaces (the `formulas.norm.lst` line format)."""
    return " ".join(tokens)


def _parse(tokens: Sequence[str]) -> Group:
    stack = [Group()]
    for t in tokens:
        if t == "{":
            g = Group()
            stack[-1].append(g)
            stack.append(g)
        elif t == "}":
            if len(stack) == 1:
                raise LatexError("unbalanced braces: '}' without '{'")
            stack.pop()
        else:
            stack[-1].append(t)
    if len(stack) != 1:
        raise LatexError("unbalanced braces: '{' never closed")
    return stack[0]


def _map_token(t: str, sizing: bool) -> str | None:
    """Canonical spelling of one token; None drops it."""
    if t in DROPPED:
        return None
    for side in ("\\left", "\\right"):
        if _sized(t, side):
            delim = SYNONYMS.get(t[len(side):], t[len(side):])
            if not sizing:
                return None if delim == "." else delim
            return side + delim
    return SYNONYMS.get(t, t)


def _sized(t: str, side: str) -> bool:
    return t.startswith(side) and t[len(side):] in DELIMITERS


def _as_group(node) -> Group:
    return node if isinstance(node, Group) else Group([node])


def _clean_seq(nodes: Sequence, plain: bool, sizing: bool) -> list:
    """Map tokens, drop spacing, recurse into groups, fuse `\\not =`."""
    items: list = []
    i = 0
    while i < len(nodes):
        n = nodes[i]
        i += 1
        if isinstance(n, Group):
            g = Group(_norm_seq(n, plain, sizing))
            while len(g) == 1 and isinstance(g[0], Group):
                g = g[0]
            items.append(g)
            continue
        if n in DROPPED_WITH_ARG:
            i += 1 if i < len(nodes) and nodes[i] == "*" else 0
            i += 1 if i < len(nodes) and isinstance(nodes[i], Group) else 0
            continue
        t = _map_token(n, sizing)
        if t is None:
            continue
        if items and items[-1] == "\\not" and t in ("=", "\\in"):
            items[-1] = "\\neq" if t == "=" else "\\notin"
            continue
        items.append(t)
    return items


def _norm_seq(nodes: Sequence, plain: bool, sizing: bool) -> list:
    """Normalise one level: brace arguments and scripts, unwrap text in plain style, order scripts."""
    return _order_scripts(_brace(_clean_seq(nodes, plain, sizing), plain))


def _brace(items: list, plain: bool) -> list:
    """Brace the arguments of commands and scripts (`x_\\mathrm{S}` -> `x _ { \\mathrm { S } }`)."""
    out: list = []
    i = 0
    while i < len(items):
        t = items[i]
        i += 1
        if isinstance(t, str) and t in ARITY:
            if plain and t in TEXT_WRAPPERS:
                if i < len(items):
                    arg = items[i]
                    i += 1
                    out.extend(arg if isinstance(arg, Group) else [arg])
                continue
            out.append(t)
            if t == "\\sqrt" and i < len(items) and items[i] == "[":
                depth = 0
                while i < len(items):
                    out.append(items[i])
                    depth += {"[": 1, "]": -1}.get(items[i], 0) if isinstance(items[i], str) else 0
                    i += 1
                    if depth == 0:
                        break
            for _ in range(ARITY[t]):
                if i < len(items):
                    out.append(_as_group(items[i]))
                    i += 1
        elif t in ("^", "_"):
            out.append(t)
            if i < len(items):
                arg = items[i]
                n = 1 + ARITY[arg] if isinstance(arg, str) and arg in ARITY else 1
                out.append(Group(_brace(items[i:i + n], plain)) if n > 1 else _as_group(arg))
                i += n
        else:
            out.append(t)
    return out


def _order_scripts(seq: list) -> list:
    """`^ {a} _ {b}` -> `_ {b} ^ {a}` when those two are the whole run of scripts."""
    out, i = [], 0
    while i < len(seq):
        j = i
        while j + 1 < len(seq) and seq[j] in ("^", "_") and isinstance(seq[j + 1], Group):
            j += 2
        run = seq[i:j]
        if len(run) == 4 and run[0] == "^" and run[2] == "_":
            run = run[2:] + run[:2]
        out.extend(run if run else [seq[i]])
        i = j if run else i + 1
    return out


def _emit(seq: Sequence, out: list[str]) -> list[str]:
    for n in seq:
        if isinstance(n, Group):
            out.append("{")
            _emit(n, out)
            out.append("}")
        else:
            out.append(n)
    return out


def prepare(text: str) -> str:
    """Unicode clean-up before tokenising: NFKC (full-width -> ASCII) and math symbols -> commands."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(f" {UNICODE[c]} " if c in UNICODE else c for c in text)


def normalize(latex: str | Sequence[str], plain: bool = False, keep_sizing: bool = False) -> list[str]:
    """Canonical tokens of a formula (see the module docstring); raises LatexError when malformed."""
    tokens = tokenize(prepare(latex)) if isinstance(latex, str) else list(latex)
    lefts = sum(_sized(t, "\\left") for t in tokens)
    rights = sum(_sized(t, "\\right") for t in tokens)
    if lefts != rights:
        raise LatexError(f"unbalanced \\left/\\right ({lefts} \\left, {rights} \\right)")
    return _emit(_norm_seq(_parse(tokens), plain, keep_sizing), [])


def is_multiline(latex: str | Sequence[str]) -> bool:
    """Several lines of formulas: an array/aligned-like environment, `\\\\` outside a matrix, or text lines."""
    if isinstance(latex, str):
        if sum(1 for line in latex.strip().splitlines() if line.strip()) > 1:
            return True
        latex = tokenize(latex)
    grid_depth = 0
    for t in latex:
        m = _ENV_RE.fullmatch(t)
        if m:
            if m.group(2) in MULTILINE_ENVS:
                return True
            if m.group(2) in GRID_ENVS:
                grid_depth += 1 if m.group(1) == "begin" else -1
        elif t in ("\\\\", "\\newline", "\\cr") and grid_depth <= 0:
            return True
    return False


def has_cjk(text: str | Sequence[str]) -> bool:
    """True when any character is Chinese/Japanese/Korean."""
    return any(is_cjk(c) for part in ([text] if isinstance(text, str) else text) for c in part)


def outside_whitelist(tokens: Sequence[str]) -> list[str]:
    """The tokens (in order, once each) that the whitelist does not allow."""
    return list(dict.fromkeys(t for t in tokens if not is_whitelisted(t)))


def compact(latex: str) -> str:
    """Join space-separated tokens the way TeX users type them (`\\frac{1}{x^{2}}`): mathtext reads `x ^ { 2 }`
    with a space as the script and draws the 2 on the baseline, `x^{2}` as intended."""
    out: list[str] = []
    for tok in latex.split():
        if out and out[-1][-1].isalpha() and out[-1].startswith("\\") and (tok[0].isalnum()):
            out.append(" ")
        out.append(tok)
    return "".join(out)
