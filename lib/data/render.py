"""Formulas typeset by real LaTeX (pdflatex + pdftoppm), as im2latex-100k itself was made, or by mathtext
when no TeX is installed: `python -m lib.data.render FORMULAS OUT [--engine latex|mathtext] [--dpi ...]`.

Many formulas go through one pdflatex run, one page each: every formula is set in a box, and the page is
made the size of that box (pdfTeX's \\pdfpagewidth per page), so pdftoppm rasterises only ink and its
margin. A formula that TeX cannot set is found from the markers the document writes to the log around it,
reported with TeX's own message, and never stops the rest: the formulas after a fatal one run again.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from ..run import atomic
from .im2latex import read_formulas

TEX_PACKAGES = "Debian/Ubuntu/Colab: apt-get install texlive-latex-base texlive-fonts-recommended poppler-utils"
FONTS = {"cm": "", "times": "\\usepackage{mathptmx}"}  # Computer Modern; a Times-like font (psnfss)
CHUNK = 64            # formulas per pdflatex run
TEX_TIMEOUT = 120     # seconds per pdflatex run
INK = 250             # a pixel darker than this is ink when cropping
PAD = 4               # white pixels kept round the ink
# commands a formula may not hold: they reach outside its box (files, catcodes, the document's end)
_UNSAFE = re.compile(r"\\(input|include|openin|openout|write|immediate|read|catcode|def|let|end\s*\{\s*document"
                     r"|begin\s*\{\s*document|documentclass|usepackage|shipout|output|special|csname|newcommand"
                     r"|renewcommand|jobname|everypar|afterassignment)(?![a-zA-Z])")


@dataclass(frozen=True)
class TexStyle:
    """How one formula is typeset: font, display or text style, size in points, resolution."""

    font: str = "cm"        # cm | times
    display: bool = True    # \displaystyle (im2latex-100k's display math) or \textstyle
    size: float = 12.0      # points (article 12pt: im2latex-100k)
    dpi: int = 200          # pixels per inch of the raster (im2latex-100k: 200)


IM2LATEX_STYLE = TexStyle()


def random_tex_style(rng: np.random.Generator, dpi: tuple[int, int] = (110, 170)) -> TexStyle:
    """The variety of a student's material: Computer Modern or Times, display or text style, 10-14 pt."""
    return TexStyle(font="times" if rng.random() < 0.4 else "cm", display=bool(rng.random() < 0.6),
                    size=float(rng.choice([10.0, 11.0, 12.0, 14.0])), dpi=int(rng.integers(dpi[0], dpi[1] + 1)))


def tex_available() -> bool:
    """True when pdflatex and pdftoppm are on the PATH."""
    return bool(shutil.which("pdflatex") and shutil.which("pdftoppm"))


def check_formula(latex: str) -> str | None:
    """Why a formula cannot go to TeX (unbalanced braces, a command that reaches outside its box), or None."""
    if not latex.strip():
        return "empty formula"
    m = _UNSAFE.search(latex)
    if m:
        return f"command not allowed in a formula: {m.group(0)}"
    depth = 0
    for tok in re.findall(r"\\.|[{}]", latex):
        depth += tok == "{"
        depth -= tok == "}"
        if depth < 0:
            return "unbalanced braces (a '}' without its '{')"
    if depth:
        return f"unbalanced braces ({depth} '{{' not closed)"
    if "%" in latex.replace("\\%", ""):
        return "a bare '%' (TeX's comment) would hide the rest of the formula"
    return None


