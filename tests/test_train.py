"""The shared training loop: logs, checkpoints, best.pt, and a killed run resuming to the same result."""
from __future__ import annotations

import csv
import time

import pytest
import torch

from lib.run.profiles import get_profile
from lib.models import checkpoint
from lib.training.loop import ResumeRefused, TrainingInterrupted, train_model
from tests.fixtures import make_processed_dataset

TINY = dict(stages=1, d_model=16, layers=1, heads=2, ff=32, dropout=0.1)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_processed_dataset(tmp_path_factory.mktemp("processed"), n_train=12, n_dev=4, n_test=2, seed=1)


def _profile(**kw):
    return get_profile("smoke").replace(**{**dict(batch_size=4, max_minutes=None, val_limit=4,
                                                  checkpoint_minutes=1e6), **kw})


def _weights(path):
    return checkpoint.load(path).weights


def test_train_writes_logs_and_checkpoints(data, tmp_path, capsys):
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
    assert ckpt.model_name == "model2" and model.hparams["d_model"] == 16 and len(vocab) > 4
    again = train_model("model2", data, tmp_path, _profile(), epochs=2, **TINY)  # finished: nothing to do
    assert again.history == result.history and again.epochs_this_session == 0 and result.epochs_this_session == 2
    assert "nothing to train, the run has finished (2 of 2 epochs)" in capsys.readouterr().out
    with pytest.raises(ResumeRefused, match="nothing to train"):   # what `python -m lib.train` exits 3 on
        train_model("model2", data, tmp_path, _profile(), epochs=2, finished_ok=False, **TINY)
    # a setting that reshapes the run's schedule is refused, naming it, unless asked for
    with pytest.raises(ResumeRefused, match=r"epochs 2 -> 3; lr 0.001 -> 0.0005"):
        train_model("model2", data, tmp_path, _profile(lr=5e-4), epochs=3, **TINY)
    more = train_model("model2", data, tmp_path, _profile(), epochs=3, allow_changes=True, **TINY)
    assert more.epochs_this_session == 1 and more.epochs_run == 3
    assert "resuming with changed settings: epochs 2 -> 3" in capsys.readouterr().out
    # what may change without reshaping it: patience, workers, checkpoint minutes
    train_model("model2", data, tmp_path, _profile(patience=9, checkpoint_minutes=5.0), epochs=3, **TINY)


@pytest.mark.parametrize("every_step", [False, True], ids=["resume-from-epoch-end", "resume-mid-epoch"])
def test_killed_run_resumes_to_the_same_result(data, tmp_path, every_step):
    extra = {"checkpoint_minutes": 0.0} if every_step else {}
    full = train_model("model2", data, tmp_path / "full", _profile(**extra), epochs=2, **TINY)
    per_epoch = full.history[0]["step"]
    kill_at = per_epoch + per_epoch // 2  # in the middle of epoch 2
    with pytest.raises(TrainingInterrupted):
        train_model("model2", data, tmp_path / "cut", _profile(**extra), epochs=2, stop_after_steps=kill_at, **TINY)
    assert checkpoint.load(tmp_path / "cut" / "last.pt").step == (kill_at if every_step else per_epoch)
    resumed = train_model("model2", data, tmp_path / "cut", _profile(**extra), epochs=2, **TINY)
    drop = ("images_per_s", "epoch_s", "elapsed_s")
    strip = [[{k: v for k, v in row.items() if k not in drop} for row in r.history] for r in (full, resumed)]
    assert strip[0] == strip[1]
    a, b = _weights(full.last_path), _weights(resumed.last_path)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    steps = [int(r["step"]) for r in csv.DictReader(open(tmp_path / "cut" / "log_steps.csv"))]
    assert steps == sorted(set(steps)), "a resumed run must not log a step twice"


