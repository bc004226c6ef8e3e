"""A tiny processed dataset (the processed layout: README, *Data*) rendered with matplotlib mathtext, for fast tests."""
from __future__ import annotations

import io
import json
import random
from pathlib import Path

import numpy as np

ATOMS = ["x", "y", "a", "b", "n", "1", "2", "3", "\\alpha", "\\beta", "\\pi"]
OPS = ["+", "-", "="]


def random_formula(rng: random.Random) -> list[str]:
    """A short token list: atoms joined by operators, with an optional power, fraction or root."""
    def term() -> list[str]:
        kind = rng.random()
        a = rng.choice(ATOMS)
        if kind < 0.2:
            return [a, "^", "{", rng.choice(ATOMS), "}"]
        if kind < 0.3:
            return ["\\frac", "{", a, "}", "{", rng.choice(ATOMS), "}"]
        if kind < 0.4:
            return ["\\sqrt", "{", a, "}"]
        return [a]

    tokens = term()
    for _ in range(rng.randint(0, 2)):
        tokens += [rng.choice(OPS), *term()]
    return tokens


def render(tokens: list[str], dpi: int = 100) -> np.ndarray:
    """Grey uint8 image of a formula rendered by mathtext (white background)."""
    from matplotlib import mathtext
    from PIL import Image

    buf = io.BytesIO()
    mathtext.math_to_image("$" + " ".join(tokens) + "$", buf, dpi=dpi, format="png")
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("L"), dtype=np.uint8)


def make_processed_dataset(out_dir: str | Path, n_train: int = 24, n_dev: int = 8, n_test: int = 8,
                           seed: int = 0, buckets=None) -> Path:
    """Write images/, formulas.norm.lst, *_filter.lst, test_ids.txt, answer_key.txt, vocab.json and a
    cleaning_report.json under `out_dir`; returns it. Crop ids: `fix_<split>_<k>`."""
    from PIL import Image

    from lib.data.images import preprocess
    from lib.data.vocab import Vocab

    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    formulas: list[list[str]] = []
    lists: dict[str, list[str]] = {"train": [], "validate": [], "test": []}
    for split, n in (("train", n_train), ("validate", n_dev), ("test", n_test)):
        for k in range(n):
            tokens = random_formula(rng)
            name = f"fix_{split}_{k:03d}.png"
            img = preprocess(render(tokens)) if buckets is None else preprocess(render(tokens), buckets)
            Image.fromarray(img).save(out / "images" / name)
            lists[split].append(f"{name} {len(formulas)}")
            formulas.append(tokens)
    (out / "formulas.norm.lst").write_text("\n".join(" ".join(f) for f in formulas) + "\n", encoding="utf-8")
    for split, lines in lists.items():
        (out / f"{split}_filter.lst").write_text("\n".join(lines) + "\n", encoding="utf-8")
    test_names = [line.split()[0] for line in lists["test"]]
    (out / "test_ids.txt").write_text("\n".join(test_names) + "\n", encoding="utf-8")
    keys = [" ".join(formulas[int(line.split()[1])]) for line in lists["test"]]
    (out / "answer_key.txt").write_text("\n".join(keys) + "\n", encoding="utf-8")
    train = [formulas[int(line.split()[1])] for line in lists["train"]]
    Vocab.build(train + formulas).save(out / "vocab.json")  # all fixture tokens known
    report = {"splits": {s: {"seen": len(v), "kept": len(v), "dropped": {}, "examples": {}}
                         for s, v in lists.items()}, "unknown_tokens": {}}
    (out / "cleaning_report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    return out
