"""How fast a model learns to read: `python -m lib.bench learn [--data demo|crohme] [--model model2] [--minutes 30]`.

The project's speedrun. It generates (or reuses) a demo set of P pages with seed S (steps 01 and 02 exactly
as the notebooks run them, with the `cpu` profile), trains the model from scratch with the `cpu` profile's
recipe for M minutes of wall time on this machine (validation included), then decodes the whole dev split
greedily and prints exact match, edit score, BLEU-4 and the course score; the same model on 400 arXiv formulas
typeset by LaTeX that no demo template makes (`unseen_exact`, `unseen_le2`: lib/bench/unseen.py); training images/s, optimiser steps
and train formulas; and the minutes at which the validation exact match (the loop's own, on its
`val_limit` dev images) first reached 10, 25 and 50 %. With --json the last line is one JSON object:
exact_match, course_score, edit_score, bleu4, minutes, steps, images_per_s, train_formulas, minutes_to_em.

With `--data crohme` it is the handwriting speedrun: CROHME's training set (all of it, or `--train N` files)
rendered and cleaned once per recipe (reported apart), dev held out by writer and formula (no dev formula occurs
in train), the model trained for M minutes and validated on that dev split (its exact match is the dev ExpRate),
then the whole 2014 test set decoded once, at the end, greedily and with the recipe's beam. The last --json
line holds exprate, exprate_le1, exprate_le2 (the recipe's beam), exprate_greedy, minutes, steps,
images_per_s, train_formulas and minutes_to_exprate. The test set chooses nothing.

Measure on idle cores, one run at a time: a second torch process on the same cores slows both many times.
"""
from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import torch

from ..data.dataset import load_split
from ..data.demo_set import prepare_demo
from ..data.synth.dataset import formula_kinds, mix_tag
from ..run.notebook import default_home, repo_root
from ..run.profiles import get_profile
from ..run.series import parse_parameter
from ..training.loop import train_model
from ..training.pretrain import train_with_pretraining
from ..training.validation import dev_scores
from . import handwriting
from .unseen import describe, score_unseen

THRESHOLDS = (10, 25, 50)


def prepare_data(home: Path, profile, pages: int, seed: int) -> Path:
    """The processed demo set for (pages, seed) under <home>/data/bench/, made once and then reused."""
    tag = mix_tag(profile.demo_mix, profile.demo_tex)
    return prepare_demo(home / "data" / "bench" / f"demo-p{pages}-s{seed}{tag}", profile, pages, seed)


