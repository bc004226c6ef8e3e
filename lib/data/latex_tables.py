"""Token tables for `lib.data.latex`: synonyms, spacing, argument counts and the whitelist of allowed tokens."""
from __future__ import annotations

# Spacing and style hints that do not change what is written: dropped by normalisation.
DROPPED = frozenset({
    "\\,", "\\:", "\\;", "\\!", "\\ ", "~", "\\quad", "\\qquad", "\\enspace", "\\thinspace",
    "\\medspace", "\\thickspace", "\\negthinspace", "\\limits", "\\nolimits", "\\displaystyle",
    "\\textstyle", "\\scriptstyle", "\\scriptscriptstyle", "\\nonumber", "\\notag",
    "\\big", "\\Big", "\\bigg", "\\Bigg", "\\bigl", "\\bigr", "\\Bigl", "\\Bigr", "\\biggl", "\\biggr",
    "\\Biggl", "\\Biggr", "\\bigm", "\\Bigm", "\\biggm", "\\Biggm",
})
# Commands taking a (dropped) size/space argument: \hspace{1em}, \vspace{2pt}, \kern ... are rare; drop the group.
DROPPED_WITH_ARG = frozenset({"\\hspace", "\\vspace", "\\hspace*", "\\vspace*", "\\phantom", "\\hphantom",
                              "\\vphantom", "\\label", "\\tag"})

SYNONYMS = {
    "\\lt": "<", "\\gt": ">", "\\le": "\\leq", "\\ge": "\\geq", "\\leqslant": "\\leq", "\\geqslant": "\\geq",
    "\\ne": "\\neq", "\\lbrack": "[", "\\rbrack": "]", "\\lbrace": "\\{", "\\rbrace": "\\}",
    "\\vert": "|", "\\Vert": "\\|", "\\lvert": "|", "\\rvert": "|", "\\lVert": "\\|", "\\rVert": "\\|",
    "\\to": "\\rightarrow", "\\gets": "\\leftarrow", "\\dfrac": "\\frac", "\\tfrac": "\\frac",
    "\\dots": "\\ldots", "\\dotsc": "\\ldots", "\\dotsb": "\\cdots", "\\land": "\\wedge", "\\lor": "\\vee",
    "\\lnot": "\\neg", "\\mbox": "\\text", "\\textrm": "\\text", "\\textnormal": "\\text",
    "\\textup": "\\text", "\\hbox": "\\text", "\\emptyset": "\\varnothing", "\\bigtriangleup": "\\triangle",
    "\\longrightarrow": "\\rightarrow", "\\implies": "\\Rightarrow", "\\iff": "\\Leftrightarrow",
    "\\centerdot": "\\cdot",
}
# Unicode characters an OCR service sometimes returns instead of commands (after NFKC).
UNICODE = {
    "×": "\\times", "÷": "\\div", "±": "\\pm", "∓": "\\mp", "≤": "\\leq", "≥": "\\geq", "≠": "\\neq",
    "∞": "\\infty", "π": "\\pi", "α": "\\alpha", "β": "\\beta", "θ": "\\theta", "·": "\\cdot",
    "∠": "\\angle", "△": "\\triangle", "⊥": "\\perp", "∥": "\\parallel", "≅": "\\cong", "∵": "\\because",
    "∴": "\\therefore", "∈": "\\in", "∪": "\\cup", "∩": "\\cap", "√": "\\sqrt", "→": "\\rightarrow",
    "−": "-", "°": "^ { \\circ }", "′": "'", "，": ",", "。": ".", "（": "(", "）": ")",
}
# Commands whose next N arguments are braced by normalisation (`\frac12` -> `\frac { 1 } { 2 }`).
ARITY = {"\\frac": 2, "\\binom": 2, "\\overset": 2, "\\underset": 2, "\\stackrel": 2, "\\sqrt": 1,
         "\\vec": 1, "\\overrightarrow": 1, "\\overleftarrow": 1, "\\overline": 1, "\\underline": 1,
         "\\hat": 1, "\\widehat": 1, "\\bar": 1, "\\dot": 1, "\\ddot": 1, "\\tilde": 1, "\\widetilde": 1,
         "\\overbrace": 1, "\\underbrace": 1, "\\check": 1, "\\breve": 1, "\\acute": 1, "\\grave": 1,
         "\\text": 1, "\\mathrm": 1, "\\mathbf": 1, "\\mathbb": 1, "\\mathcal": 1, "\\mathit": 1,
         "\\boldsymbol": 1, "\\operatorname": 1, "\\textbf": 1, "\\textit": 1, "\\mathsf": 1, "\\mathfrak": 1,
         "\\pmod": 1}