def test_bucket_sampler_covers_every_image_once_per_epoch():
    from lib.data.dataset import BucketBatchSampler

    sizes = [(60, 40)] * 7 + [(80, 40)] * 5 + [(140, 60)] * 3
    s = BucketBatchSampler(sizes, batch_size=2, shuffle=True, seed=3)
    orders = []
    for epoch in range(3):
        s.set_epoch(epoch)
        batches = list(s)
        assert len(batches) == len(s) == 4 + 3 + 2
        assert sorted(i for b in batches for i in b) == list(range(15))
        assert all(len({sizes[i] for i in b}) == 1 for b in batches)  # one size per batch
        orders.append(batches)
    assert orders[0] != orders[1]  # reshuffled every epoch
    s.set_epoch(1, start=4)
    assert list(s) == orders[1][4:] and len(s) == 5


def test_collate_pads_white_with_mask():
    from lib.data.dataset import collate
    from lib.data.vocab import PAD_ID

    a, b = torch.zeros(1, 4, 6), torch.zeros(1, 3, 8)
    batch = collate([(a, [1, 5, 2], "a.png"), (b, [1, 5, 6, 7, 2], "b.png")])
    assert batch["images"].shape == (2, 1, 4, 8) and batch["mask"].shape == (2, 4, 8)
    assert batch["images"][0, 0, :, 6:].eq(1).all() and not batch["mask"][0, :, 6:].any()
    assert batch["mask"][1, :3].all() and not batch["mask"][1, 3].any()
    assert batch["tgt"][0].tolist() == [1, 5, 2, PAD_ID, PAD_ID] and batch["names"] == ["a.png", "b.png"]


def test_a_buckets_batch_has_no_mask():
    from lib.data.dataset import collate

    batch = collate([(torch.zeros(1, 4, 8), [1, 2], "a.png"), (torch.zeros(1, 4, 8), [1, 5, 2], "b.png")])
    assert batch["mask"] is None and batch["images"].shape == (2, 1, 4, 8)


@pytest.mark.parametrize("name", ["model1", "model2"])
def test_training_forward_asks_the_device_nothing(name, monkeypatch):
    """A training step's forward on a bucket's batch reads no tensor value on the host (each such read is a
    device sync on a GPU): the loop's one sync per log interval stays the only one."""
    from lib.data.dataset import collate
    from lib.models import model_from_profile
    from lib.run.profiles import get_profile

    torch.manual_seed(0)
    model = model_from_profile(name, 12, get_profile("smoke")).train()
    batch = collate([(torch.rand(1, 32, 64), [1, 5, 6, 2], f"{i}.png") for i in range(3)])
    reads = []
    for attr in ("__bool__", "item", "tolist", "__int__", "__float__", "numpy"):
        original = getattr(torch.Tensor, attr)

        def spy(self, *a, _original=original, _attr=attr, **k):
            reads.append(_attr)
            return _original(self, *a, **k)
        monkeypatch.setattr(torch.Tensor, attr, spy)
    logits = model(batch["images"], batch["tgt"][:, :-1], batch["mask"])
    logits.float().mean().backward()
    monkeypatch.undo()
    assert reads == []


def test_precision_follows_compute_capability(monkeypatch):
    from lib.run import precision

    assert precision.choose("cpu").amp_dtype is None
    for major, dtype, scaler in ((8, torch.bfloat16, False), (9, torch.bfloat16, False), (7, torch.float16, True)):
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d=None, m=major: (m, 5))
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)  # must not matter
        p = precision.choose("cuda")
        assert (p.amp_dtype, p.use_scaler) == (dtype, scaler)