def minutes_to(history: list[dict], thresholds=THRESHOLDS) -> dict[str, float | None]:
    """Minutes (wall, validation included) at which the validation exact match first reached each threshold."""
    out: dict[str, float | None] = {}
    for t in thresholds:
        hit = next((r for r in history if r["val_exact_match"] >= t), None)
        out[str(t)] = None if hit is None else round(hit["elapsed_s"] / 60, 2)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lib.bench learn", description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="demo", choices=("demo", "crohme"),
                    help="demo: the generated exam formulas; crohme: real handwriting, scored on its 2014 test set")
    ap.add_argument("--model", default="model2", choices=("model1", "model2"))
    ap.add_argument("--minutes", type=float, default=30.0, help="training wall time, validation included")
    ap.add_argument("--pages", type=int, default=None, help="demo pages (default: the cpu profile's)")
    ap.add_argument("--train", type=int, default=None, help="crohme: training files (default: all)")
    ap.add_argument("--with-demo", action="store_true",
                    help="crohme: train on CROHME and the demo set together (one vocabulary; dev and test CROHME's)")
    ap.add_argument("--test", type=int, default=None,
                    help="crohme: decode only N test files (for tests: the benchmark's figure is the whole set)")
    ap.add_argument("--pretrain-minutes", type=float, default=None,
                    help="crohme: the first minutes on the demo set (one vocabulary), then CROHME (default: the "
                         "recipe's pretrain_minutes; 0: from scratch); the same as --set pretrain_minutes=P")
    ap.add_argument("--seed", type=int, default=0, help="seed of the data set and of training")
    ap.add_argument("--data-seed", type=int, default=None,
                    help="demo: seed of the data set when it should differ from --seed (training seeds on one set)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--profile", default="cpu", help="the recipe (default cpu: the one make series runs)")
    ap.add_argument("--set", dest="changes", action="append", default=[], metavar="NAME=VALUE",
                    help="change one knob of the recipe, e.g. --set lr=1e-3 --set m2_width=64 (a lever to measure)")
    ap.add_argument("--unseen", type=int, default=400, metavar="N", help="demo: how many unseen formulas (400)")
    ap.add_argument("--no-unseen", action="store_true",
                    help="demo: skip the unseen formulas (arXiv formulas typeset by LaTeX: lib/bench/unseen.py)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    changes = dict(parse_parameter(c) for c in a.changes)
    if a.pretrain_minutes is not None:
        changes["pretrain_minutes"] = a.pretrain_minutes
    # the data's and the model's own part of the recipe, then the changes asked for (they win)
    profile = get_profile(a.profile).for_data(a.data).for_model(a.model).replace(per_model={}, per_data={}, max_steps=None,
                                                                                 **changes)
    if a.data == "crohme":
        return crohme_main(a, profile, changes)
    pages = a.pages or profile.demo_pages
    home = default_home(repo_root())
    data_seed = a.seed if a.data_seed is None else a.data_seed
    processed = prepare_data(home, profile, pages, data_seed)
    tag = "".join(f"-{k}={v}" for k, v in sorted(changes.items())).replace("/", "_")
    tag += f"-d{data_seed}" if data_seed != a.seed else ""
    out = home / "outputs" / "bench-learn" / f"{a.model}-{profile.name}-p{pages}-s{a.seed}{tag}"
    result, res = train_from_scratch(a, profile, processed, out)
    dev = dev_scores(result.best_path, processed, batch_size=profile.batch_size, max_len=profile.decode_limit,
                     max_pixels=profile.batch_pixels, groups=formula_kinds(processed.parent / "raw"))
    res = {"model": a.model, "profile": profile.name, "pages": pages, "seed": a.seed, "data_seed": data_seed,
           "changes": changes,
           "exact_match": round(dev["exact_match"], 2), "course_score": round(dev["course_score"], 2),
           "edit_score": round(dev["edit_score"], 2), "bleu4": round(dev["bleu4"], 2), "dev_formulas": dev["n"],
           "dev_by_kind": dev["by_group"], **res, "minutes_to_em": minutes_to(result.history)}
    unseen = score_unseen(result.best_path, home, n=a.unseen) if not a.no_unseen else {"skipped": "--no-unseen"}
    res.update({k: v for k, v in unseen.items() if k != "unseen_examples"} if "skipped" not in unseen
               else {"unseen_exact": None, "unseen_le2": None, "unseen_skipped": unseen["skipped"]})
    print(f"{a.model}, {profile.name} recipe, {pages} demo pages (data seed {data_seed}, training seed {a.seed}): "
          f"{res['train_formulas']} train "
          f"formulas, {res['minutes']} min, {res['steps']} steps, {res['images_per_s']} images/s, "
          f"{torch.get_num_threads()} threads")
    print(f"dev ({res['dev_formulas']} formulas, greedy, best.pt): exact match {res['exact_match']:.1f}, "
          f"edit score {res['edit_score']:.1f}, BLEU-4 {res['bleu4']:.1f}, course score {res['course_score']:.1f}; "
          "exact match by kind: " + ", ".join(f"{k} {v['exact_match']:.1f} ({v['n']})"
                                              for k, v in dev["by_group"].items()))
    print("\n".join(describe(unseen)))
    return finish(a, res, "validation exact match", res["minutes_to_em"])


def finish(a, res: dict, what: str, minutes: dict) -> int:
    """The last lines: the minutes to each threshold, and with --json the result as one JSON line."""
    print(f"minutes to {what} " + ", ".join(f"{k} %: {v if v is not None else 'not reached'}"
                                            for k, v in minutes.items()))
    if a.json:
        print(json.dumps(res, default=repr))  # a --set value as itself (false, 0.6); anything else as repr
    return 0


def train_from_scratch(a, profile, processed: Path, out: Path, minutes: float | None = None, **kw):
    """Train `a.model` on `processed` for `minutes` (default `a.minutes`; validation included) into a fresh
    `out` (`kw`: a start checkpoint `init_from`, a shared `vocab`); the run's result and its speed figures."""
    shutil.rmtree(out, ignore_errors=True)  # from scratch, every time
    result = train_model(a.model, processed, out, profile, seed=a.seed, epochs=10_000,
                         max_minutes=a.minutes if minutes is None else minutes, patience=10_000, **kw)
    return result, speed(result.history, processed)


def speed(hist: list[dict], processed: Path, offset_s: float = 0.0) -> dict:
    """Minutes, steps, images/s, epochs and the validation curve of a training history (after `offset_s`
    seconds of an earlier phase)."""
    train_s = sum(r["epoch_s"] for r in hist)
    return {"minutes": round((offset_s + hist[-1]["elapsed_s"]) / 60, 2), "steps": int(hist[-1]["step"]),
            "images_per_s": round(sum(r["images_per_s"] * r["epoch_s"] for r in hist) / max(train_s, 1e-9), 1),
            "train_formulas": len(load_split(processed, "train")), "epochs": len(hist),
            "threads": torch.get_num_threads(),
            "curve": [[round((offset_s + r["elapsed_s"]) / 60, 2), round(r["val_exact_match"], 1)] for r in hist]}


def demo_set(a, home: Path):
    """The demo recipe (the changes asked for applied) and its processed set, made once."""
    demo_profile = get_profile(a.profile).for_data("demo").for_model(a.model).replace(
        per_model={}, per_data={}, **{k: v for k, v in a.change_map.items()
                                      if k not in ("crohme_symbol_height", "pretrain_minutes")})
    return demo_profile, prepare_data(home, demo_profile, demo_profile.demo_pages, a.seed)


def pretrain_then_crohme(a, profile, processed: Path, out: Path, home: Path):
    """The recipe's `pretrain_minutes` P: P minutes on the demo set, then the rest of the minutes on CROHME from
    there, one vocabulary for both (lib/training/pretrain.py); (CROHME phase result, figures)."""
    shutil.rmtree(out, ignore_errors=True)
    demo = demo_set(a, home)[1]
    pre, result = train_with_pretraining(a.model, processed, out, profile, home=home, seed=a.seed, epochs=10_000,
                                         max_minutes=a.minutes, demo=demo, patience=10_000)
    pre_res = speed(pre.history, demo)
    offset = pre.history[-1]["elapsed_s"]
    res = speed(result.history, processed, offset)
    res["steps"] += pre_res["steps"]
    res["curve"] = pre_res["curve"] + res["curve"]
    res["pretrain"] = {k: pre_res[k] for k in ("minutes", "steps", "images_per_s", "train_formulas", "epochs")}
    for r in result.history:
        r["elapsed_s"] += offset  # minutes to a dev ExpRate count the pretraining
    return result, res


def crohme_main(a, profile, changes: dict) -> int:
    """The handwriting speedrun: train on CROHME, validate on the formula-held-out dev split, then score the
    whole 2014 test set once (greedy and the recipe's beam)."""
    root = repo_root()
    home = default_home(root)
    processed, made = handwriting.prepare_crohme(home, root, profile, a.train, a.seed, n_test=a.test)
    tag = "".join(f"-{k}={v}" for k, v in sorted(changes.items())).replace("/", "_")
    out = home / "outputs" / "bench-learn" / f"crohme-{a.model}-{profile.name}-t{a.train or 'all'}-s{a.seed}{tag}"
    a.change_map = changes
    if a.with_demo:
        processed = handwriting.mix_sets(processed.parent / "with-demo", processed, demo_set(a, home)[1])
        out = out.with_name(out.name + "-with-demo")
    if profile.pretrain_minutes:
        out = out.with_name(out.name + f"-pre{profile.pretrain_minutes:g}")
        result, res = pretrain_then_crohme(a, profile, processed, out, home)
    else:
        result, res = train_from_scratch(a, profile, processed, out)
    max_len = profile.decode_limit
    t0 = time.monotonic()
    test = handwriting.test_scores(result.best_path, processed, profile.beam, max_len)
    test_s = time.monotonic() - t0
    beam_key = f"beam{profile.beam}" if profile.beam > 1 else "greedy"
    best, greedy_m = test[beam_key], test["greedy"]
    hist = result.history
    res = {"data": "crohme", "test_set": handwriting.TEST_SET, "model": a.model, "profile": profile.name,
           "seed": a.seed, "changes": changes, "decoder": beam_key,
           "pretrain_minutes": profile.pretrain_minutes, "with_demo": a.with_demo,
           **{k: round(best[k], 2) for k in handwriting.KEYS},
           **{f"{k.replace('exprate', 'exprate_greedy')}": round(greedy_m[k], 2) for k in handwriting.KEYS},
           "test_formulas": best["n"], "dev_exprate": round(max(r["val_exact_match"] for r in hist), 2),
           **res, "minutes_to_exprate": minutes_to(hist),
           "splits": handwriting.split_summary(made["report"]), "data_seconds": made["seconds"],
           "test_seconds": round(test_s, 1),
           "symbol_height": profile.crohme_symbol_height, "dev_by": profile.crohme_dev_by,
           "parts_per_file": profile.crohme_parts, "composed": profile.crohme_composed}
    data_note = "reused" if made["reused"] else f"rendered and cleaned in {made['seconds']} s (not counted)"
    print(f"{a.model}, {profile.name} recipe on CROHME (seed {a.seed}): {res['train_formulas']} train formulas, "
          f"{res['minutes']} min, {res['epochs']} epochs, {res['steps']} steps, {res['images_per_s']} images/s, "
          f"{res['threads']} threads; data {data_note}")
    ov = (res["splits"]["overlap_with_train"] or {})
    print("dev / test formulas in train: " + ", ".join(
        f"{k} {v['in_train']}/{v['formulas']} ({v['share']} %)" for k, v in ov.items()))
    res["dev_minus_test"] = round(res["dev_exprate"] - res["exprate_greedy"], 2)  # both greedy: does dev predict test?
    print(f"dev ExpRate (validation, best epoch, greedy): {res['dev_exprate']:.1f}; test 2014 greedy "
          f"{res['exprate_greedy']:.1f}: dev - test {res['dev_minus_test']:+.1f} points (split by {profile.crohme_dev_by})")
    for name, m in test.items():
        print(f"test {handwriting.TEST_SET} ({m['n']} formulas, {name}): ExpRate {m['exprate']:.1f}, "
              f"<=1 {m['exprate_le1']:.1f}, <=2 {m['exprate_le2']:.1f}, {m['images_per_s']:.1f} images/s")
    return finish(a, res, "dev ExpRate", res["minutes_to_exprate"])
