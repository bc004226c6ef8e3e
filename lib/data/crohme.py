"""The `crohme` source: InkML under <crohme>/train (train + dev slice) and <crohme>/test2014 or test2016 (test).

The folder is the notebook's `crohme_dir`, else $IM2LATEX_CROHME_DIR, else <data>/raw/crohme (where
`python -m lib.crohme fetch` puts it), else ../shared/data/crohme beside the repository.
"""
from __future__ import annotations

import hashlib
import time
from collections import Counter
from pathlib import Path

from ..run.parallel import parallel_map
from . import inkml, inkml_compose, inkml_parts, ocr_labels
from .latex import join
from .staging import Tally, write_csv

TRAIN_DIR = "train"
TEST_DIRS = {"2014": "test2014", "2016": "test2016"}  # the published test sets (ExpRate is reported per set)
ENV = "IM2LATEX_CROHME_DIR"
FETCH = "python -m lib.crohme fetch"
MANIFEST_FIELDS = ["crop_id", "split", "source", "label"]


def shared_dir(root: Path) -> Path:
    """<repo>/../shared/data/crohme, where the course machines keep it."""
    return (Path(root) / ".." / "shared" / "data" / "crohme").resolve()


def test_dir(test: str | int) -> str:
    if str(test) not in TEST_DIRS:
        raise ValueError(f"crohme_test={test!r}: choose one of {', '.join(TEST_DIRS)}")
    return TEST_DIRS[str(test)]


def check_dir(crohme_dir: str | Path, test: str | int = "2014") -> Path:
    """The folder, or a clear error when it lacks train/ or the chosen test set."""
    d = Path(crohme_dir).expanduser()
    missing = [s for s in (TRAIN_DIR, test_dir(test)) if not (d / s).is_dir()]
    if missing:
        hint = (f"the 2016 test set comes with the package: {FETCH}" if test_dir(test) == "test2016" else
                f"set the notebook parameter crohme_dir to the folder holding {TRAIN_DIR}/ and {test_dir(test)}/")
        raise FileNotFoundError(f"{d}: not a CROHME folder (missing {', '.join(missing)}/); {hint}")
    return d


def find_dir(crohme_dir: str | Path, home: Path, root: Path, test: str | int = "2014") -> Path:
    """The first CROHME folder of: the parameter, $IM2LATEX_CROHME_DIR, <home>/data/raw/crohme, ../shared."""
    import os

    given = str(crohme_dir or os.environ.get(ENV, ""))
    if given:
        return check_dir(given, test).resolve()
    places = [Path(home) / "data" / "raw" / "crohme", shared_dir(root)]
    for place in places:
        if (place / TRAIN_DIR).is_dir():
            return check_dir(place, test).resolve()
    raise FileNotFoundError("no CROHME data (looked in " + ", ".join(str(p) for p in places) +
                            f"): fetch it with `{FETCH}` (about 65 MB), or set crohme_dir")