def _document(formulas: Sequence[str], styles: Sequence[TexStyle], font: str) -> str:
    head = ["\\documentclass[12pt]{article}", "\\usepackage{amsmath,amssymb}", FONTS[font],
            "\\pagestyle{empty}\\newsavebox\\fbx\\pdfhorigin=2pt\\pdfvorigin=2pt",
            "\\newcommand\\emit[1]{\\typeout{@@begin #1}}",
            "\\newcommand\\ship[1]{\\pdfpagewidth=\\wd\\fbx \\advance\\pdfpagewidth 4pt"
            "\\pdfpageheight=\\ht\\fbx \\advance\\pdfpageheight\\dp\\fbx \\advance\\pdfpageheight 4pt"
            "\\shipout\\vbox{\\box\\fbx}\\typeout{@@end #1}}",
            "\\begin{document}"]
    body = []
    for i, (f, st) in enumerate(zip(formulas, styles)):
        math = "\\displaystyle" if st.display else "\\textstyle"
        size = f"\\fontsize{{{st.size:g}}}{{{st.size * 1.2:g}}}\\selectfont"
        body.append(f"\\emit{{{i}}}\\sbox\\fbx{{{size}$ {math} {f} $}}\\ship{{{i}}}")
    return "\n".join(head + body + ["\\end{document}", ""])


def _tex_errors(log: str, n: int) -> tuple[dict[int, str], set[int]]:
    """From a pdflatex log: {formula: first error message} and the formulas that reached their page."""
    errors: dict[int, str] = {}
    shipped: set[int] = set()
    current = None
    lines = log.splitlines()
    for k, line in enumerate(lines):
        if line.startswith("@@begin "):
            current = int(line.split()[1])
        elif line.startswith("@@end "):
            shipped.add(int(line.split()[1]))
            current = None
        elif line.startswith("! ") and current is not None and current not in errors:
            detail = next((x.strip() for x in lines[k + 1:k + 3] if x.startswith("l.")), "")
            errors[current] = (line[2:].strip() + (f" ({detail})" if detail else ""))[:200]
    return errors, {i for i in shipped if i < n}


