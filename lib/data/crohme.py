"""The `crohme` source: InkML under <crohme>/train (train + dev slice) and <crohme>/test2014 (test)."""
from __future__ import annotations

import hashlib
import time
from pathlib import Path

from ..run.parallel import parallel_map
from . import inkml
from .staging import Tally, write_csv

TRAIN_DIR, TEST_DIR = "train", "test2014"
MANIFEST_FIELDS = ["crop_id", "split", "source", "label"]


def default_dir(root: Path) -> Path:
    """<repo>/../shared/data/crohme, where the course machines keep it."""
    return (Path(root) / ".." / "shared" / "data" / "crohme").resolve()


def check_dir(crohme_dir: str | Path) -> Path:
    """The folder, or a clear error when it lacks train/ and test2014/."""
    d = Path(crohme_dir).expanduser()
    missing = [s for s in (TRAIN_DIR, TEST_DIR) if not (d / s).is_dir()]
    if missing:
        raise FileNotFoundError(f"{d}: not a CROHME folder (missing {', '.join(missing)}/); set the notebook "
                                f"parameter crohme_dir to the folder holding train/ and test2014/")
    return d


def _rank(rel: str, seed: int) -> float:
    """A stable pseudo-random number in [0, 1) per file: selection and dev split without a shuffle."""
    h = hashlib.sha1(f"{seed}:{rel}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2 ** 64


def plan(crohme_dir: str | Path, n_train: int | None, n_test: int | None, dev_fraction: float,
         seed: int = 0) -> list[tuple[Path, str, str]]:
    """(file, split, crop id) for the chosen files: the same choice for the same counts and seed."""
    d = check_dir(crohme_dir)
    jobs = []
    for sub, limit in ((TRAIN_DIR, n_train), (TEST_DIR, n_test)):
        files = sorted(d.joinpath(sub).rglob("*.inkml"), key=lambda f: _rank(f.relative_to(d).as_posix(), seed))
        for f in files[:limit]:
            crop_id = inkml.file_id(f, d / sub)
            if sub == TEST_DIR:
                split = "test"
            else:  # a second hash decides dev, so growing n_train keeps earlier dev files in dev
                split = "dev" if _rank("dev:" + f.relative_to(d).as_posix(), seed) < dev_fraction else "train"
            jobs.append((f, split, crop_id))
    return jobs


def export_crohme(crohme_dir: str | Path, out: Path, n_train: int | None, n_test: int | None,
                  dev_fraction: float, seed: int = 0, workers: int | None = None) -> dict:
    """Render the chosen files into `out/{train,dev,test}/` (+ truths; test truths in `out/answer_key/`)."""
    jobs = plan(crohme_dir, n_train, n_test, dev_fraction, seed)
    for split in ("train", "dev", "test", "answer_key"):
        (out / split).mkdir(parents=True, exist_ok=True)
    work = []
    for f, split, cid in jobs:
        label = out / ("answer_key" if split == "test" else split) / f"{cid}.txt"
        work.append((str(f), str(out / split / f"{cid}.png"), str(label)))
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
                                                 ("median_height", "empty_traces_dropped", "files_per_s")}}
