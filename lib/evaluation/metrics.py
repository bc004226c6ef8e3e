"""The course's metrics over token lists: BLEU-4, exact match, edit score, their mean, CER, ExpRate.

Definitions (GUIDE section 6), all over space-separated tokens of normalised formulas:
- bleu4: nltk `corpus_bleu`, one reference each, weights (0.25,)*4, no smoothing, x100. Without
  smoothing, an n-gram order with no match at all makes the corpus score (numerically) 0. nltk counts
  at least one n-gram per order for every hypothesis, so a short or empty prediction lowers precision.
- exact_match: share of pairs whose token lists are equal, x100.
- edit_score: 1 - sum(lev(ref, hyp)) / sum(max(len(ref), len(hyp))), x100 (100 when every pair is empty).
- course_score: mean of bleu4, exact_match and edit_score.
- cer: character edit distance with spaces removed / reference characters, corpus level, a fraction.
  With no reference characters at all it is 0.0 when the predictions are empty too, else 1.0.
- exprate, exprate_le1, exprate_le2: share (x100) of pairs with token edit distance 0, <= 1, <= 2.

A line holding only "-" (or nothing) is a formula-less line: an empty token list, on either side.
Such a pair still counts: an empty prediction for an empty reference is exact (distance 0).
"""
from __future__ import annotations

import warnings
from typing import Sequence

import editdistance

NO_FORMULA = "-"
KEYS = ("bleu4", "exact_match", "edit_score", "course_score", "cer", "exprate", "exprate_le1",
        "exprate_le2", "n")
BLEU_WEIGHTS = (0.25, 0.25, 0.25, 0.25)

Tokens = Sequence[str]


def tokens(line: str) -> list[str]:
    """The token list of one result/answer-key line; "-" or a blank line is the empty list."""
    line = line.strip()
    return [] if line in ("", NO_FORMULA) else line.split()


def line_of(toks: Sequence[str]) -> str:
    """The result-file line for a token list ("-" when empty)."""
    return " ".join(toks) if toks else NO_FORMULA


def levenshtein(a: Sequence, b: Sequence) -> int:
    """Edit distance between two sequences (tokens or characters)."""
    return int(editdistance.eval(list(a), list(b)))


def _check(refs: Sequence[Tokens], hyps: Sequence[Tokens]) -> None:
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} predictions: they must pair up")
    if not refs:
        raise ValueError("nothing to score: no reference/prediction pairs")
    for name, seqs in (("reference", refs), ("prediction", hyps)):
        bad = next((i for i, s in enumerate(seqs) if isinstance(s, str)), None)
        if bad is not None:
            raise TypeError(f"{name} {bad} is a string: pass token lists (use metrics.tokens(line))")


def bleu4(refs: Sequence[Tokens], hyps: Sequence[Tokens]) -> float:
    """Corpus BLEU-4 x100 exactly as nltk computes it (no smoothing)."""
    from nltk.translate.bleu_score import corpus_bleu

    _check(refs, hyps)
    with warnings.catch_warnings():  # nltk warns on every zero-match order; documented above instead
        warnings.simplefilter("ignore")
        value = corpus_bleu([[list(r)] for r in refs], [list(h) for h in hyps], weights=BLEU_WEIGHTS)
    return 100.0 * float(value)


def exact_match(refs: Sequence[Tokens], hyps: Sequence[Tokens]) -> float:
    """Share of identical token lists, x100."""
    _check(refs, hyps)
    return 100.0 * sum(list(r) == list(h) for r, h in zip(refs, hyps)) / len(refs)


def edit_score(refs: Sequence[Tokens], hyps: Sequence[Tokens]) -> float:
    """1 - total token edit distance / total max length, x100."""
    _check(refs, hyps)
    dist = sum(levenshtein(r, h) for r, h in zip(refs, hyps))
    norm = sum(max(len(r), len(h)) for r, h in zip(refs, hyps))
    return 100.0 * (1.0 - dist / norm) if norm else 100.0


def cer(refs: Sequence[Tokens], hyps: Sequence[Tokens]) -> float:
    """Corpus character error rate over formulas without spaces (a fraction)."""
    _check(refs, hyps)
    ref_chars = ["".join(r) for r in refs]
    dist = sum(levenshtein(r, "".join(h)) for r, h in zip(ref_chars, hyps))
    total = sum(len(r) for r in ref_chars)
    if total == 0:
        return 0.0 if dist == 0 else 1.0
    return dist / total


def exprate(refs: Sequence[Tokens], hyps: Sequence[Tokens], max_errors: int = 0) -> float:
    """Share (x100) of pairs with token edit distance <= max_errors (CROHME ExpRate)."""
    _check(refs, hyps)
    return 100.0 * sum(levenshtein(r, h) <= max_errors for r, h in zip(refs, hyps)) / len(refs)


def score(refs: Sequence[Tokens], hyps: Sequence[Tokens]) -> dict:
    """Every metric: keys `KEYS` (percentages 0-100, cer a fraction, n the number of pairs)."""
    _check(refs, hyps)
    dists = [levenshtein(r, h) for r, h in zip(refs, hyps)]
    n = len(refs)
    out = {"bleu4": bleu4(refs, hyps), "exact_match": exact_match(refs, hyps),
           "edit_score": edit_score(refs, hyps)}
    out["course_score"] = (out["bleu4"] + out["exact_match"] + out["edit_score"]) / 3.0
    out["cer"] = cer(refs, hyps)
    for key, k in (("exprate", 0), ("exprate_le1", 1), ("exprate_le2", 2)):
        out[key] = 100.0 * sum(d <= k for d in dists) / n
    out["n"] = n
    return out


def score_lines(ref_lines: Sequence[str], hyp_lines: Sequence[str]) -> dict:
    """`score` over result-file lines ("-" = no formula)."""
    return score([tokens(x) for x in ref_lines], [tokens(x) for x in hyp_lines])


def rounded(metrics: dict, digits: int = 6) -> dict:
    """The same dict with floats rounded (nltk's zero BLEU is a tiny positive number, not 0.0) for JSON files."""
    return {k: round(v, digits) if isinstance(v, float) else v for k, v in metrics.items()}


def format_table(metrics: dict) -> str:
    """Metrics as aligned `name value` lines for printing."""
    rows = []
    for key in KEYS:
        if key in metrics:
            v = metrics[key]
            rows.append(f"{key:<13} {v:d}" if key == "n" else
                        f"{key:<13} {v:.4f}" if key == "cer" else f"{key:<13} {v:.2f}")
    return "\n".join(rows)