def crop_to_ink(img: np.ndarray, pad: int = PAD, threshold: int = INK) -> np.ndarray | None:
    """The image cut to its ink plus `pad` white pixels each side; None when there is no ink."""
    ys, xs = np.nonzero(img < threshold)
    if not len(ys):
        return None
    out = np.full((ys.max() - ys.min() + 1 + 2 * pad, xs.max() - xs.min() + 1 + 2 * pad), 255, np.uint8)
    out[pad:-pad, pad:-pad] = img[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    return out


def _run_chunk(formulas: list[str], styles: list[TexStyle], font: str, dpi: int,
               ) -> tuple[dict[int, np.ndarray], dict[int, str]]:
    """One pdflatex + pdftoppm run: ({index: image}, {index: reason}) for the formulas of one font and dpi."""
    images: dict[int, np.ndarray] = {}
    failed: dict[int, str] = {}
    todo = list(range(len(formulas)))
    with tempfile.TemporaryDirectory(prefix="im2latex-tex-") as tmp:
        t = Path(tmp)
        while todo:
            (t / "f.tex").write_text(_document([formulas[i] for i in todo], [styles[i] for i in todo], font),
                                     encoding="utf-8")
            for old in t.glob("p-*.png"):
                old.unlink()
            try:
                subprocess.run(["pdflatex", "-interaction=nonstopmode", "-no-shell-escape", "f.tex"], cwd=t,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=TEX_TIMEOUT)
            except subprocess.TimeoutExpired:
                if len(todo) == 1:
                    failed[todo[0]] = f"TeX did not finish in {TEX_TIMEOUT} s"
                    return images, failed
                half = len(todo) // 2  # one formula loops: find it by halves
                for part in (todo[:half], todo[half:]):
                    sub_img, sub_fail = _run_chunk([formulas[i] for i in part], [styles[i] for i in part], font, dpi)
                    images.update({part[k]: v for k, v in sub_img.items()})
                    failed.update({part[k]: v for k, v in sub_fail.items()})
                return images, failed
            log = (t / "f.log").read_text(encoding="latin-1") if (t / "f.log").exists() else ""
            errors, shipped = _tex_errors(log, len(todo))
            pages = sorted(shipped)
            if pages and (t / "f.pdf").exists():
                subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", "-png", "f.pdf", "p"], cwd=t, check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                pngs = sorted(t.glob("p-*.png"), key=lambda p: int(p.stem.split("-")[1]))
                for k, png in zip(pages, pngs):  # one page per shipped formula, in order
                    i = todo[k]
                    if k in errors:
                        failed[i] = f"TeX error: {errors[k]}"
                        continue
                    crop = crop_to_ink(np.asarray(Image.open(png).convert("L")))
                    if crop is None:
                        failed[i] = "typeset to an empty image (no ink)"
                    else:
                        images[i] = crop
            rest = [k for k in range(len(todo)) if k not in shipped]
            if not rest:
                break
            # TeX stopped at rest[0] (a fatal error): report it, run the formulas after it again
            failed[todo[rest[0]]] = f"TeX stopped: {errors.get(rest[0], 'fatal error')}"
            todo = [todo[k] for k in rest[1:]]
    return images, failed


def render_tex(formulas: Sequence[str], styles: Sequence[TexStyle] | TexStyle = IM2LATEX_STYLE,
               workers: int = 2, chunk: int = CHUNK) -> tuple[list[np.ndarray | None], dict[int, str]]:
    """Grey uint8 images of the formulas (None where one failed) and {index: reason} for every failure.

    Formulas of one font and resolution share a pdflatex run (`chunk` pages each); runs go `workers` at a time.
    """
    if not tex_available():
        raise RuntimeError(f"pdflatex and pdftoppm are needed for real LaTeX: {TEX_PACKAGES}")
    styles = [styles] * len(formulas) if isinstance(styles, TexStyle) else list(styles)
    images: list[np.ndarray | None] = [None] * len(formulas)
    failed: dict[int, str] = {}
    groups: dict[tuple[str, int], list[int]] = {}
    for i, (f, st) in enumerate(zip(formulas, styles)):
        why = check_formula(f)
        if why:
            failed[i] = why
        else:
            groups.setdefault((st.font, st.dpi), []).append(i)
    jobs = [(key, idx[j:j + chunk]) for key, idx in groups.items() for j in range(0, len(idx), chunk)]

    def run(job):
        (font, dpi), idx = job
        return idx, _run_chunk([formulas[i] for i in idx], [styles[i] for i in idx], font, dpi)

    with ThreadPoolExecutor(max(1, workers)) as pool:  # the work is in the TeX processes
        for idx, (imgs, fails) in pool.map(run, jobs):
            for k, img in imgs.items():
                images[idx[k]] = img
            for k, why in fails.items():
                failed[idx[k]] = why
    return images, failed


def render_mathtext(formulas: Sequence[str], seed: int = 0, size: float = 24.0
                    ) -> tuple[list[np.ndarray | None], dict[int, str]]:
    """The same with matplotlib's mathtext (no TeX needed; fewer commands, another look)."""
    from .synth.render import Style, render_formula  # lazy: matplotlib's fonts

    rng = np.random.default_rng(seed)
    images: list[np.ndarray | None] = []
    failed: dict[int, str] = {}
    for i, f in enumerate(formulas):
        try:
            images.append(crop_to_ink(render_formula(f, rng, Style("printed", "cm", size))))
            if images[-1] is None:
                failed[i] = "typeset to an empty image (no ink)"
        except ValueError as e:
            images.append(None)
            failed[i] = str(e)[:200]
    return images, failed


def choose_engine(engine: str = "auto") -> str:
    """`latex` when TeX is installed (or asked for), else `mathtext`; `latex` without TeX is refused."""
    if engine == "auto":
        return "latex" if tex_available() else "mathtext"
    if engine == "latex" and not tex_available():
        raise RuntimeError(f"--engine latex: pdflatex and pdftoppm not found; {TEX_PACKAGES}")
    if engine not in ("latex", "mathtext"):
        raise ValueError(f"unknown engine {engine!r}: latex, mathtext or auto")
    return engine


def render(formulas: Sequence[str], engine: str = "auto", styles: Sequence[TexStyle] | TexStyle = IM2LATEX_STYLE,
           workers: int = 2) -> tuple[list[np.ndarray | None], dict[int, str], str]:
    """(images, {index: reason}, engine used) with the chosen engine."""
    engine = choose_engine(engine)
    if engine == "latex":
        return (*render_tex(formulas, styles, workers), engine)
    st = styles if isinstance(styles, TexStyle) else IM2LATEX_STYLE
    return (*render_mathtext(formulas, size=st.size * st.dpi / 72), engine)


def failure_reasons(failed: dict[int, str]) -> dict[str, int]:
    """How many formulas failed for each kind of reason (TeX's messages grouped as `TeX error`, `TeX stopped`)."""
    reasons: dict[str, int] = {}
    for why in failed.values():
        key = why.split(":")[0] if why.startswith(("TeX error", "TeX stopped", "command not allowed")) else why
        reasons[key] = reasons.get(key, 0) + 1
    return reasons


def render_folder(formulas: Sequence[str], out: str | Path, engine: str = "auto",
                  styles: Sequence[TexStyle] | TexStyle = IM2LATEX_STYLE, workers: int = 2,
                  names: Sequence[str] | None = None, truths: bool = True) -> dict:
    """Write `out/<name>.png` and `out/<name>.txt` (the formula) for each formula that typesets, and
    `out/render_report.json` counting every one that failed with its reason; returns the report. `truths=False`
    leaves out the .txt files (a dataset whose formula list holds them)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = list(names) if names is not None else [f"{i:06d}" for i in range(len(formulas))]
    t0 = time.monotonic()
    images, failed, used = render(formulas, engine, styles, workers)
    for name, f, img in zip(names, formulas, images):
        if img is not None:
            Image.fromarray(img).save(out / f"{name}.png")
            if truths:
                atomic.write_text(out / f"{name}.txt", f + "\n")
    seconds = time.monotonic() - t0
    reasons = failure_reasons(failed)
    report = {"engine": used, "formulas": len(formulas), "rendered": len(formulas) - len(failed),
              "failed": len(failed), "reasons": reasons, "seconds": round(seconds, 2),
              "formulas_per_s": round(len(formulas) / max(seconds, 1e-9), 1),
              "failures": [{"name": names[i], "formula": formulas[i], "reason": why}
                           for i, why in sorted(failed.items())]}
    atomic.write_json(out / "render_report.json", report)
    return report


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m lib.data.render", description=__doc__.splitlines()[0])
    ap.add_argument("formulas", help="a formula list: one formula per line")
    ap.add_argument("out", help="folder for <n>.png, <n>.txt and render_report.json")
    ap.add_argument("--engine", default="auto", choices=("auto", "latex", "mathtext"),
                    help="auto: latex when pdflatex and pdftoppm are installed, else mathtext")
    ap.add_argument("--dpi", type=int, default=IM2LATEX_STYLE.dpi, help="raster resolution (im2latex-100k: 200)")
    ap.add_argument("--size", type=float, default=IM2LATEX_STYLE.size, help="font size in points")
    ap.add_argument("--font", default="cm", choices=sorted(FONTS))
    ap.add_argument("--text-style", action="store_true", help="\\textstyle instead of display style")
    ap.add_argument("--varied", type=int, default=None, metavar="SEED",
                    help="a random font, style, size and resolution per formula (the demo set's variety)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N formulas")
    ap.add_argument("--workers", type=int, default=2, help="pdflatex runs at a time")
    a = ap.parse_args(argv)
    formulas = read_formulas(a.formulas)[:a.limit]
    if a.varied is not None:
        rng = np.random.default_rng(a.varied)
        styles = [random_tex_style(rng) for _ in formulas]
    else:
        styles = TexStyle(a.font, not a.text_style, a.size, a.dpi)
    engine = choose_engine(a.engine)
    if engine == "mathtext" and a.engine == "auto":
        print(f"no TeX installation found: typesetting with matplotlib's mathtext instead ({TEX_PACKAGES})")
    r = render_folder(formulas, a.out, engine, styles, a.workers)
    print(f"{r['rendered']} of {r['formulas']} formulas typeset by {r['engine']} in {r['seconds']} s "
          f"({r['formulas_per_s']} formulas/s) -> {a.out}")
    for why, n in sorted(r["reasons"].items(), key=lambda kv: -kv[1]):
        print(f"  failed, {why}: {n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
