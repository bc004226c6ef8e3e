"""Ablation: arms parsed, best picked by dev course score, failures recorded, a real two-arm run end to end."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import matplotlib
import pytest

from lib.run.profiles import get_profile
from lib.training import ablation
from lib.viz import ablation as ablation_figures
from tests.fixtures import make_processed_dataset

matplotlib.use("Agg")


def test_parse_arms():
    assert ablation.parse_arms("none, noise,,scale,none") == ["none", "noise", "scale"]
    assert ablation.parse_arms(["all"]) == ["all"]
    for bad in ("none,rotate", "", " , "):
        with pytest.raises(ValueError, match="choose from"):
            ablation.parse_arms(bad)


def row(arm, course, edit, loss):
    return {"arm": arm, "course_score": course, "edit_score": edit, "val_loss": loss}


def test_pick_best_by_course_score_then_edit_score_then_loss():
    rows = [row("none", 10, 50, 1.0), row("scale", 12, 40, 2.0), {"arm": "blur", "error": "boom"}]
    assert ablation.pick_best(rows)["arm"] == "scale"
    rows = [row("none", 0, 30, 1.0), row("noise", 0, 30, 0.5), row("blur", 0, 20, 0.1)]
    assert ablation.pick_best(rows)["arm"] == "noise"
    with pytest.raises(RuntimeError, match="blur: boom"):
        ablation.pick_best([{"arm": "blur", "error": "boom"}])


def fake_train(model_name, processed_dir, out_dir, profile, *, augment, seed, epochs, max_minutes, device,
               val_limit):
    """A stand-in for train_model: fails on `blur`, otherwise 'trains' two epochs."""
    if augment == "blur":
        raise ValueError("synthetic failure")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "best.pt").write_bytes(b"")
    good = {"none": 40.0, "scale": 60.0}[augment]
    hist = [{"epoch": e, "step": 3 * e, "train_loss": 2.0 / e, "val_loss": 1.5 / e, "val_exact_match": 0.0,
             "val_edit_score": good * e / 2, "epoch_s": 1.0 + e} for e in (1, 2)]
    return SimpleNamespace(best_path=out_dir / "best.pt", best_metric=good, epochs_run=2, wall_s=3.0, history=hist)


def fake_score(ckpt, processed_dir, device, limit, batch_size, max_len, max_pixels=None):
    edit = 60.0 if "scale" in str(ckpt) else 40.0
    return {"bleu4": edit / 2, "exact_match": 0.0, "edit_score": edit, "course_score": edit / 2, "n": 4}


def test_a_failing_arm_is_recorded_the_others_run_and_the_error_is_raised(tmp_path):
    out = tmp_path / "ablation"
    with pytest.raises(RuntimeError, match="blur: ValueError: synthetic failure"):
        ablation.run_ablation("none,blur,scale", tmp_path / "data", out, get_profile("smoke"), seed=3,
                              train=fake_train, score=fake_score)
    results = json.loads((out / "results.json").read_text())
    assert [r["arm"] for r in results["arms"]] == ["none", "blur", "scale"]
    assert results["arms"][1]["error"] == "ValueError: synthetic failure" and results["best"] == "scale"
    best = json.loads((out / "best.json").read_text())
    assert best["arm"] == "scale" and best["checkpoint_abs"] == str(out / "scale" / "best.pt")
    assert best["checkpoint"] == "ablation/scale/best.pt" and best["metrics"]["course_score"] == 30.0
    assert best["seed"] == 3 and best["epochs_run"] == 2 and best["budget_epochs"] == 1 and best["val_edit_score"] == 60.0
    scale = results["arms"][2]
    assert scale["best_epoch"] == 2 and scale["epoch_s"] == 2.5 and scale["val_loss"] == 0.75 and scale["steps"] == 6
    text = ablation.table(results["arms"], best="scale")
    assert "scale (best)" in text and "failed: ValueError" in text


def test_a_real_arm_end_to_end(tmp_path):
    """train_model + dev decoding + best.json on a tiny dataset (mixup: the arm that needs the pair path)."""
    data = make_processed_dataset(tmp_path / "processed", n_train=4, n_dev=2, n_test=1)
    profile = get_profile("smoke", batch_size=4, val_limit=2, m2_stages=2)  # small and quick
    out = tmp_path / "run" / "ablation"
    rows = ablation.run_ablation(["mixup"], data, out, profile, seed=0, epochs=1, max_minutes=1.0)
    assert [r["arm"] for r in rows] == ["mixup"]
    for r in rows:
        assert Path(r["checkpoint"]).is_file() and r["epochs"] == 1 and r["n"] == 2
        assert 0.0 <= r["course_score"] <= 100.0 and r["val_loss"] > 0
    best = json.loads((out / "best.json").read_text())
    assert best["arm"] == "mixup" and (out.parent / best["checkpoint"]).is_file()
    assert set(best["metrics"]) == {"bleu4", "exact_match", "edit_score", "course_score", "n"}
    assert ablation_figures.plot_curves(rows).axes
    assert ablation_figures.gallery(ablation_figures.sample_images(data, 2)).axes


def test_arms_can_continue_model_2(tmp_path):
    """ablation_start="model2": each arm starts from notebook 04's best.pt (here: with lr 0 it stays there)."""
    import torch

    from lib.models import checkpoint
    from lib.training.loop import train_model

    data = make_processed_dataset(tmp_path / "processed", n_train=4, n_dev=2, n_test=1)
    profile = get_profile("smoke", batch_size=4, val_limit=2, m2_stages=2, ablation_start="model2",
                          ablation_overrides={"lr": 0.0})
    out = tmp_path / "run" / "ablation"
    with pytest.raises(FileNotFoundError, match="run notebook 04 first"):
        ablation.run_ablation(["none"], data, out, profile, epochs=1, max_minutes=1.0)
    start = train_model("model2", data, tmp_path / "run" / "model2", profile, epochs=1).best_path
    rows = ablation.run_ablation(["none"], data, out, profile, epochs=1, max_minutes=1.0)
    arm = checkpoint.load(rows[0]["checkpoint"])
    assert arm.config["init_from"] == str(start)
    before = checkpoint.load(start).weights
    for k, v in arm.weights.items():
        if v.dtype.is_floating_point and "running" not in k:  # batch-norm statistics still move in train mode
            torch.testing.assert_close(v, before[k])
