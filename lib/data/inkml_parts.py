"""Sub-expressions of an InkML formula, each with its own strokes and LaTeX.

A CROHME file holds its formula twice: as LaTeX (`<annotation type="truth">`) and as a MathML tree whose
symbols carry ids; each symbol's strokes form a `<traceGroup>` that points at its id. So every MathML
subtree is a smaller formula whose strokes are known: the scripts of a symbol, a fraction's numerator and
denominator, a root's radicand, a bracketed group, the left and right side of a relation, and the terms
between operators. Writing them out multiplies the distinct training formulas drawn by real hands
(Le, Indurkhya & Nakagawa 2019).

A file is cut only when its MathML, written back as LaTeX, normalises to the same tokens as its LaTeX truth
and every symbol of the tree has strokes: that is the check that a piece's strokes and its LaTeX agree.
Files that fail are counted with their reason and contribute nothing.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from ..run import atomic
from . import inkml, latex, ocr_labels
from .images import png_bytes

MATHML = "{http://www.w3.org/1998/Math/MathML}"
XML_ID = "{http://www.w3.org/XML/1998/namespace}id"

# reasons a file is not cut (besides inkml's own)
NO_MATHML = "no_mathml"
UNKNOWN_ELEMENT = "unknown_mathml_element"
DISAGREES = "mathml_disagrees_with_truth"
UNSEGMENTED = "symbol_without_strokes"

# MathML leaf texts seen in CROHME that are not LaTeX as written
LEAF_NAMES = {
    "infin": "\\infty", "ctdot": "\\cdots", "hellip": "\\ldots", "rarr": "\\rightarrow", "le": "\\leq",
    "ge": "\\geq", "ne": "\\neq", "exist": "\\exists", "\\lt": "<", "\\gt": ">", "lt": "<", "gt": ">",
    "{": "\\{", "}": "\\}",
}
COMMANDS = {
    "sin", "cos", "tan", "log", "lim", "sum", "int", "infty", "pi", "alpha", "beta", "gamma", "theta", "sigma",
    "mu", "lambda", "phi", "Delta", "times", "div", "pm", "prime", "rightarrow", "exists", "forall", "in",
    "ldots", "cdots", "leq", "geq", "neq",
}
RELATIONS = {"=", "<", ">", "\\leq", "\\geq", "\\neq", "\\rightarrow", "\\in", "\\lt", "\\gt"}
OPERATORS = RELATIONS | {"+", "-", "\\pm", "\\times", "\\div", ","}
OPEN, CLOSE = ("(", "[", "\\{"), (")", "]", "\\}")
SCRIPTED = {"msup", "msub", "msubsup", "munder", "mover", "munderover"}
MIN_SYMBOLS = 2  # a piece has at least this many symbols (single symbols teach no layout)


class PartsError(ValueError):
    def __init__(self, path, reason: str, detail: str):
        super().__init__(f"{path}: {detail}")
        self.reason = reason


@dataclass(frozen=True)
class Node:
    """A MathML subtree as LaTeX with the ids of every symbol in it (leaves, fraction bars, radicals)."""

    tex: str
    ids: frozenset
    symbols: int


@dataclass
class Piece:
    tex: str              # LaTeX of the sub-expression
    traces: list[int]     # indices into the file's Ink.traces


def leaf_tex(text: str) -> str:
    t = (text or "").strip()
    if t in LEAF_NAMES:
        return LEAF_NAMES[t]
    if t in COMMANDS:
        return "\\" + t
    return t


def _local(tag: str) -> str:
    return tag.split("}")[-1]


class _Tree:
    """Builds Nodes bottom-up and collects candidate pieces on the way."""

    def __init__(self, path):
        self.path = path
        self.pieces: list[Node] = []

    def node(self, e: ET.Element) -> Node:
        tag = _local(e.tag)
        own = {e.get(XML_ID)} if e.get(XML_ID) else set()
        kids = [self.node(c) for c in e]
        ids = frozenset(own.union(*(k.ids for k in kids)))
        symbols = sum(k.symbols for k in kids)
        if tag in ("mi", "mn", "mo", "mtext"):
            return Node(leaf_tex(e.text), ids, 1)
        if tag in ("mrow", "mstyle", "math"):
            return self.row(kids, ids)
        if tag in SCRIPTED:
            if len(kids) != (3 if tag in ("msubsup", "munderover") else 2):
                raise PartsError(self.path, UNKNOWN_ELEMENT, f"<{tag}> with {len(kids)} children")
            marks = {"msup": "^", "mover": "^", "msub": "_", "munder": "_"}
            scripts = (f"_{{{kids[1].tex}}}^{{{kids[2].tex}}}" if len(kids) == 3 else
                       f"{marks[tag]}{{{kids[1].tex}}}")
            self.pieces.extend(kids[1:])
            return Node(kids[0].tex + scripts, ids, symbols)
        if tag == "mfrac" and len(kids) == 2:
            self.pieces.extend(kids)
            return Node(f"\\frac{{{kids[0].tex}}}{{{kids[1].tex}}}", ids, symbols + 1)
        if tag == "msqrt":
            inner = self.row(kids, frozenset().union(*(k.ids for k in kids))) if len(kids) != 1 else kids[0]
            self.pieces.append(inner)
            return Node(f"\\sqrt{{{inner.tex}}}", ids, symbols + 1)
        if tag == "mroot" and len(kids) == 2:
            self.pieces.extend(kids)
            return Node(f"\\sqrt[{kids[1].tex}]{{{kids[0].tex}}}", ids, symbols + 1)
        raise PartsError(self.path, UNKNOWN_ELEMENT, f"MathML element <{tag}> not understood")

    def row(self, kids: list[Node], ids: frozenset) -> Node:
        """A row's items: CROHME nests rows to the right (a, row(+, row(b ...))), so flatten the chain first."""
        items = kids
        if not items:
            return Node("", ids, 0)
        tex = " ".join(k.tex for k in items if k.tex)
        self._spans(items)
        return Node(tex, ids, sum(k.symbols for k in items))

    def _spans(self, items: list[Node]) -> None:
        """Pieces of a row: each side of an operator outside brackets (prefix and suffix), and each bracketed
        group with and without its brackets (whose inside is cut the same way)."""
        n, depth, stack = len(items), 0, []
        for i, k in enumerate(items):
            if k.tex in OPEN:
                stack.append(i)
                depth += 1
            elif k.tex in CLOSE and stack:
                lo = stack.pop()
                depth -= 1
                self.pieces.append(_join(items[lo:i + 1]))
                if i - lo > 1:
                    self.pieces.append(_join(items[lo + 1:i]))
                    if not stack:
                        self._spans(items[lo + 1:i])
            elif k.tex in OPERATORS and depth == 0:
                self.pieces.extend(_join(part) for part in (items[:i], items[i + 1:]) if part)