def test_schedules():
    from lib.training.config import TrainConfig
    from lib.training.schedule import lr_factor, progress

    step = [lr_factor(TrainConfig(schedule="step"), epoch, 0, 0.0) for epoch in range(12)]
    assert step[:5] == [1.0] * 5 and step[5:10] == [0.5] * 5 and step[10] == 0.25
    cfg = TrainConfig(schedule="cosine", epochs=2, warmup_steps=5, final_lr=0.0)
    cos = [lr_factor(cfg, s // 10, s, progress(cfg, s, 10, 0.0)) for s in range(20)]
    assert cos[0] == pytest.approx(0.2 * lr_factor(cfg, 0, 0, 0.0) / 0.2) and cos[4] > 0.85 and cos[-1] < 0.05
    assert all(a >= b for a, b in zip(cos[4:], cos[5:]))
    # a time budget: the run is as far as the further of its steps and its minutes
    timed = TrainConfig(schedule="cosine", epochs=100, max_minutes=10.0, final_lr=0.1)
    assert progress(timed, 10, 10, 300.0) == pytest.approx(0.5)
    assert lr_factor(timed, 1, 1000, progress(timed, 1000, 10, 600.0)) == pytest.approx(0.1)
    assert progress(TrainConfig(epochs=4, max_minutes=float("inf")), 20, 10, 1e9) == pytest.approx(0.5)
    assert lr_factor(TrainConfig(schedule="constant", warmup_steps=4), 3, 1, 0.9) == pytest.approx(0.5)
    # a step budget: the steps alone, whatever the clock says
    stepped = TrainConfig(schedule="cosine", epochs=100, max_minutes=10.0, max_steps=400)
    assert progress(stepped, 100, 10, 599.0) == pytest.approx(0.25) and progress(stepped, 800, 10, 0.0) == 1.0
    # lr_hold: the peak held for that share of the run, then the whole cosine in the rest, ending at final_lr
    held = TrainConfig(schedule="cosine", epochs=100, max_minutes=10.0, warmup_steps=10, final_lr=0.1, lr_hold=0.6)
    at = {t: lr_factor(held, 0, 500, t) for t in (0.3, 0.6, 0.8, 1.0)}
    assert at[0.3] == at[0.6] == 1.0 and at[1.0] == pytest.approx(0.1)
    assert at[0.8] == pytest.approx(lr_factor(timed, 0, 500, 0.5)) == pytest.approx(0.55)
    assert lr_factor(held, 0, 4, 0.0) == pytest.approx(0.5)  # the warm-up still comes first
    for bad in (1.0, -0.1):
        with pytest.raises(ValueError, match="lr_hold"):
            lr_factor(TrainConfig(schedule="cosine", lr_hold=bad), 0, 0, 0.5)
    with pytest.raises(ValueError, match="unknown schedule"):
        lr_factor(TrainConfig(schedule="nope"), 0, 0, 0.0)


def test_resolve_budget():
    import math

    from lib.training.config import resolve_budget

    smoke = get_profile("smoke")
    assert resolve_budget(smoke) == (smoke.epochs, smoke.max_minutes)
    assert resolve_budget(smoke, ablation=True) == (smoke.ablation_epochs, smoke.ablation_minutes)
    assert resolve_budget(smoke, 3, "inf") == (3, math.inf)
    assert resolve_budget(get_profile("gpu")) == (40, 30.0)  # the gpu profile: epochs, capped by minutes
    assert resolve_budget(get_profile("gpu").replace(max_minutes=None)) == (40, math.inf)
    with pytest.raises(ValueError, match="epochs >= 1"):
        resolve_budget(smoke, 0)


def test_cosine_run_ends_at_a_low_learning_rate_when_its_minutes_end(data, tmp_path):
    import time

    from lib.training import loop

    real = time.monotonic
    clock = {"t": real()}

    def fake_monotonic():  # every call: one more second of "training"
        clock["t"] += 1.0
        return clock["t"]

    loop.time.monotonic = fake_monotonic
    try:
        result = train_model("model2", data, tmp_path, _profile(schedule="cosine", warmup_steps=1, final_lr=0.05),
                             epochs=1000, max_minutes=2.0, log_every=1, **TINY)
    finally:
        loop.time.monotonic = real
    lrs = [float(r["lr"]) for r in csv.DictReader(open(tmp_path / "log_steps.csv"))]
    assert len(result.history) >= 2 and max(lrs) == pytest.approx(_profile().lr, rel=0.1)
    assert lrs[-1] <= 0.25 * _profile().lr  # stopped by its minutes, near the bottom of the cosine


def test_early_stopping(data, tmp_path):
    result = train_model("model2", data, tmp_path, _profile(patience=1), epochs=6, lr=0.0, **TINY)
    assert result.epochs_run == 2  # lr 0: the second epoch cannot improve, patience 1 stops


def test_early_stopping_waits_while_the_loss_improves(data, tmp_path, monkeypatch):
    scripted = iter([(10.0, 3.0), (9.0, 2.5), (9.5, 2.6), (20.0, 1.0)])   # (edit score, val loss) per epoch

    def fake_validate(*args, **kwargs):
        edit, loss = next(scripted)
        return {"val_loss": loss, "val_token_acc": 0.0, "val_exact_match": 0.0, "val_edit_score": edit}

    monkeypatch.setattr("lib.training.loop.validate", fake_validate)
    result = train_model("model2", data, tmp_path, _profile(patience=1), epochs=6, **TINY)
    # epoch 2: edit score worse but loss better -> go on; epoch 3: neither better -> stop
    assert result.epochs_run == 3 and result.best_metric == 10.0


def test_a_run_can_start_on_another_set_with_one_vocabulary(tmp_path):
    """pretrain_minutes: the first minutes on the demo set, then the run's data from those weights; both phases
    resume; notebook 05's arms can continue the result on the run's own data."""
    from lib.data.dataset import load_vocab
    from lib.models.checkpoint import load as load_ckpt
    from lib.training.pretrain import PRETRAIN_DIR, train_with_pretraining

    demo = make_processed_dataset(tmp_path / "demo", n_train=8, n_dev=2, n_test=1, seed=3)
    own = make_processed_dataset(tmp_path / "own", n_train=8, n_dev=2, n_test=1, seed=4)
    profile = _profile(pretrain_minutes=0.02, max_minutes=0.06, val_limit=2)
    pre, result = train_with_pretraining("model2", own, tmp_path / "model2", profile, home=tmp_path, demo=demo)
    assert pre is not None and pre.out_dir == tmp_path / "model2" / PRETRAIN_DIR and pre.epochs_run >= 1
    ckpt = load_ckpt(result.best_path)
    vocab = set(ckpt.vocab)
    assert set(load_vocab(own).itos) <= vocab and set(load_vocab(demo).itos) <= vocab   # one vocabulary for both
    assert ckpt.config["init_from"] == str(pre.last_path)
    again = train_with_pretraining("model2", own, tmp_path / "model2", profile, home=tmp_path, demo=demo)[1]
    assert again.history == result.history                                         # a finished run returns as it was
    arm = train_model("model2", own, tmp_path / "arm", _profile(val_limit=2), epochs=1, init_from=result.best_path)
    assert set(load_ckpt(arm.best_path).vocab) == vocab                         # continued with that vocabulary
    with pytest.raises(ValueError, match="leaves nothing"):
        train_with_pretraining("model2", own, tmp_path / "x", _profile(pretrain_minutes=1.0, max_minutes=0.5),
                               home=tmp_path, demo=demo)


def test_a_step_budget_gives_the_same_model_on_any_machine_and_the_minutes_only_cap_it(data, tmp_path, capsys):
    """`max_steps`: the run ends at that step and its learning rate follows the steps alone, so the same seed gives
    the same weights bit for bit whatever the clock says; a minutes cap that cuts the run says so."""
    import lib.training.loop as loop

    profile = _profile(max_steps=5, max_minutes=30.0, warmup_steps=2)
    a = train_model("model2", data, tmp_path / "a", profile, epochs=50, **TINY)
    real = time.monotonic
    slow = {"t": 0.0}

    def slow_clock():  # a machine that takes 7 s per call: the schedule must not notice
        slow["t"] += 7.0
        return real() + slow["t"]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(loop.time, "monotonic", slow_clock)
        b = train_model("model2", data, tmp_path / "b", _profile(max_steps=5, max_minutes=1e6, warmup_steps=2),
                        epochs=50, **TINY)
    assert a.history[-1]["step"] == b.history[-1]["step"] == 5
    assert [r["lr"] for r in a.history] == [r["lr"] for r in b.history]
    wa, wb = _weights(a.last_path), _weights(b.last_path)
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=0, atol=0)
    capsys.readouterr()
    with pytest.MonkeyPatch.context() as mp:  # a cap that cuts the run: trained less, and it says so
        mp.setattr(loop.time, "monotonic", slow_clock)
        cut = train_model("model2", data, tmp_path / "c", _profile(max_steps=500, max_minutes=0.5, warmup_steps=2),
                          epochs=50, **TINY)
    assert cut.history[-1]["step"] < 500
    assert "cap ended this run at step" in capsys.readouterr().out