def _rank(rel: str, seed: int) -> float:
    """A stable pseudo-random number in [0, 1) per file: selection and dev split without a shuffle."""
    h = hashlib.sha1(f"{seed}:{rel}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2 ** 64


def formula_key(path: str | Path) -> str:
    """What the dev split holds out: the file's formula as normalised tokens (as step 02 will write it), or
    the raw truth when it does not normalise, or the file's path when it has no truth at all."""
    try:
        truth = inkml.read_truth(path)
    except inkml.InkmlError:
        truth = None
    if not truth:
        return f"file:{Path(path).name}"
    verdict = ocr_labels.classify(truth, None, plain=True)
    return join(verdict.tokens) if verdict.ok else truth.strip()


def writer_key(path: str | Path) -> str:
    """Who wrote a file: its collection and `<annotation type="writer">`, else its name without the formula
    number (MathBrush's `200926-1617-99` was written in session `200926-1617`, extension's
    `form005-equation018` on form `form005`)."""
    import re

    path = Path(path)
    head = path.read_text(encoding="utf-8", errors="replace")[:8000]
    m = re.search(r'<annotation type="writer">([^<]*)<', head)
    who = m.group(1).strip() if m and m.group(1).strip() else re.sub(r"[-_](equation)?\d+$", "", path.stem)
    return f"{path.parent.name}:{who}"


def _keys(f: str) -> tuple[str, str]:
    return formula_key(f), writer_key(f)


DEV_BY = ("writer", "formula")


def plan(crohme_dir: str | Path, n_train: int | None, n_test: int | None, dev_fraction: float,
         seed: int = 0, test: str | int = "2014", workers: int | None = 0,
         dev_by: str = "writer") -> list[tuple[Path, str, str]]:
    """(file, split, crop id) for the chosen files: the same choice for the same counts and seed.

    `dev_by="writer"` (default) holds dev out the way the test sets are: by writer **and** by formula. A share
    `dev_fraction` of the writers is chosen by hash; their files are dev unless the formula is also written
    by a training writer (then split "unused": neither trained on nor scored). The test sets' writers are
    new and 97 % of their formulas too; a dev of the training writers reads 2.4x better than test.
    `dev_by="formula"` holds out formulas only (a formula is in dev for every writer or for none).
    Either way no dev formula occurs in train, and the choice hashes the key, so growing `n_train` keeps
    every earlier dev file in dev.
    """
    if dev_by not in DEV_BY:
        raise ValueError(f"crohme_dev_by={dev_by!r}: choose one of {', '.join(DEV_BY)}")
    d = check_dir(crohme_dir, test)
    test_sub = test_dir(test)
    jobs = []
    for sub, limit in ((TRAIN_DIR, n_train), (test_sub, n_test)):
        files = sorted(d.joinpath(sub).rglob("*.inkml"), key=lambda f: _rank(f.relative_to(d).as_posix(), seed))
        files = files[:limit]
        if sub == test_sub:
            jobs += [(f, "test", inkml.file_id(f, d / sub)) for f in files]
            continue
        keys = parallel_map(_keys, [str(f) for f in files], workers, desc="read truths", unit="file") \
            if dev_fraction > 0 else [("", "")] * len(files)
        if dev_by == "formula":
            held = [dev_fraction > 0 and _rank("dev:" + k, seed) < dev_fraction for k, _ in keys]
        else:
            held = [dev_fraction > 0 and _rank("writer:" + w, seed) < dev_fraction for _, w in keys]
        trained = {k for (k, _), h in zip(keys, held) if not h}
        for f, (k, _), h in zip(files, keys, held):
            split = "train" if not h else "unused" if dev_by == "writer" and k in trained else "dev"
            jobs.append((f, split, inkml.file_id(f, d / sub)))
    return jobs


def export_crohme(crohme_dir: str | Path, out: Path, n_train: int | None, n_test: int | None,
                  dev_fraction: float, seed: int = 0, workers: int | None = None, test: str | int = "2014",
                  symbol_height: float = inkml.SYMBOL_HEIGHT, dev_by: str = "writer", parts: int = 0,
                  composed: int = 0, mix: dict | None = None) -> dict:
    """Render the chosen files into `out/{train,dev,test}/` (+ truths; test truths in `out/answer_key/`),
    the median symbol `symbol_height` pixels high; with `parts` > 0, also up to that many sub-expressions
    of each training file (lib/data/inkml_parts.py) into `out/train/` as `<id>~p<k>`; with `composed` > 0, that
    many formulas of the `mix` drawn with the training files' symbols (lib/data/inkml_compose.py) as
    `composed_<n>`."""
    jobs = plan(crohme_dir, n_train, n_test, dev_fraction, seed, test, workers, dev_by)
    for split in ("train", "dev", "test", "answer_key"):
        (out / split).mkdir(parents=True, exist_ok=True)
    tally, rows = Tally(), []
    work, kept = [], []
    for f, split, cid in jobs:
        if split == "unused":
            tally.drop("dev", UNUSED, str(f))
            continue
        label = out / ("answer_key" if split == "test" else split) / f"{cid}.txt"
        work.append((str(f), str(out / split / f"{cid}.png"), str(label), symbol_height))
        kept.append((f, split, cid))
    t0 = time.monotonic()
    results = parallel_map(inkml.render_file, work, workers, desc="render InkML", unit="file")
    seconds = time.monotonic() - t0
    for (f, split, cid), r in zip(kept, results):
        if r["ok"]:
            tally.keep(split)
            rows.append({"crop_id": cid, "split": split, "source": str(f), "label": f"{cid}.txt"})
        else:
            tally.drop(split, r["reason"], r["error"])
    report = {"splits": None, "split_by": f"{dev_by}+formula" if dev_by == "writer" else "formula"}
    train = [(f, cid) for (f, split, cid), r in zip(kept, results) if split == "train" and r["ok"]]
    dev_formulas = {formula_key(str(f)) for f, split, _ in kept if split == "dev"} if parts or composed else set()
    if parts > 0:
        report["parts"] = export_parts(train, out / "train", parts, dev_formulas, seed, workers, symbol_height,
                                       tally, rows)
    if composed > 0:
        report["composed"] = export_composed([str(f) for f, _ in train], out / "train", composed, mix or {},
                                             dev_formulas, seed, workers, symbol_height, tally, rows)
    write_csv(out / "manifest.csv", rows, MANIFEST_FIELDS)
    summary = inkml.summarise(results, seconds)
    report.update(splits=tally.as_dict(), symbol_height=symbol_height,
                  render={k: summary[k] for k in ("median_height", "empty_traces_dropped", "files_per_s")})
    return report


UNUSED = "dev_writer_formula_also_in_train"


def export_parts(train: list[tuple[Path, str]], out: Path, per_file: int, dev_formulas: set[str], seed: int,
                 workers: int | None, symbol_height: float, tally: Tally, rows: list[dict]) -> dict:
    """Up to `per_file` sub-expressions of each training file (chosen by hash, never a dev formula) rendered
    into `out` and added to `rows` as split "train", source `<file>#<LaTeX>`; what was made and skipped."""
    found = parallel_map(inkml_parts.list_parts, [str(f) for f, _ in train], workers, desc="cut InkML",
                         unit="file")
    chosen, jobs, skipped, dev_hits = [], [], Counter(), 0
    examples: dict[str, list[str]] = {}
    for (f, cid), (texs, reason, error) in zip(train, found):
        if reason:
            skipped[reason] += 1
            if len(examples.setdefault(reason, [])) < 5:
                examples[reason].append(error)
            continue
        allowed = [i for i, t in enumerate(texs) if t not in dev_formulas]
        dev_hits += len(texs) - len(allowed)
        allowed.sort(key=lambda i: _rank(f"part:{cid}:{texs[i]}", seed))
        picked = [(i, f"{cid}~p{k}") for k, i in enumerate(sorted(allowed[:per_file]))]
        if picked:
            jobs.append((str(f), [(i, str(out / f"{pid}.png"), str(out / f"{pid}.txt")) for i, pid in picked],
                         symbol_height))
            chosen += [(str(f), pid, texs[i]) for i, pid in picked]
    t0 = time.monotonic()
    per_file_results = parallel_map(inkml_parts.render_parts, jobs, workers, desc="render parts", unit="file")
    results = [r for rs in per_file_results for r in rs]
    made = set()
    for c, r in zip(chosen, results):
        if r["ok"]:
            tally.keep("train")
            rows.append({"crop_id": c[1], "split": "train", "source": f"{c[0]}#{c[2]}", "label": f"{c[1]}.txt"})
            made.add(c[2])
        else:
            tally.drop("train", r["reason"], r["error"])
    return {"per_file": per_file, "files_cut": len(train) - sum(skipped.values()), "files_not_cut": dict(skipped),
            "examples": examples, "parts_written": sum(r["ok"] for r in results), "distinct_formulas": len(made),
            "dropped_dev_formula": dev_hits, "seconds": round(time.monotonic() - t0, 1)}


def export_composed(train: list[str], out: Path, n: int, mix: dict, dev_formulas: set[str], seed: int,
                    workers: int | None, symbol_height: float, tally: Tally, rows: list[dict]) -> dict:
    """`n` formulas of the mix drawn with the symbols of the training files only, rendered into `out` and added to
    `rows` as split "train", source `composed#<LaTeX>`; what was made and what could not be drawn."""
    t0 = time.monotonic()
    bank = inkml_compose.build_bank(train, workers=workers)
    made, report = inkml_compose.compose_many(bank, n, seed, mix or {"exam": 1.0}, dev_formulas)
    jobs = [(c, str(out / f"composed_{i:05d}.png"), str(out / f"composed_{i:05d}.txt"), symbol_height)
            for i, c in enumerate(made)]
    results = parallel_map(inkml_compose.render_composed, jobs, workers, desc="render composed", unit="formula")
    for i, (c, r) in enumerate(zip(made, results)):
        tally.keep("train")
        rows.append({"crop_id": f"composed_{i:05d}", "split": "train", "source": f"composed#{c.tex}",
                     "label": f"composed_{i:05d}.txt"})
    return {**report, "written": len(results), "seconds": round(time.monotonic() - t0, 1)}
