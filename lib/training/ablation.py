"""Augmentation ablation: one model-2 run per pipeline (same seed, data, budget), a table, curves, the best arm.

Outputs under `<run>/ablation/`: `<arm>/` (the training folder of each arm: checkpoints, logs),
`results.json` (every arm, failures included, with its reason) and `best.json` for notebook 06, whose
"checkpoint" is relative to the run folder (`ablation/<arm>/best.pt`) so a moved run still finds it.
"""
from __future__ import annotations

import math
import time
import traceback
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..data.augment import PIPELINES
from ..run import atomic, records
from ..run.profiles import Profile
from ..run.tables import markdown_table
from .config import resolve_budget
from .loop import train_model
from .validation import dev_scores

SELECT_BY = ("course_score", "edit_score")  # dev metrics that pick the best arm (then the lower val loss)
TABLE_COLUMNS = ("arm", "epochs", "steps", "epoch_s", "val_loss", "val_exact_match", "val_edit_score",
                 "bleu4", "exact_match", "edit_score", "course_score")


def parse_arms(arms: str | Sequence[str]) -> list[str]:
    """'none,noise,...' (or a list) -> validated arm names, in order, without repeats."""
    names = [a.strip() for a in (arms.split(",") if isinstance(arms, str) else arms) if a.strip()]
    unknown = [a for a in names if a not in PIPELINES]
    if unknown or not names:
        raise ValueError(f"unknown or no arms {unknown or names!r}: choose from {', '.join(PIPELINES)}")
    return list(dict.fromkeys(names))


def summarize(arm: str, result, dev: dict) -> dict:
    """One results row: the validation figures of the best epoch, time per epoch, dev metrics, history."""
    hist = result.history
    best = max(hist, key=lambda r: r["val_edit_score"]) if hist else {}  # the epoch best.pt holds
    return {"arm": arm, "checkpoint": str(result.best_path), "epochs": result.epochs_run,
            "steps": hist[-1]["step"] if hist else 0,
            "best_epoch": best.get("epoch"), "wall_s": round(result.wall_s, 1),
            "epoch_s": float(np.mean([r["epoch_s"] for r in hist])) if hist else float("nan"),
            **{k: best.get(k) for k in ("val_loss", "val_exact_match", "val_edit_score")},
            **{k: dev[k] for k in ("bleu4", "exact_match", "edit_score", "course_score", "n")},
            "history": hist}


def pick_best(rows: Sequence[dict]) -> dict:
    """The arm with the best dev course score (then edit score, then lower validation loss)."""
    ok = [r for r in rows if "error" not in r]
    if not ok:
        raise RuntimeError("no ablation arm finished: " + "; ".join(f"{r['arm']}: {r['error']}" for r in rows))
    return max(ok, key=lambda r: (*(r[k] for k in SELECT_BY), -(r.get("val_loss") or math.inf)))


def write_outputs(out_dir: str | Path, rows: list[dict], meta: dict) -> dict | None:
    """results.json (every arm) and, when an arm finished, best.json; returns the best row."""
    out = Path(out_dir)
    ok = [r for r in rows if "error" not in r]
    best = pick_best(rows) if ok else None
    atomic.write_json(out / "results.json", {**meta, "select_by": [*SELECT_BY, "-val_loss"],
                                             "best": best and best["arm"], "arms": rows})
    if best is not None:
        ckpt = Path(best["checkpoint"])
        records.write_ablation_best(out, {
            "arm": best["arm"], "checkpoint": ckpt.relative_to(out.parent).as_posix()  # relative: the run may move
            if ckpt.is_relative_to(out.parent) else str(ckpt), "checkpoint_abs": str(ckpt),
            "select_by": [*SELECT_BY, "-val_loss"],
            "metrics": {k: best[k] for k in ("bleu4", "exact_match", "edit_score", "course_score", "n")},
            **{k: best[k] for k in ("val_loss", "val_exact_match", "val_edit_score", "epoch_s")},
            "epochs_run": best["epochs"],
            **meta})
    atomic.write_text(out / "table.md", table(rows, best and best["arm"]) + "\n")
    return best