# Wrappers whose content is plain text/letters; the `plain` (handwriting) style unwraps them.
TEXT_WRAPPERS = frozenset({"\\text", "\\mathrm", "\\mathit", "\\operatorname", "\\textbf", "\\textit",
                           "\\mathsf"})
# Environments that hold several lines of formulas (dropped as multi-line by cleaning).
MULTILINE_ENVS = frozenset({"array", "aligned", "align", "align*", "alignat", "alignedat", "gather",
                            "gather*", "gathered", "eqnarray", "eqnarray*", "split", "multline",
                            "multline*", "tabular", "flalign", "subarray"})
# 2-D single formulas: rows inside them are not separate lines.
GRID_ENVS = frozenset({"cases", "matrix", "pmatrix", "bmatrix", "Bmatrix", "vmatrix", "Vmatrix",
                       "smallmatrix"})
DELIMITERS = frozenset({"(", ")", "[", "]", "|", ".", "/", "<", ">", "\\{", "\\}", "\\|", "\\langle",
                        "\\rangle", "\\lfloor", "\\rfloor", "\\lceil", "\\rceil", "\\backslash",
                        "\\uparrow", "\\downarrow", "\\lbrack", "\\rbrack", "\\lbrace", "\\rbrace",
                        "\\vert", "\\Vert", "\\lvert", "\\rvert", "\\lVert", "\\rVert"})

_GREEK = ("alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi "
          "pi varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega "
          "Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega")
_FUNCTIONS = ("sin cos tan cot sec csc arcsin arccos arctan sinh cosh tanh coth log ln lg exp lim "
              "liminf limsup max min sup inf det gcd lcm deg arg dim ker hom Pr mod bmod pmod")
_SYMBOLS = (
    "times div pm mp cdot ast star circ bullet oplus ominus otimes odot "
    "leq geq neq approx equiv sim simeq cong propto in notin ni subset subseteq subsetneq supset "
    "supseteq cup cap setminus varnothing perp parallel mid nmid ll gg prec succ models vdash "
    "rightarrow leftarrow Rightarrow Leftarrow leftrightarrow Leftrightarrow mapsto uparrow downarrow "
    "Uparrow Downarrow nearrow searrow longleftarrow Longrightarrow Longleftarrow longleftrightarrow "
    "rightleftharpoons hookrightarrow "
    "sum prod coprod int iint iiint oint bigcup bigcap bigoplus bigotimes bigvee bigwedge "
    "infty partial nabla forall exists nexists neg angle measuredangle triangle because therefore complement "
    "prime ldots cdots vdots ddots square Box blacksquare diamond ell hbar Re Im aleph wp top bot "
    "vee wedge langle rangle lfloor rfloor lceil rceil backslash surd degree checkmark dagger "
    "frac binom overset underset stackrel sqrt not "
    "vec overrightarrow overleftarrow overline underline hat widehat bar dot ddot tilde widetilde "
    "overbrace underbrace check breve acute grave "
    "text mathrm mathbf mathbb mathcal mathit boldsymbol operatorname textbf textit mathsf mathfrak"
)
COMMANDS = frozenset("\\" + w for w in f"{_GREEK} {_FUNCTIONS} {_SYMBOLS}".split())
ESCAPED = frozenset({"\\{", "\\}", "\\|", "\\%", "\\$", "\\#", "\\_", "\\&", "\\\\"})
PUNCTUATION = frozenset("+-=<>()[]|/,.;:!?'*&{}^_@\"`")
ENV_TOKENS = frozenset(f"\\{kind}{{{env}}}" for env in GRID_ENVS for kind in ("begin", "end"))
LEFT_RIGHT = frozenset(f"\\{side}{d}" for side in ("left", "right") for d in DELIMITERS
                       if d not in SYNONYMS)


def is_whitelisted(token: str) -> bool:
    """True for tokens a formula may contain: ASCII letters/digits, math punctuation, known commands."""
    if len(token) == 1:
        return token.isascii() and (token.isalnum() or token in PUNCTUATION)
    return token in COMMANDS or token in ESCAPED or token in ENV_TOKENS or token in LEFT_RIGHT


def is_cjk(ch: str) -> bool:
    """Chinese/Japanese/Korean ideographs, kana, hangul and full-width CJK punctuation."""
    o = ord(ch)
    return (0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x20000 <= o <= 0x2FA1F or 0x3000 <= o <= 0x30FF
            or 0xAC00 <= o <= 0xD7AF or 0xF900 <= o <= 0xFAFF or 0xFF00 <= o <= 0xFFEF)