def _join(items: list[Node]) -> Node:
    return Node(" ".join(k.tex for k in items if k.tex), frozenset().union(*(k.ids for k in items)),
                sum(k.symbols for k in items))


def _flatten(e: ET.Element) -> None:
    """Right-nested rows (row(a, row(b, row(c)))) become one row (a, b, c), in place, so that spans between
    operators are found whatever the nesting."""
    for c in list(e):
        _flatten(c)
    if _local(e.tag) not in ("mrow", "math", "mstyle"):
        return
    out = []
    for c in list(e):
        if _local(c.tag) == "mrow" and not c.get(XML_ID):
            out.extend(list(c))
        else:
            out.append(c)
    for c in list(e):
        e.remove(c)
    e.extend(out)


def tokens(tex: str) -> list[str] | None:
    v = ocr_labels.classify(tex, None, plain=True)
    return v.tokens if v.ok else None


def decompose(path: str | Path, min_symbols: int = MIN_SYMBOLS) -> tuple[inkml.Ink, list[Piece]]:
    """The file's ink and its distinct sub-expressions (the whole formula excluded); raises PartsError or
    InkmlError with a reason when the file cannot be cut."""
    return cut(path, min_symbols)[:2]


def cut(path: str | Path, min_symbols: int = MIN_SYMBOLS) -> tuple[inkml.Ink, list[Piece], ET.Element, dict]:
    """`decompose`, plus the file's MathML and its id -> strokes map (what composition reads): one parse."""
    path = Path(path)
    root = inkml.read_root(path)
    ink = inkml.ink_of(root, path)
    ax = next((a for a in root.iter(f"{inkml.NS}annotationXML") if a.get("type") == "truth"), None)
    math = next(iter(ax), None) if ax is not None else None
    if math is None or ink.truth is None:
        raise PartsError(path, NO_MATHML, "no MathML or no LaTeX truth")
    _flatten(math)
    tree = _Tree(path)
    whole = tree.node(math)
    truth_tokens = tokens(ink.truth)
    if truth_tokens is None or _unbraced(tokens(whole.tex)) != _unbraced(truth_tokens):
        raise PartsError(path, DISAGREES, f"MathML reads {whole.tex!r}, truth {ink.truth!r}")
    strokes = _strokes_by_id(root, ink.trace_index)
    drawn = {e.get(XML_ID) for e in math.iter() if _local(e.tag) in ("mi", "mn", "mo", "mfrac", "msqrt", "mroot")}
    needed = [i for i in whole.ids if i not in strokes and i in drawn]
    if needed:
        raise PartsError(path, UNSEGMENTED, f"symbols without strokes: {', '.join(sorted(needed)[:5])}")
    seen = {latex.join(truth_tokens)}
    pieces = []
    for node in tree.pieces:
        if node.symbols < min_symbols:
            continue
        toks = tokens(node.tex)
        if not toks or not _balanced(toks):
            continue
        key = latex.join(toks)
        if key in seen:
            continue
        seen.add(key)
        traces = sorted({t for i in node.ids for t in strokes.get(i, ())})
        pieces.append(Piece(key, traces))
    return ink, pieces, math, strokes