def run_ablation(arms: str | Sequence[str], processed_dir: str | Path, out_dir: str | Path, profile: Profile, *,
                 seed: int = 0, epochs: int | None = None, max_minutes: float | None = None, device=None,
                 train: Callable | None = None, score: Callable | None = None, **overrides) -> list[dict]:
    """Train model 2 once per arm with the same seed, data and budget; write results.json and best.json.

    The budget: `epochs` (None: profile.ablation_epochs) and `max_minutes` of training per arm (None:
    profile.ablation_minutes; inf: no limit); validation and dev scoring use the first
    `profile.ablation_val_limit` (else `profile.val_limit`) dev images. With `profile.ablation_start` "model2"
    every arm continues notebook 04's `best.pt` (beside `out_dir`) instead of starting from scratch: a
    fine-tuning ablation, the only one two CPU cores have time for.
    A failing arm is recorded with its error and the others still run; the error is raised at the end.
    Each arm resumes from its own `last.pt` (train_model), so a rerun continues where it stopped.
    `train` and `score` default to lib.training.loop.train_model and `dev_scores` (tests pass stand-ins).
    """
    train = train or train_model
    score = score or dev_scores
    profile = profile.replace(max_steps=None)  # the arms' budget: ablation_epochs and ablation_minutes
    arms, out = parse_arms(arms), Path(out_dir)
    epochs, limit = resolve_budget(profile.for_model("model2"), epochs, max_minutes, ablation=True)
    val_limit = profile.ablation_val_limit or profile.val_limit
    overrides = {**profile.ablation_overrides, **overrides}
    overrides.setdefault("val_limit", val_limit)
    if profile.ablation_start == "model2":
        start = out.parent / "model2" / "best.pt"
        if not start.is_file():
            raise FileNotFoundError(f"{start}: the {profile.name} profile's arms continue notebook 04's model 2; "
                                    "run notebook 04 first")
        overrides["init_from"] = start
    elif profile.ablation_start != "scratch":
        raise ValueError(f"ablation_start={profile.ablation_start!r}: choose scratch or model2")
    meta = {"model": "model2", "profile": profile.name, "seed": seed, "budget_epochs": epochs,
            "budget_minutes": None if math.isinf(limit) else limit, "processed_dir": str(processed_dir),
            "start": profile.ablation_start, "overrides": {k: repr(v) for k, v in overrides.items()}}
    rows: list[dict] = []
    for i, arm in enumerate(arms, 1):
        print(f"=== arm {i}/{len(arms)}: {arm} ===", flush=True)
        t0 = time.monotonic()
        try:
            result = train("model2", processed_dir, out / arm, profile, augment=arm, seed=seed, epochs=epochs,
                           max_minutes=limit, device=device, **overrides)
            dev = score(result.best_path, processed_dir, device, limit=overrides["val_limit"],
                        batch_size=profile.batch_size, max_len=profile.decode_limit,
                        max_pixels=profile.batch_pixels)
            rows.append(summarize(arm, result, dev))
        except Exception as e:  # the other arms still run; the failure is recorded and re-raised at the end
            traceback.print_exc()
            rows.append({"arm": arm, "error": f"{type(e).__name__}: {e}"})
        print(f"{arm}: {time.monotonic() - t0:.0f} s", flush=True)
        write_outputs(out, rows, meta)
    failed = [r for r in rows if "error" in r]
    if failed:
        raise RuntimeError("ablation arm(s) failed (see results.json): "
                           + "; ".join(f"{r['arm']}: {r['error']}" for r in failed))
    return rows


def table(rows: Sequence[dict], best: str | None = None) -> str:
    """Markdown table of the arms (dev metrics from greedy decoding of best.pt), the best one marked."""
    shown = [{**{k: r.get(k, "") for k in TABLE_COLUMNS}, "arm": r["arm"] + (" (best)" if r["arm"] == best else "")}
             if "error" not in r else {"arm": r["arm"], "epochs": "failed: " + r["error"]} for r in rows]
    return markdown_table(shown, TABLE_COLUMNS)
