"""Error analysis: accuracy by formula length, token confusions from edit alignments, error picking."""
from __future__ import annotations

from collections import Counter
from typing import Sequence

from .metrics import levenshtein

GAP = "∅"  # the missing side of an insertion or deletion
DEFAULT_EDGES = (10, 20, 30, 50, 80)  # reference-length bin upper bounds (inclusive)


def align(ref: Sequence[str], hyp: Sequence[str]) -> list[tuple[str | None, str | None]]:
    """A minimum-edit alignment, among those the one with most matches: pairs (ref token, hyp
    token), None on the missing side."""
    n, m = len(ref), len(hyp)
    # cell = (edits, -matches): ties in edit count go to the alignment that keeps more tokens matched
    d = [[(i + j, 0) if i == 0 or j == 0 else (0, 0) for j in range(m + 1)] for i in range(n + 1)]
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            same = ref[i - 1] == hyp[j - 1]
            diag = (d[i - 1][j - 1][0] + (not same), d[i - 1][j - 1][1] - same)
            d[i][j] = min(diag, (d[i - 1][j][0] + 1, d[i - 1][j][1]), (d[i][j - 1][0] + 1, d[i][j - 1][1]))
    pairs: list[tuple[str | None, str | None]] = []
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0:
            same = ref[i - 1] == hyp[j - 1]
            if d[i][j] == (d[i - 1][j - 1][0] + (not same), d[i - 1][j - 1][1] - same):
                pairs.append((ref[i - 1], hyp[j - 1]))
                i, j = i - 1, j - 1
                continue
        if i > 0 and d[i][j] == (d[i - 1][j][0] + 1, d[i - 1][j][1]):
            pairs.append((ref[i - 1], None))
            i -= 1
        else:
            pairs.append((None, hyp[j - 1]))
            j -= 1
    return pairs[::-1]


def confusions(refs: Sequence[Sequence[str]], hyps: Sequence[Sequence[str]], top: int = 15
               ) -> list[tuple[str, str, int]]:
    """The most frequent (truth, prediction, count) edits: substitutions, deletions (prediction
    GAP) and insertions (truth GAP), most frequent first."""
    counts: Counter = Counter()
    for r, h in zip(refs, hyps):
        for a, b in align(r, h):
            if a != b:
                counts[(GAP if a is None else a, GAP if b is None else b)] += 1
    return [(a, b, c) for (a, b), c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]


def bin_label(length: int, edges: Sequence[int] = DEFAULT_EDGES) -> str:
    """The length bin of a reference length, e.g. "11-20", "0" for empty, ">80" past the last edge."""
    if length == 0:
        return "0"
    lo = 1
    for hi in edges:
        if length <= hi:
            return f"{lo}-{hi}"
        lo = hi + 1
    return f">{edges[-1]}"


def by_length(refs: Sequence[Sequence[str]], hyps: Sequence[Sequence[str]],
              edges: Sequence[int] = DEFAULT_EDGES) -> list[dict]:
    """Per reference-length bin: n, exact match %, edit score % and share within 1 error %."""
    order = ["0"] + [bin_label(e, edges) for e in edges] + [f">{edges[-1]}"]
    stats: dict[str, list[int]] = {}
    for r, h in zip(refs, hyps):
        dist = levenshtein(r, h)
        s = stats.setdefault(bin_label(len(r), edges), [0, 0, 0, 0, 0])
        s[0] += 1
        s[1] += dist == 0
        s[2] += dist <= 1
        s[3] += dist
        s[4] += max(len(r), len(h))
    rows = []
    for label in order:
        if label in stats:
            n, exact, le1, dist, norm = stats[label]
            rows.append({"length": label, "n": n, "exact_match": 100.0 * exact / n,
                         "exprate_le1": 100.0 * le1 / n,
                         "edit_score": 100.0 * (1 - dist / norm) if norm else 100.0})
    return rows


def select_errors(refs: Sequence[Sequence[str]], hyps: Sequence[Sequence[str]], k: int = 8) -> list[int]:
    """Indices of up to k wrong predictions spread from the nearest miss to the worst (deterministic)."""
    wrong = sorted((levenshtein(r, h), i) for i, (r, h) in enumerate(zip(refs, hyps)) if list(r) != list(h))
    if len(wrong) <= k:
        return [i for _, i in wrong]
    picks = sorted({round(j * (len(wrong) - 1) / (k - 1)) for j in range(k)}) if k > 1 else [0]
    return [wrong[p][1] for p in picks]
