"""The handwriting part of `python -m lib.bench learn --data crohme`: CROHME rendered and cleaned once per
recipe, and the 2014 test set scored once, at the end (ExpRate, <=1, <=2; greedy and the recipe's beam)."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from ..data import LIST_NAMES, crohme
from ..data.buckets import of_profile
from ..data.clean import clean
from ..data.dataset import load_split
from ..evaluation.compare import evaluate_checkpoints, test_split
from ..run import atomic, records
from ..run.parallel import pool_workers
from ..training.pretrain import shared_vocab

TEST_SET = "2014"
KEYS = ("exprate", "exprate_le1", "exprate_le2")


def data_params(profile, n_train: int | None, n_test: int | None, seed: int, where: Path) -> dict:
    """What the processed set depends on: a set made with the same parameters is reused."""
    return {"source": str(where), "train": n_train, "test": n_test, "test_set": TEST_SET, "seed": seed,
            "dev_fraction": profile.dev_fraction, "dev_by": profile.crohme_dev_by, "parts": profile.crohme_parts,
            **({"composed": profile.crohme_composed, "mix": profile.demo_mix} if profile.crohme_composed else {}),
            "symbol_height": profile.crohme_symbol_height, "buckets": profile.buckets,
            "max_tokens": profile.max_tokens}


def prepare_crohme(home: Path, root: Path, profile, n_train: int | None, seed: int,
                   crohme_dir: str | Path = "", n_test: int | None = None) -> tuple[Path, dict]:
    """The processed CROHME set (train + formula-held-out dev from train/, all of test2014 or `n_test` files)
    under <home>/data/bench/, made once per recipe; (folder, {seconds, reused, report})."""
    where = crohme.find_dir(crohme_dir, home, root, TEST_SET)
    params = data_params(profile, n_train, n_test, seed, where)
    tag = (f"crohme-t{n_train or 'all'}{f'-test{n_test}' if n_test else ''}-h{profile.crohme_symbol_height:g}-"
           f"{profile.buckets}-{profile.crohme_dev_by}-p{profile.crohme_parts}"
           f"{f'-c{profile.crohme_composed}' if profile.crohme_composed else ''}-s{seed}")
    base = home / "data" / "bench" / tag
    processed, stamp = base / "processed", base / "processed" / "bench.json"
    if stamp.is_file() and json.loads(stamp.read_text(encoding="utf-8")) == params:
        report = records.read_cleaning_report(processed)
        return processed, {"seconds": 0.0, "reused": True, "report": report}
    t0 = time.monotonic()
    workers = pool_workers(profile.workers)
    shutil.rmtree(base / "interim", ignore_errors=True)
    exported = crohme.export_crohme(where, base / "interim", n_train, n_test, profile.dev_fraction, seed, workers,
                                    TEST_SET, profile.crohme_symbol_height, profile.crohme_dev_by, profile.crohme_parts,
                                    profile.crohme_composed, profile.demo_mix)
    report = clean(base / "interim", processed, profile.max_tokens, of_profile(profile), plain=True,
                   workers=workers, symbol_height=profile.crohme_symbol_height)
    records.write_export_report(processed, exported)  # what was cut, composed and held out, beside the cleaning
    atomic.write_json(stamp, params)
    shutil.rmtree(base / "interim", ignore_errors=True)
    seconds = time.monotonic() - t0
    print(f"CROHME rendered and cleaned in {seconds:.0f} s -> {processed}")
    return processed, {"seconds": round(seconds, 1), "reused": False, "report": report}


def test_scores(checkpoint: Path, processed: Path, beam: int, max_len: int, batch_size: int = 16) -> dict:
    """The whole test set decoded greedily and (beam > 1) with `beam`: {decoder: metrics}."""
    split = test_split(processed)
    if split.refs is None:
        raise ValueError(f"{processed}: no answer_key.txt to score the test set against")
    runs = evaluate_checkpoints([("model", checkpoint)], [split], beam, batch_size=batch_size, max_len=max_len)
    return {r.decoder: {**r.metrics["test"], "images_per_s": r.images_per_s} for r in runs}


def split_summary(report: dict) -> dict:
    """Formulas per split and how many dev / test formulas occur verbatim in train."""
    lengths = report.get("lengths", {})
    return {"train": lengths.get("train", {}).get("n"), "dev": lengths.get("dev", {}).get("n"),
            "test": lengths.get("test", {}).get("n"), "overlap_with_train": report.get("overlap_with_train")}


def mix_sets(out: Path, main: Path, extra: Path) -> Path:
    """A processed set training on `main`'s and `extra`'s train formulas together (one vocabulary), with
    `main`'s dev and test splits, ink scale and report: images are linked, not copied."""
    if (out / "bench.json").is_file() and json.loads((out / "bench.json").read_text()) == [str(main), str(extra)]:
        return out
    shutil.rmtree(out, ignore_errors=True)
    (out / "images").mkdir(parents=True)
    lines: list[str] = []
    lists = {split: [] for split in ("train", "dev", "test")}
    for image in (main / "images").iterdir():  # every image of main, unreadable test images too
        (out / "images" / image.name).symlink_to(image.resolve())
    for source, splits in ((main, ("train", "dev", "test")), (extra, ("train",))):
        for split in splits:
            for name, tokens in load_split(source, split):
                lists[split].append(f"{name} {len(lines)}")
                lines.append(" ".join(tokens))
                if source == extra:
                    link = out / "images" / name
                    if link.exists():
                        raise ValueError(f"{name}: an image of both {main} and {extra}")
                    link.symlink_to((source / "images" / name).resolve())
    atomic.write_text(out / "formulas.norm.lst", "".join(f"{line}\n" for line in lines))
    for split, name in LIST_NAMES.items():
        atomic.write_text(out / name, "".join(f"{line}\n" for line in lists[split]))
    for name in ("test_ids.txt", "answer_key.txt", records.CLEANING_REPORT):
        if (main / name).is_file():
            shutil.copyfile(main / name, out / name)
    shared_vocab(out).save(out / "vocab.json")
    atomic.write_json(out / "bench.json", [str(main), str(extra)])
    return out
