"""Token <-> index mapping stored as `vocab.json` (<PAD> 0, <SOS> 1, <EOS> 2, <UNK> 3)."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

from ..run import atomic

PAD, SOS, EOS, UNK = "<PAD>", "<SOS>", "<EOS>", "<UNK>"
SPECIALS = (PAD, SOS, EOS, UNK)
PAD_ID, SOS_ID, EOS_ID, UNK_ID = 0, 1, 2, 3


class Vocab:
    """A fixed token list; index 0..3 are the special tokens."""

    def __init__(self, tokens: Sequence[str]):
        if tuple(tokens[:4]) != SPECIALS:
            raise ValueError(f"a vocabulary must start with {SPECIALS}, got {tuple(tokens[:4])}")
        self.itos = list(tokens)
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("duplicate tokens in vocabulary")

    @classmethod
    def build(cls, formulas: Iterable[Sequence[str]], min_count: int = 1) -> "Vocab":
        """From tokenised formulas; tokens sorted by frequency, then alphabetically."""
        counts = Counter(t for f in formulas for t in f)
        kept = sorted((t for t, c in counts.items() if c >= min_count and t not in SPECIALS),
                      key=lambda t: (-counts[t], t))
        return cls([*SPECIALS, *kept])

    @classmethod
    def load(cls, path: str | Path) -> "Vocab":
        mapping = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls.from_dict(mapping)

    @classmethod
    def from_dict(cls, mapping: dict[str, int]) -> "Vocab":
        tokens = sorted(mapping, key=mapping.__getitem__)
        if [mapping[t] for t in tokens] != list(range(len(tokens))):
            raise ValueError("vocab.json indices must be 0..N-1 without gaps")
        return cls(tokens)

    def to_dict(self) -> dict[str, int]:
        return dict(self.stoi)

    def save(self, path: str | Path) -> Path:
        return atomic.write_json(path, self.to_dict())

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def encode(self, tokens: Sequence[str], add_bounds: bool = True) -> list[int]:
        """Token ids, unknown tokens as <UNK>; with <SOS> ... <EOS> when `add_bounds`."""
        ids = [self.stoi.get(t, UNK_ID) for t in tokens]
        return [SOS_ID, *ids, EOS_ID] if add_bounds else ids

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens up to the first <EOS>, without <PAD>/<SOS>."""
        out = []
        for i in ids:
            i = int(i)
            if i == EOS_ID:
                break
            if i in (PAD_ID, SOS_ID):
                continue
            out.append(self.itos[i] if 0 <= i < len(self.itos) else UNK)
        return out
