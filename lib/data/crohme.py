"""The `crohme` source: InkML under <crohme>/train (train + dev slice) and <crohme>/test2014 or test2016 (test).

The folder is the notebook's `crohme_dir`, else $IM2LATEX_CROHME_DIR, else <data>/raw/crohme (where
`python -m lib.crohme fetch` puts it), else ../shared/data/crohme beside the repository.
"""
from __future__ import annotations

import hashlib
import time
from pathlib import Path

from ..run.parallel import parallel_map
from . import inkml, ocr_labels
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


def plan(crohme_dir: str | Path, n_train: int | None, n_test: int | None, dev_fraction: float,
         seed: int = 0, test: str | int = "2014", workers: int | None = 0) -> list[tuple[Path, str, str]]:
    """(file, split, crop id) for the chosen files: the same choice for the same counts and seed.

    Dev is held out **by formula**: a formula (normalised tokens) is in dev for every writer or for none, so
    no dev formula occurs in train (CROHME has one formula written by up to 31 writers; a split by file would
    put half the dev formulas verbatim in train). The choice hashes the formula, so growing `n_train` keeps
    every earlier dev formula in dev.
    """
    d = check_dir(crohme_dir, test)
    test_sub = test_dir(test)
    jobs = []
    for sub, limit in ((TRAIN_DIR, n_train), (test_sub, n_test)):
        files = sorted(d.joinpath(sub).rglob("*.inkml"), key=lambda f: _rank(f.relative_to(d).as_posix(), seed))
        files = files[:limit]
        keys = parallel_map(formula_key, [str(f) for f in files], workers, desc="read truths", unit="file") \
            if sub == TRAIN_DIR and dev_fraction > 0 else [""] * len(files)
        for f, key in zip(files, keys):
            crop_id = inkml.file_id(f, d / sub)
            if sub == test_sub:
                split = "test"
            else:
                split = "dev" if dev_fraction > 0 and _rank("dev:" + key, seed) < dev_fraction else "train"
            jobs.append((f, split, crop_id))
    return jobs


def export_crohme(crohme_dir: str | Path, out: Path, n_train: int | None, n_test: int | None,
                  dev_fraction: float, seed: int = 0, workers: int | None = None, test: str | int = "2014",
                  symbol_height: float = inkml.SYMBOL_HEIGHT) -> dict:
    """Render the chosen files into `out/{train,dev,test}/` (+ truths; test truths in `out/answer_key/`),
    the median symbol `symbol_height` pixels high."""
    jobs = plan(crohme_dir, n_train, n_test, dev_fraction, seed, test, workers)
    for split in ("train", "dev", "test", "answer_key"):
        (out / split).mkdir(parents=True, exist_ok=True)
    work = []
    for f, split, cid in jobs:
        label = out / ("answer_key" if split == "test" else split) / f"{cid}.txt"
        work.append((str(f), str(out / split / f"{cid}.png"), str(label), symbol_height))
    t0 = time.monotonic()
    results = parallel_map(inkml.render_file, work, workers, desc="render InkML", unit="file")
    seconds = time.monotonic() - t0
    tally, rows = Tally(), []
    for (f, split, cid), r in zip(jobs, results):
        if r["ok"]:
            tally.keep(split)
            rows.append({"crop_id": cid, "split": split, "source": str(f), "label": f"{cid}.txt"})
        else:
            tally.drop(split, r["reason"], r["error"])
    write_csv(out / "manifest.csv", rows, MANIFEST_FIELDS)
    summary = inkml.summarise(results, seconds)
    return {"splits": tally.as_dict(), "render": {k: summary[k] for k in
                                                 ("median_height", "empty_traces_dropped", "files_per_s")},
            "split_by": "formula", "symbol_height": symbol_height}
