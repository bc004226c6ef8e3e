"""Reading what a model never saw: formulas from another corpus (im2latex-100k's arXiv formulas), typeset by real
LaTeX as that dataset was, every token in the model's vocabulary, scored by exact match and <= 2 token edits.

A model trained on generated formulas can score well on them by recalling the generator; these formulas come from
no template of the bundle, so only reading gets them right. `python -m lib.bench learn` prints `unseen_exact`
and `unseen_le2` beside its dev figures; `python -m lib.bench unseen --checkpoint CKPT` scores any checkpoint.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path

import numpy as np

from ..data.latex import LatexError, is_multiline, normalize
from ..data.render import IM2LATEX_STYLE, read_formulas, render_folder, tex_available
from ..evaluation.metrics import edit_score, exprate
from ..inference.predict import predict_paths
from ..models.checkpoint import load_model
from ..run.notebook import default_home, repo_root

FORMULAS_ENV = "IM2LATEX_UNSEEN_FORMULAS"  # a formula list to draw the unseen formulas from
SHARED = Path("..") / "shared" / "data" / "im2latex" / "val.formulas.norm.txt"
N_FORMULAS, MAX_TOKENS = 400, 40


def formulas_file(root: Path | None = None) -> Path | None:
    """$IM2LATEX_UNSEEN_FORMULAS, else ../shared/data/im2latex/val.formulas.norm.txt beside the repo, else None."""
    if os.environ.get(FORMULAS_ENV):
        return Path(os.environ[FORMULAS_ENV])
    p = (root or repo_root()) / SHARED
    return p if p.is_file() else None


def candidates(lines: list[str], vocab: set[str], max_tokens: int = MAX_TOKENS, seed: int = 0
               ) -> list[tuple[int, str, list[str]]]:
    """(line index, formula as written, normalised tokens) of every one-line formula of at most `max_tokens`
    tokens, all in `vocab`, in a fixed shuffled order."""
    out = []
    for i in np.random.default_rng(seed).permutation(len(lines)):
        try:
            toks = normalize(lines[i])
        except LatexError:
            continue
        if toks and len(toks) <= max_tokens and all(t in vocab for t in toks) and not is_multiline(toks):
            out.append((int(i), lines[i], toks))
    return out


def unseen_set(folder: Path, source: Path, vocab: set[str], n: int = N_FORMULAS, max_tokens: int = MAX_TOKENS
               ) -> dict:
    """The first `n` candidates that typeset, rendered under `folder/<hash>/` once: {images, refs, pool, ...}."""
    lines = read_formulas(source)
    pool = candidates(lines, vocab, max_tokens)
    key = hashlib.sha1(json.dumps([source.name, n, max_tokens, [c[0] for c in pool[:3 * n]]]).encode()).hexdigest()
    out = folder / key[:10]
    meta = out / "unseen.json"
    if meta.is_file():
        return json.loads(meta.read_text(encoding="utf-8"))
    chosen, start = [], 0
    while len(chosen) < n and start < len(pool):
        part = pool[start:start + int(1.2 * (n - len(chosen))) + 8]
        start += len(part)
        report = render_folder([c[1] for c in part], out, "latex", IM2LATEX_STYLE,
                               names=[f"{c[0]:06d}" for c in part])
        failed = {f["name"] for f in report["failures"]}
        chosen += [c for c in part if f"{c[0]:06d}" not in failed]
    chosen = chosen[:n]
    record = {"source": str(source), "pool": len(pool), "formulas": len(lines), "n": len(chosen),
              "max_tokens": max_tokens, "images": [str(out / f"{c[0]:06d}.png") for c in chosen],
              "refs": [c[2] for c in chosen]}
    meta.write_text(json.dumps(record), encoding="utf-8")
    return record


def score_unseen(checkpoint: str | Path, home: Path | None = None, n: int = N_FORMULAS, beam: int = 1,
                 root: Path | None = None) -> dict:
    """unseen_exact / unseen_le2 (%) of a checkpoint on `n` formulas from another corpus, or a `skipped` reason."""
    root = root or repo_root()
    source = formulas_file(root)
    if source is None:
        return {"skipped": f"no formula list: set ${FORMULAS_ENV} or put ../{SHARED} beside the repo"}
    if not tex_available():
        return {"skipped": "pdflatex and pdftoppm are not installed (the unseen formulas are typeset by LaTeX)"}
    model, vocab, ckpt = load_model(checkpoint, "cpu")
    tokens = set(vocab.itos) - {"<PAD>", "<SOS>", "<EOS>", "<UNK>"}
    home = home or default_home(root)
    data = unseen_set(Path(home) / "data" / "bench" / "unseen", source, tokens, n)
    if not data["n"]:
        return {"skipped": f"none of {data['formulas']} formulas of {source} lies within the model's vocabulary"}
    hyps = predict_paths(model, vocab, data["images"], beam=beam, max_len=ckpt.decode_limit,
                         buckets=ckpt.preprocess.buckets, scale=ckpt.preprocess.ink_scale)
    hyps = [h.split() if h != "-" else [] for h in hyps]
    return {"unseen_exact": round(exprate(data["refs"], hyps), 2), "unseen_le2": round(exprate(data["refs"], hyps, 2), 2),
            "unseen_edit_score": round(edit_score(data["refs"], hyps), 2),
            "unseen_n": data["n"], "unseen_pool": data["pool"], "unseen_source": Path(data["source"]).name,
            "unseen_examples": [[" ".join(r), " ".join(h)] for r, h in list(zip(data["refs"], hyps))[:3]]}


def describe(res: dict) -> list[str]:
    """The lines that report a `score_unseen` result (or why it was skipped), examples included."""
    if "skipped" in res:
        return [f"unseen formulas: skipped ({res['skipped']})"]
    lines = [f"unseen: {res['unseen_n']} arXiv formulas of {res['unseen_source']} typeset by LaTeX ({res['unseen_pool']} "
             f"within the vocabulary, one line, <= {MAX_TOKENS} tokens): exact {res['unseen_exact']:.1f} %, "
             f"<= 2 edits {res['unseen_le2']:.1f} %, edit score {res['unseen_edit_score']:.1f}"]
    for ref, hyp in res["unseen_examples"]:
        lines += [f"  truth: {ref}", f"  read:  {hyp}"]
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lib.bench unseen", description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--n", type=int, default=N_FORMULAS)
    ap.add_argument("--beam", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    res = score_unseen(a.checkpoint, n=a.n, beam=a.beam)
    print("\n".join(describe(res)))
    if a.json:
        print(json.dumps(res))
    return 0
