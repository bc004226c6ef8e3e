"""The shared training loop: logs, checkpoints, best.pt, and a killed run resuming to the same result."""
from __future__ import annotations

import csv

import pytest
import torch

from lib import checkpoint
from lib.config import get_profile
from lib.train import TrainingInterrupted, train_model
from tests.fixtures import make_processed_dataset

TINY = dict(stages=1, d_model=16, layers=1, heads=2, ff=32, dropout=0.1)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_processed_dataset(tmp_path_factory.mktemp("processed"), n_train=12, n_dev=4, n_test=2, seed=1)


def _profile(**kw):
    return get_profile("smoke").replace(**{**dict(batch_size=4, max_minutes=None, val_limit=4,
                                                  checkpoint_minutes=1e6), **kw})


def _weights(path):
    return checkpoint.load(path)["model"]


def test_train_writes_logs_and_checkpoints(data, tmp_path):
    result = train_model("model2", data, tmp_path, _profile(), epochs=2, **TINY)
    assert result.epochs_run == 2 and result.best_path.exists() and result.last_path.exists()
    assert 0.0 <= result.best_metric <= 100.0
    rows = list(csv.DictReader(open(tmp_path / "log_epochs.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    for key in ("train_loss", "val_loss", "val_token_acc", "val_exact_match", "val_edit_score", "lr",
                "images_per_s", "epoch_s"):
        assert key in result.history[0] and rows[0][key] != ""
    assert len(list(csv.DictReader(open(tmp_path / "log_steps.csv")))) >= 2
    model, vocab, ckpt = checkpoint.load_model(result.best_path)
    assert ckpt["model_name"] == "model2" and model.hparams["d_model"] == 16 and len(vocab) > 4
    again = train_model("model2", data, tmp_path, _profile(), epochs=2, **TINY)  # finished: nothing to do
    assert again.history == result.history


@pytest.mark.parametrize("every_step", [False, True], ids=["resume-from-epoch-end", "resume-mid-epoch"])
def test_killed_run_resumes_to_the_same_result(data, tmp_path, every_step):
    extra = {"checkpoint_minutes": 0.0} if every_step else {}
    full = train_model("model2", data, tmp_path / "full", _profile(**extra), epochs=2, **TINY)
    per_epoch = full.history[0]["step"]
    kill_at = per_epoch + per_epoch // 2  # in the middle of epoch 2
    with pytest.raises(TrainingInterrupted):
        train_model("model2", data, tmp_path / "cut", _profile(**extra), epochs=2, stop_after_steps=kill_at, **TINY)
    assert checkpoint.load(tmp_path / "cut" / "last.pt")["step"] == (kill_at if every_step else per_epoch)
    resumed = train_model("model2", data, tmp_path / "cut", _profile(**extra), epochs=2, **TINY)
    drop = ("images_per_s", "epoch_s")
    strip = [[{k: v for k, v in row.items() if k not in drop} for row in r.history] for r in (full, resumed)]
    assert strip[0] == strip[1]
    a, b = _weights(full.last_path), _weights(resumed.last_path)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    steps = [int(r["step"]) for r in csv.DictReader(open(tmp_path / "cut" / "log_steps.csv"))]
    assert steps == sorted(set(steps)), "a resumed run must not log a step twice"