def _unbraced(toks: list[str] | None) -> list[str] | None:
    """Tokens without grouping braces: `2 {k} {\\pi}` and `2 k \\pi` are the same formula."""
    return None if toks is None else [t for t in toks if t not in ("{", "}")]


def _balanced(toks: list[str]) -> bool:
    stack = []
    for t in toks:
        if t in OPEN or t == "{":
            stack.append(t)
        elif t in CLOSE or t == "}":
            if not stack or (t == "}") != (stack.pop() == "{"):
                return False
    return not stack


def _strokes_by_id(root: ET.Element, index: dict[str, int]) -> dict[str, list[int]]:
    """MathML id -> indices of the strokes in its trace group (`index`: trace id -> place, from `inkml.ink_of`)."""
    out: dict[str, list[int]] = {}
    for g in root.iter(f"{inkml.NS}traceGroup"):
        ref = g.find(f"{inkml.NS}annotationXML")
        if ref is None or not ref.get("href"):
            continue
        refs = [index[v.get("traceDataRef")] for v in g.findall(f"{inkml.NS}traceView")
                if v.get("traceDataRef") in index]
        if refs:
            out.setdefault(ref.get("href"), []).extend(refs)
    return out


def piece_ink(ink: inkml.Ink, piece: Piece) -> inkml.Ink:
    return inkml.Ink([ink.traces[i] for i in piece.traces], [], piece.tex)


def list_parts(path: str) -> tuple[list[str], str, str]:
    """Worker: (the pieces' LaTeX in `decompose`'s order, "", "") or ([], reason, message)."""
    try:
        return [p.tex for p in decompose(path)[1]], "", ""
    except (PartsError, inkml.InkmlError) as e:
        return [], e.reason, str(e)


def render_parts(job: tuple) -> list[dict]:
    """Worker: (InkML path, [(piece index, png path, label path)], symbol height) -> a result dict per piece; the
    file is cut once for all its pieces."""
    src, wanted, symbol_height = job
    try:
        ink, pieces = decompose(src)
    except (PartsError, inkml.InkmlError) as e:
        return [{"src": src, "ok": False, "reason": e.reason, "error": str(e)} for _ in wanted]
    out = []
    for index, png, label in wanted:
        piece = pieces[index]
        img = inkml.render_at(piece_ink(ink, piece), symbol_height)
        atomic.write_bytes(png, png_bytes(img))
        atomic.write_text(label, piece.tex + "\n")
        out.append({"src": src, "ok": True, "height": img.shape[0], "width": img.shape[1]})
    return out
